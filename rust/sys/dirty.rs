// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking on paging domains: the driver's dirty ops
//! (`struct iommu_dirty_ops`) and the kernel's IOVA bitmap
//! (drivers/iommu/iommufd/iova_bitmap.c, exported in namespace `IOMMUFD`
//! by kernels with `CONFIG_IOMMUFD_DRIVER`), which the driver's
//! `read_and_clear_dirty` fills: it pins the user's bitmap a window at a
//! time and sets the bits of the IOVA ranges reported dirty.

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    prelude::*,
    types::Opaque,
    uaccess::UserPtr,
};

use super::iommu::MappedDomain;

#[expect(
    improper_ctypes,
    reason = "kernel structures behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    /// helpers.c: `iommu_dirty_bitmap_init()`, a static inline.
    fn rust_iommufd_dirty_bitmap_init(
        dirty: *mut bindings::iommu_dirty_bitmap,
        bitmap: *mut bindings::iova_bitmap,
        gather: *mut bindings::iommu_iotlb_gather,
    );
    /// helpers.c: `iommu_iotlb_sync()`, a static inline.
    fn rust_iommufd_iotlb_sync(
        domain: *mut bindings::iommu_domain,
        gather: *mut bindings::iommu_iotlb_gather,
    );
}

/// A bitmap in the calling process's memory in which bit n (from bit 0 of
/// the first `u64`) stands for the IOVA range `[iova + n * page_size,
/// iova + (n + 1) * page_size)`.
///
/// # Invariants
///
/// The pointer is an `iova_bitmap` from `iova_bitmap_alloc()`, owned by
/// this value; drop frees it, unpinning the user pages it has pinned.
pub(crate) struct IovaBitmap(NonNull<bindings::iova_bitmap>);

impl IovaBitmap {
    /// The bitmap at user address `data` for `length` bytes of IOVA from
    /// `iova`. Nothing is pinned yet: the pages of the bitmap are pinned
    /// (in the calling process) as bits are set, so only the ioctl's own
    /// task may use it. `page_size` is used by its lowest set bit, as
    /// upstream's; it and `length` must not be 0 (`EINVAL`). Any failure
    /// of the allocation is `ENOMEM`, as upstream.
    pub(crate) fn new(iova: u64, length: u64, page_size: u64, data: u64) -> Result<Self> {
        if page_size == 0 || length == 0 {
            return Err(EINVAL);
        }
        let to_ulong = |value: u64| c_ulong::try_from(value).map_err(|_| EOVERFLOW);
        let (iova, page_size) = (to_ulong(iova)?, to_ulong(page_size)?);
        let length = usize::try_from(length).map_err(|_| EOVERFLOW)?;
        let data = UserPtr::from_addr(usize::try_from(data).map_err(|_| EOVERFLOW)?);
        // SAFETY: a plain allocation; `page_size` and `length` are not 0
        // (`__ffs(0)` is undefined), and `data` is only ever pinned with
        // `pin_user_pages_fast()`, which checks it is a user address.
        let bitmap = unsafe {
            bindings::iova_bitmap_alloc(iova, length, page_size, data.as_mut_ptr().cast())
        };
        let bitmap = from_err_ptr(bitmap).map_err(|_| ENOMEM)?;
        // INVARIANT: a fresh bitmap, ours alone.
        NonNull::new(bitmap).map(Self).ok_or(ENOMEM)
    }
}

impl Drop for IovaBitmap {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the bitmap; nothing records
        // into it any more (a `DirtyRecorder` borrows it).
        unsafe { bindings::iova_bitmap_free(self.0.as_ptr()) }
    }
}

/// Where a driver's `read_and_clear_dirty` reports: a bitmap, if any, and
/// the IOTLB gather of the entries it cleared. Made by [`record`], which
/// flushes the gather when done; only shared references to it are handed
/// out, so it stays where the gather's self-pointing list was set up.
pub(crate) struct DirtyRecorder<'a> {
    dirty: Opaque<bindings::iommu_dirty_bitmap>,
    gather: Opaque<bindings::iommu_iotlb_gather>,
    _bitmap: PhantomData<&'a IovaBitmap>,
}

/// Runs `f` with a recorder that sets bits in `bitmap` (`None`: clears
/// the page table's dirty bits without reporting them), then, with
/// `sync`, flushes `domain`'s IOTLB for the entries the reads cleared.
pub(crate) fn record<'a, R>(
    domain: &MappedDomain,
    bitmap: Option<&'a IovaBitmap>,
    sync: bool,
    f: impl FnOnce(&DirtyRecorder<'a>) -> R,
) -> R {
    let recorder = DirtyRecorder {
        dirty: Opaque::zeroed(),
        gather: Opaque::zeroed(),
        _bitmap: PhantomData,
    };
    let raw_bitmap = bitmap.map_or(core::ptr::null_mut(), |b| b.0.as_ptr());
    // SAFETY: both fields are valid for writes; `recorder` does not move
    // until the end of this function (only `&recorder` is lent out), so
    // the pointers the init stores (the gather's freelist points to
    // itself, the dirty bitmap to the gather) stay valid for its life;
    // `raw_bitmap` is NULL or a live bitmap that outlives `'a`.
    unsafe {
        rust_iommufd_dirty_bitmap_init(recorder.dirty.get(), raw_bitmap, recorder.gather.get())
    };
    let result = f(&recorder);
    if sync {
        // SAFETY: a live domain (`MappedDomain`'s invariant) and the
        // gather its reads filled.
        unsafe { rust_iommufd_iotlb_sync(domain.as_ptr(), recorder.gather.get()) };
    }
    result
}

impl MappedDomain {
    /// The driver's dirty ops of this domain: set at allocation (for
    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`), static, never changed.
    fn dirty_ops(&self) -> Option<&'static bindings::iommu_dirty_ops> {
        // SAFETY: a live domain (the type invariant); the driver's ops
        // tables are static while its domains live.
        unsafe { (*self.as_ptr()).dirty_ops.as_ref() }
    }

    /// Whether the domain can track dirty IOVAs.
    pub(crate) fn tracks_dirty(&self) -> bool {
        self.dirty_ops().is_some()
    }

    /// Has the driver record the dirty IOVAs of `[iova, iova + length)`
    /// into `recorder`, clearing them unless `no_clear`. `EOPNOTSUPP`
    /// for a domain without dirty ops.
    pub(crate) fn read_and_clear_dirty(
        &self,
        iova: u64,
        length: u64,
        no_clear: bool,
        recorder: &DirtyRecorder<'_>,
    ) -> Result {
        let op = self
            .dirty_ops()
            .and_then(|ops| ops.read_and_clear_dirty)
            .ok_or(EOPNOTSUPP)?;
        let iova = c_ulong::try_from(iova).map_err(|_| EOVERFLOW)?;
        let length = usize::try_from(length).map_err(|_| EOVERFLOW)?;
        let flags: c_ulong = if no_clear {
            bindings::IOMMU_DIRTY_NO_CLEAR as c_ulong
        } else {
            0
        };
        // SAFETY: a live domain of the driver whose op this is; the
        // recorder is initialised and lives across the call. A
        // `MappedDomain` is reachable only through the IO page table that
        // holds it, under that table's lock, which every map and unmap of
        // the domain takes too: none runs on the range meanwhile (the op's
        // locking rule).
        to_result(unsafe { op(self.as_ptr(), iova, length, flags, recorder.dirty.get()) })
    }

    /// Switches the driver's dirty tracking on or off. `EOPNOTSUPP` for a
    /// domain without dirty ops.
    pub(crate) fn set_dirty_tracking(&self, enable: bool) -> Result {
        let op = self
            .dirty_ops()
            .and_then(|ops| ops.set_dirty_tracking)
            .ok_or(EOPNOTSUPP)?;
        // SAFETY: a live domain of the driver whose op this is.
        to_result(unsafe { op(self.as_ptr(), enable) })
    }
}
