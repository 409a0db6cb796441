// SPDX-License-Identifier: GPL-2.0

//! User pages: pinned for DMA ([`PinnedPages`]), and looked at from
//! outside: how many DMA pins a page of the calling process carries
//! (`IOMMU_TEST_OP_MD_CHECK_REFS`) and where it is (`MD_CHECK_MAP`); and
//! the page behind a physical address a domain translates to, for the
//! mock device's DMA ([`PageRef`]).

use core::ptr::NonNull;
use kernel::{
    alloc::KVVec,
    bindings,
    page::{BorrowedPage, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use super::account::{Charge, PinAccount};

use crate::counters::PAGES_PINNED;

#[expect(
    improper_ctypes,
    reason = "struct page behind pointers, declared as kernel::bindings declares it"
)]
extern "C" {
    /// helpers.c: `page_ref_count()`.
    fn rust_iommufd_page_ref_count(page: *const bindings::page) -> c_int;
    /// helpers.c: `PageCompound()`.
    fn rust_iommufd_page_compound(page: *const bindings::page) -> bool;
    /// helpers.c: `page_to_phys()`.
    fn rust_iommufd_page_to_phys(page: *const bindings::page) -> bindings::phys_addr_t;
    /// helpers.c: `put_page()`.
    fn rust_iommufd_put_page(page: *mut bindings::page);
    /// helpers.c: a reference to the page at `phys`, NULL if none backs it.
    fn rust_iommufd_phys_get_page(phys: bindings::phys_addr_t) -> *mut bindings::page;
}

/// A reference to the page a device reaches at some physical address:
/// what keeps the page from being freed while the mock device copies to
/// or from it, after the lock that made the translation valid is gone.
///
/// # Invariants
///
/// `page` is a page this value holds one reference on (`get_page()`),
/// dropped exactly once, when it is dropped.
pub(crate) struct PageRef {
    page: NonNull<bindings::page>,
}

// SAFETY: a page reference is not tied to a thread.
unsafe impl Send for PageRef {}

impl PageRef {
    /// A reference to the page that holds physical address `phys`; `None`
    /// if no `struct page` backs it.
    ///
    /// # Safety
    ///
    /// The page must be in use for the call (pinned, and the pin held
    /// across it), so that it is not freed while the reference is taken.
    pub(crate) unsafe fn get(phys: u64) -> Option<Self> {
        // SAFETY: the caller keeps the page from being freed meanwhile.
        let page = NonNull::new(unsafe { rust_iommufd_phys_get_page(phys) })?;
        // INVARIANT: the helper took a reference for us.
        Some(Self { page })
    }

    /// The page, for as long as the reference lives.
    pub(crate) fn page(&self) -> BorrowedPage<'_> {
        // SAFETY: by the type invariant the page lives as long as `self`.
        unsafe { BorrowedPage::from_raw(self.page) }
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, the reference is ours to drop.
        unsafe { rust_iommufd_put_page(self.page.as_ptr()) };
    }
}

/// Takes a reference to the page mapped at user address `addr` in the
/// calling process, faulting it in if needed, runs `f` on it and drops the
/// reference.
fn with_user_page<R>(addr: usize, f: impl FnOnce(*mut bindings::page) -> R) -> Result<R> {
    let mut page: *mut bindings::page = core::ptr::null_mut();
    // SAFETY: asks for one page into a one-element array; the reference it
    // takes is dropped below.
    let got = unsafe { bindings::get_user_pages_fast(addr, 1, 0, &mut page) };
    if got < 0 {
        return Err(Error::from_errno(got));
    }
    if got != 1 || page.is_null() {
        return Err(EFAULT);
    }
    let result = f(page);
    // SAFETY: we hold the reference taken above.
    unsafe { rust_iommufd_put_page(page) };
    Ok(result)
}

/// The physical address of the page mapped at user address `addr` in the
/// calling process (page aligned). Faults the page in if needed.
pub(crate) fn user_page_phys(addr: usize) -> Result<u64> {
    // SAFETY: `with_user_page` holds a reference to the page for the call.
    with_user_page(addr & kernel::page::PAGE_MASK, |page| unsafe {
        rust_iommufd_page_to_phys(page)
    })
}

/// The pin count of the page mapped at user address `addr` in the calling
/// process: `None` for a page of a compound (huge) page, whose count is
/// shared. Faults the page in if needed; `EFAULT` if nothing is mapped.
pub(crate) fn user_page_pins(addr: usize) -> Result<Option<u32>> {
    with_user_page(addr, |page| {
        // SAFETY: `with_user_page` holds a reference to `page` for the call.
        unsafe {
            if rust_iommufd_page_compound(page) {
                None
            } else {
                // Pins add GUP_PIN_COUNTING_BIAS each; plain references add 1.
                let count = rust_iommufd_page_ref_count(page).max(0) as u32;
                Some(count / bindings::GUP_PIN_COUNTING_BIAS)
            }
        }
    })
}

/// Pages pinned in user memory for DMA, in user address order: each one
/// taken by `pin_user_pages*()` with `FOLL_LONGTERM`, so the memory stays
/// where it is for as long as a device may reach it.
///
/// # Invariants
///
/// Every entry of `pages` is a page this value holds one long-term pin on,
/// released (`unpin_user_pages()`) exactly once, when it is dropped; each is
/// counted in [`PAGES_PINNED`] while held.
pub(crate) struct PinnedPages {
    pages: KVVec<*mut bindings::page>,
    /// What the pins are charged, once they all are (`None` before);
    /// given back after the pages are unpinned.
    charge: Option<Charge>,
}

// SAFETY: pins are not tied to a thread; the pages are only read.
unsafe impl Send for PinnedPages {}
// SAFETY: as above.
unsafe impl Sync for PinnedPages {}

/// Upstream's bound on the temporary memory of its pinning path, 64 KiB
/// (`TEMP_MEMORY_LIMIT`); with `CONFIG_IOMMUFD_TEST` upstream lets
/// `IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT` change it, so that pins go in
/// tiny batches.
pub(crate) const DEFAULT_TEMP_MEMORY_LIMIT: usize = 65536;

/// The bound in force, in bytes.
static TEMP_MEMORY_LIMIT: Atomic<usize> = Atomic::new(DEFAULT_TEMP_MEMORY_LIMIT);

/// Sets the bound on the pinning path's temporary memory (the selftest's
/// `SET_TEMP_MEMORY_LIMIT`), in bytes; it applies to the pins taken next,
/// module-wide, as upstream's.
pub(crate) fn set_temp_memory_limit(bytes: usize) {
    TEMP_MEMORY_LIMIT.store(bytes, Relaxed);
}

/// Pages asked of one `pin_user_pages*()` call: as many page pointers as
/// the temporary-memory bound holds, at least one. Upstream's batch is a
/// buffer of that size which it pins into; ours lands in the final array,
/// but the calls are as many and as small.
fn pin_batch() -> usize {
    (TEMP_MEMORY_LIMIT.load(Relaxed) / size_of::<*mut bindings::page>()).max(1)
}

impl PinnedPages {
    /// Pins `npages` pages of `account`'s address space from the
    /// page-aligned user address `uptr`, writable ones if `writable`, and
    /// charges them to `account` once all are pinned (upstream too pins
    /// first and unwinds if the charge fails). `EFAULT` if a page cannot be
    /// pinned, `ENOMEM` past `RLIMIT_MEMLOCK`; nothing stays pinned or
    /// charged on failure.
    pub(crate) fn pin(
        account: &Arc<PinAccount>,
        uptr: usize,
        npages: usize,
        writable: bool,
    ) -> Result<Self> {
        let mm = account.mm();
        let mut flags = bindings::FOLL_LONGTERM;
        if writable {
            flags |= bindings::FOLL_WRITE;
        }
        super::fault_inject::inject(ENOMEM)?;
        // INVARIANT: holds only what GUP pinned; whatever was pinned so far
        // is released by its drop on failure.
        let mut this = Self {
            pages: KVVec::with_capacity(npages, GFP_KERNEL_ACCOUNT)?,
            charge: None,
        };
        let batch = pin_batch();
        let pages = &mut this.pages;
        let remote = if super::mm::is_current(mm) {
            None
        } else {
            Some(mm.mmget_not_zero().ok_or(EFAULT)?)
        };
        while pages.len() < npages {
            let done = pages.len();
            let want = (npages - done).min(batch);
            let addr = uptr + done * kernel::page::PAGE_SIZE;
            super::fault_inject::inject(EFAULT)?;
            let spare = pages.spare_capacity_mut();
            let out = spare.as_mut_ptr().cast::<*mut bindings::page>();
            let got = match &remote {
                // SAFETY: `out` has room for `want` entries (capacity
                // `npages`); the pins taken are recorded below.
                None => unsafe {
                    bindings::pin_user_pages_fast(addr, want as c_int, flags, out) as c_long
                },
                Some(mm) => {
                    let _lock = mm.mmap_read_lock();
                    // SAFETY: as above; `mm` has a user and its mmap lock
                    // is held for the call, as the function requires.
                    unsafe {
                        bindings::pin_user_pages_remote(
                            mm.as_raw(),
                            addr,
                            want as c_ulong,
                            flags,
                            out,
                            core::ptr::null_mut(),
                        )
                    }
                }
            };
            if got <= 0 {
                return Err(if got < 0 {
                    Error::from_errno(got as c_int)
                } else {
                    EFAULT
                });
            }
            let got = (got as usize).min(want);
            // SAFETY: GUP wrote `got` entries into the spare capacity.
            unsafe { pages.inc_len(got) };
            PAGES_PINNED.add(got);
        }
        // Over the limit, the drop of `this` unpins them all again.
        this.charge = Some(Charge::new(account, uptr, npages)?);
        Ok(this)
    }

    /// The physical address of the `index`th page.
    pub(crate) fn phys(&self, index: usize) -> Option<u64> {
        let page = *self.pages.get(index)?;
        // SAFETY: a page we hold a pin on (the type invariant).
        Some(unsafe { rust_iommufd_page_to_phys(page) })
    }
}

/// Copies between `buf` and the page `page` from byte `offset` (to the page
/// if `write`). `EINVAL` if the range leaves the page.
///
/// # Safety
///
/// The caller holds a reference or pin on `page` for the call.
pub(super) unsafe fn page_rw(
    page: *mut bindings::page,
    offset: usize,
    buf: &mut [u8],
    write: bool,
) -> Result {
    if offset
        .checked_add(buf.len())
        .is_none_or(|end| end > PAGE_SIZE)
    {
        return Err(EINVAL);
    }
    // SAFETY: the page is held (the caller's contract); a local mapping
    // of it lasts until `kunmap_local` below, on this thread.
    let base = unsafe { bindings::kmap_local_page(page) }.cast::<u8>();
    // SAFETY: `base` maps the whole page; `offset + len` is inside it
    // (checked above) and `buf` is ours, so the ranges do not overlap.
    unsafe {
        let at = base.add(offset);
        if write {
            core::ptr::copy_nonoverlapping(buf.as_ptr(), at, buf.len());
        } else {
            core::ptr::copy_nonoverlapping(at, buf.as_mut_ptr(), buf.len());
        }
        bindings::kunmap_local(base.cast());
    }
    Ok(())
}

impl PinnedPages {
    /// Copies between `buf` and the pinned memory from byte `offset` of the
    /// first page (to the memory if `write`): `EINVAL` past the pages.
    pub(crate) fn rw(&self, offset: usize, buf: &mut [u8], write: bool) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let at = offset.checked_add(done).ok_or(EINVAL)?;
            let in_page = at % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(buf.len() - done);
            let page = *self.pages.get(at / PAGE_SIZE).ok_or(EINVAL)?;
            // SAFETY: a page we hold a pin on (the type invariant).
            unsafe { page_rw(page, in_page, &mut buf[done..done + n], write) }?;
            done += n;
        }
        Ok(())
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        if self.pages.is_empty() {
            return;
        }
        // SAFETY: by the type invariant, we hold one pin on each entry,
        // dropped here once.
        unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.pages.len() as c_ulong) };
        PAGES_PINNED.sub(self.pages.len());
    }
}
