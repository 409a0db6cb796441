// SPDX-License-Identifier: GPL-2.0

//! User pages: pinned for DMA ([`PinnedPages`]), and looked at from
//! outside: how many DMA pins a page of the calling process carries
//! (`IOMMU_TEST_OP_MD_CHECK_REFS`) and where it is (`MD_CHECK_MAP`).

use core::ptr::NonNull;
use kernel::{
    alloc::KVVec,
    bindings,
    mm::Mm,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc,
    },
    task::Task,
};

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
    /// helpers.c: `get_uid(current_user())`.
    fn rust_iommufd_get_current_user() -> *mut bindings::user_struct;
    /// helpers.c: `task_rlimit(task, RLIMIT_MEMLOCK)`.
    fn rust_iommufd_memlock_limit(task: *mut bindings::task_struct) -> c_ulong;
    /// helpers.c: `put_page()`.
    fn rust_iommufd_put_page(page: *mut bindings::page);
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

/// Where pinned pages are charged, as upstream's account modes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// Not at all: the pinning task had `CAP_IPC_LOCK`.
    Nothing,
    /// The user's `locked_vm`, against `RLIMIT_MEMLOCK` (upstream's
    /// default, `IOPT_PAGES_ACCOUNT_USER`).
    User,
    /// The process's `locked_vm` through `account_locked_vm()`, as VFIO
    /// (`IOMMU_OPTION_RLIMIT_MODE` 1).
    Mm,
}

/// Whose memory is pinned and who pays for it: the address space, the
/// thread group leader whose `RLIMIT_MEMLOCK` applies and the user whose
/// `locked_vm` is charged. Every pin also counts in the address space's
/// `pinned_vm` (`VmPin` in /proc/PID/status).
///
/// # Invariants
///
/// `user` holds a reference taken by `get_uid()`, dropped with
/// `free_uid()` when this value goes.
pub(crate) struct PinOwner {
    mm: ARef<Mm>,
    task: ARef<Task>,
    user: NonNull<bindings::user_struct>,
    charge: Charge,
}

// SAFETY: the references are not tied to a thread; the counters they reach
// are atomic.
unsafe impl Send for PinOwner {}
// SAFETY: as above.
unsafe impl Sync for PinOwner {}

impl PinOwner {
    /// The calling process, charged as upstream would: nothing with
    /// `CAP_IPC_LOCK`, else the mm if `mm_mode`, else the user.
    pub(crate) fn current(mm_mode: bool) -> Result<Arc<Self>> {
        let current = kernel::current!();
        let mm: ARef<Mm> = ARef::from(&**current.mm().ok_or(EFAULT)?);
        let task: ARef<Task> = ARef::from(current.group_leader());
        let charge = if super::capable(bindings::CAP_IPC_LOCK) {
            Charge::Nothing
        } else if mm_mode {
            Charge::Mm
        } else {
            Charge::User
        };
        // SAFETY: takes a reference to the current user, ours until drop.
        let user = NonNull::new(unsafe { rust_iommufd_get_current_user() }).ok_or(EINVAL)?;
        // INVARIANT: `user` is referenced above.
        Ok(Arc::new(
            Self {
                mm,
                task,
                user,
                charge,
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// The address space the pages are in.
    pub(crate) fn mm(&self) -> &Mm {
        &self.mm
    }

    /// `pinned_vm` of the address space.
    fn pinned_vm(&self) -> &Atomic<i64> {
        // SAFETY: the mm is kept by `mmgrab` (its `mm_struct` lives), and
        // `pinned_vm` is an `atomic64_t`, only ever accessed atomically.
        unsafe { Atomic::from_ptr(&raw mut (*self.mm.as_raw()).__bindgen_anon_1.pinned_vm.counter) }
    }

    /// `locked_vm` of the user.
    fn user_locked_vm(&self) -> &Atomic<i64> {
        // SAFETY: the user is referenced (the type invariant), and
        // `locked_vm` is an `atomic_long_t`, only ever accessed atomically.
        unsafe { Atomic::from_ptr(&raw mut (*self.user.as_ptr()).locked_vm.counter) }
    }

    /// Charges `npages` pinned pages: `ENOMEM` past `RLIMIT_MEMLOCK`.
    fn charge(&self, npages: usize) -> Result {
        let n = npages as i64;
        match self.charge {
            Charge::Nothing => {}
            Charge::User => {
                // SAFETY: the task is referenced; its signal struct lives
                // as long as it does.
                let limit = unsafe { rust_iommufd_memlock_limit(self.task.as_ptr()) };
                let limit = (limit >> bindings::PAGE_SHIFT) as i64;
                let locked = self.user_locked_vm();
                let mut cur = locked.load(Relaxed);
                loop {
                    let new = cur.checked_add(n).ok_or(ENOMEM)?;
                    if new > limit {
                        return Err(ENOMEM);
                    }
                    match locked.cmpxchg(cur, new, Relaxed) {
                        Ok(_) => break,
                        Err(seen) => cur = seen,
                    }
                }
            }
            Charge::Mm => self.account_mm(npages, true)?,
        }
        self.pinned_vm().fetch_add(n, Relaxed);
        Ok(())
    }

    /// Gives back what [`Self::charge`] took for `npages` pages.
    fn uncharge(&self, npages: usize) {
        let n = npages as i64;
        match self.charge {
            Charge::Nothing => {}
            Charge::User => {
                self.user_locked_vm().fetch_add(-n, Relaxed);
            }
            Charge::Mm => {
                let _ = self.account_mm(npages, false);
            }
        }
        self.pinned_vm().fetch_add(-n, Relaxed);
    }

    /// `account_locked_vm()` on the address space, which needs a user of
    /// it (it takes its mmap lock).
    fn account_mm(&self, npages: usize, inc: bool) -> Result {
        let Some(mm) = self.mm.mmget_not_zero() else {
            // The process is gone: nothing to charge or give back.
            return if inc { Err(EFAULT) } else { Ok(()) };
        };
        // SAFETY: `mm` has a user for the call; the function takes the
        // mmap lock itself.
        kernel::error::to_result(unsafe {
            bindings::account_locked_vm(mm.as_raw(), npages as c_ulong, inc)
        })
    }
}

impl Drop for PinOwner {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `current` (the type invariant).
        unsafe { bindings::free_uid(self.user.as_ptr()) }
    }
}

/// Pages pinned in user memory for DMA, in user address order: each one
/// taken by `pin_user_pages*()` with `FOLL_LONGTERM`, so the memory stays
/// where it is for as long as a device may reach it.
///
/// # Invariants
///
/// Every entry of `pages` is a page this value holds one long-term pin on,
/// released (`unpin_user_pages()`) exactly once, when it is dropped.
pub(crate) struct PinnedPages {
    pages: KVVec<*mut bindings::page>,
    /// Who the pins are charged to, once they all are (`None` before).
    charged: Option<Arc<PinOwner>>,
}

// SAFETY: pins are not tied to a thread; the pages are only read.
unsafe impl Send for PinnedPages {}
// SAFETY: as above.
unsafe impl Sync for PinnedPages {}

/// Pages pinned in one call: the kernel's own batch size of GUP is not
/// ours to choose, this only bounds the stack of retries.
const PIN_BATCH: usize = 512;

impl PinnedPages {
    /// Pins `npages` pages of `owner`'s address space from the page-aligned
    /// user address `uptr`, writable ones if `writable`, and charges them
    /// to `owner`. `EFAULT` if a page cannot be pinned, `ENOMEM` over the
    /// locked-memory limit; nothing stays pinned or charged on failure.
    pub(crate) fn pin(
        owner: &Arc<PinOwner>,
        uptr: usize,
        npages: usize,
        writable: bool,
    ) -> Result<Self> {
        let mm = owner.mm();
        let mut flags = bindings::FOLL_LONGTERM;
        if writable {
            flags |= bindings::FOLL_WRITE;
        }
        let current_mm = kernel::current!()
            .mm()
            .map_or(core::ptr::null_mut(), |m| m.as_raw());
        // INVARIANT: holds only what GUP pinned; whatever was pinned so far
        // is released by its drop on failure.
        let mut this = Self {
            pages: KVVec::with_capacity(npages, GFP_KERNEL_ACCOUNT)?,
            charged: None,
        };
        let pages = &mut this.pages;
        let remote = if current_mm == mm.as_raw() {
            None
        } else {
            Some(mm.mmget_not_zero().ok_or(EFAULT)?)
        };
        while pages.len() < npages {
            let done = pages.len();
            let want = (npages - done).min(PIN_BATCH);
            let addr = uptr + done * kernel::page::PAGE_SIZE;
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
        }
        // Charged once pinned, as upstream: over the limit, the drop
        // unpins them all again.
        owner.charge(npages)?;
        this.charged = Some(owner.clone());
        Ok(this)
    }

    /// The physical address of the `index`th page.
    pub(crate) fn phys(&self, index: usize) -> Option<u64> {
        let page = *self.pages.get(index)?;
        // SAFETY: a page we hold a pin on (the type invariant).
        Some(unsafe { rust_iommufd_page_to_phys(page) })
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        if let Some(owner) = self.charged.take() {
            owner.uncharge(self.pages.len());
        }
        if self.pages.is_empty() {
            return;
        }
        // SAFETY: by the type invariant, we hold one pin on each entry,
        // dropped here once.
        unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.pages.len() as c_ulong) }
    }
}
