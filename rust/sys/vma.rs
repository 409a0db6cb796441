// SPDX-License-Identifier: GPL-2.0

//! What an `mmap()` of the iommufd file needs beyond the 7.3 kernel
//! crate's `VmaNew`: the VMA's page offset, and a reference the VMA keeps
//! for as long as it (or any VMA split or copied from it) exists, through
//! `vm_ops` `open` and `close`, as C drivers keep theirs in
//! `vm_private_data`. And the pages a driver lends user space this way.

use core::marker::PhantomData;
use kernel::{
    bindings,
    mm::virt::{VmaMixedMap, VmaNew, VmaRef},
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The VMA's `vm_pgoff`: the `mmap()` offset, in pages.
pub(crate) fn pgoff(vma: &VmaRef) -> usize {
    // SAFETY: `VmaRef` holds the mmap or VMA read lock, under which
    // `vm_pgoff` does not change.
    unsafe { (*vma.as_ptr()).vm_pgoff }
}

/// Zeroed pages a driver lets user space map through the iommufd file
/// (upstream's `iommufd_viommu_alloc_mmap()` of an MMIO range), for a
/// driver whose "registers" are memory: the mock vIOMMU's.
///
/// # Invariants
///
/// The pages are mapped into user space only through [`MapPages::map`],
/// which takes them shared; while the caller has them by `&mut`, no
/// mapping and no other reference to them exists.
pub(crate) struct MapPages(KVec<Page>);

impl MapPages {
    /// `count` zeroed pages.
    pub(crate) fn new(count: usize) -> Result<Self> {
        let mut pages = KVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..count {
            pages.push(
                Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?,
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        Ok(Self(pages))
    }

    /// Bytes they span.
    pub(crate) fn len(&self) -> usize {
        self.0.len() * PAGE_SIZE
    }

    /// Writes `data` at byte `offset` of the first page (`EINVAL` past
    /// it), before the pages are lent.
    pub(crate) fn write(&mut self, offset: usize, data: &[u8]) -> Result {
        let page = self.0.first().ok_or(EINVAL)?;
        // SAFETY: `data` is valid for its length; by the type invariant no
        // mapping or other reference reads the page while we hold `&mut`.
        unsafe { page.write_raw(data.as_ptr(), offset, data.len()) }
    }

    /// Maps the pages into `vma`, which must span them exactly (`ENXIO`
    /// otherwise), as memory-mapped IO: no `fork()` copy of the mapping
    /// grows it, no core dump reads it, `get_user_pages()` refuses it.
    pub(crate) fn map(&self, vma: &VmaNew) -> Result {
        if vma.end() - vma.start() != self.len() {
            return Err(ENXIO);
        }
        vma.set_io();
        vma.set_dontexpand();
        vma.set_dontdump();
        let mixed: &VmaMixedMap = vma.set_mixedmap();
        for (index, page) in self.0.iter().enumerate() {
            // Each page gets a reference of the mapping's own, so it
            // outlives these pages if the mapping does.
            mixed.vm_insert_page(vma.start() + index * PAGE_SIZE, page)?;
        }
        Ok(())
    }
}

/// Has `vma` keep `data` for its lifetime: every VMA split or copied from
/// it takes a reference of its own (`open`), each drops its own when it is
/// unmapped (`close`). Call it last in the `mmap` hook: a failed `mmap`
/// runs no `close`.
pub(crate) fn keep<T: Send + Sync + 'static>(vma: &VmaNew, data: Arc<T>) {
    let vma = vma.as_ptr();
    // SAFETY: the VMA is being set up in the `mmap` hook (`VmaNew`), so no
    // one else reads or writes these fields; `Keep::<T>::OPS` is static
    // and its callbacks expect exactly this `vm_private_data`.
    unsafe {
        (*vma).vm_private_data = Arc::into_raw(data).cast_mut().cast();
        (*vma).vm_ops = Keep::<T>::OPS;
    }
}

/// The `vm_ops` of VMAs that keep an `Arc<T>` (see [`keep`]).
struct Keep<T>(PhantomData<T>);

impl<T: Send + Sync + 'static> Keep<T> {
    const TABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        ..pin_init::zeroed()
    };
    const OPS: &'static bindings::vm_operations_struct = &Self::TABLE;

    /// A VMA was split or copied from one of ours: the copy's
    /// `vm_private_data` is the same reference, which it now owns too.
    ///
    /// # Safety
    ///
    /// Only the MM core calls this, on a VMA whose `vm_ops` we set.
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: the VMA it was copied from owns a reference made by
        // `Arc::into_raw` in `keep` (or here), alive while that VMA is.
        let data = unsafe { ArcBorrow::from_raw((*vma).vm_private_data.cast::<T>()) };
        let _ = Arc::into_raw(Arc::from(data));
    }

    /// A VMA of ours is unmapped: its reference goes.
    ///
    /// # Safety
    ///
    /// Only the MM core calls this, once per VMA whose `vm_ops` we set.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: the VMA owned this reference (from `keep` or `open`);
        // nothing uses it after `close`.
        drop(unsafe { Arc::from_raw((*vma).vm_private_data.cast::<T>()) });
    }
}
