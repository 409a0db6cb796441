// SPDX-License-Identifier: GPL-2.0

//! Locked-memory accounting of pinned pages, in upstream's three modes
//! (drivers/iommu/iommufd/pages.c, `IOPT_PAGES_ACCOUNT_*`):
//!
//! - [`AccountMode::None`]: the mapping task had `CAP_IPC_LOCK`; no limit
//!   applies.
//! - [`AccountMode::User`] (`IOMMU_OPTION_RLIMIT_MODE` 0, the default):
//!   the `locked_vm` of the mapping credentials' user (`struct
//!   user_struct`, shared by all that user's processes), raised with a
//!   compare-and-exchange loop that never passes the mapping process's
//!   `RLIMIT_MEMLOCK`, as io_uring does.
//! - [`AccountMode::Mm`] (`RLIMIT_MODE` 1, VFIO's way): the address
//!   space's `locked_vm` (`VmLck` in /proc/PID/status), under its mmap
//!   lock held for writing, with `__account_locked_vm()` against the same
//!   limit.
//!
//! In every mode the pages also count in the address space's `pinned_vm`
//! (`VmPin`), as upstream counts them.
//!
//! A [`PinAccount`] is taken when the memory is named (`IOMMU_IOAS_MAP`,
//! `IOMMU_IOAS_MAP_FILE`) and keeps its address space, thread group
//! leader and user until the last pin is gone, so whoever drops a pin
//! (another process after `fork()`, the release of the file) gives the
//! charge back to where it was taken. Only `IOMMU_IOAS_CHANGE_PROCESS`
//! changes who pays ([`PinLedger::move_to_current`]), for file-backed
//! memory, whose pins do not depend on an address space.
//!
//! As upstream's `npinned`, a page is charged once however many pins of
//! the same account hold it: the areas `IOMMU_IOAS_COPY` makes of one
//! mapping each pin their pages, but only the first pin of a page charges
//! it and only the last one to go gives it back.

use core::ptr::NonNull;
use kernel::{
    alloc::KVec,
    bindings,
    error::to_result,
    mm::{Mm, MmWithUser},
    new_mutex,
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    task::Task,
};

#[expect(
    improper_ctypes,
    reason = "structures behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    /// helpers.c: `get_uid(current_user())`.
    fn rust_iommufd_get_current_user() -> *mut bindings::user_struct;
    /// helpers.c: `task_rlimit(task, RLIMIT_MEMLOCK)`.
    fn rust_iommufd_memlock_limit(task: *const bindings::task_struct) -> c_ulong;
    /// helpers.c: `mmap_write_lock()`.
    fn rust_iommufd_mmap_write_lock(mm: *mut bindings::mm_struct);
    /// helpers.c: `mmap_write_unlock()`.
    fn rust_iommufd_mmap_write_unlock(mm: *mut bindings::mm_struct);
}

/// The calling task's thread group leader, referenced (`sys::layout`
/// checked `task_struct::group_leader`'s offset at load).
fn current_leader() -> ARef<Task> {
    ARef::from(kernel::current!().group_leader())
}

/// Where pinned pages are charged (upstream's `IOPT_PAGES_ACCOUNT_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AccountMode {
    /// No limit: the mapping task had `CAP_IPC_LOCK`.
    None,
    /// The user's `locked_vm`, against `RLIMIT_MEMLOCK`.
    User,
    /// The address space's `locked_vm`, against `RLIMIT_MEMLOCK`.
    Mm,
}

impl AccountMode {
    /// Every mode, in the order of their `as usize` values.
    const ALL: [Self; 3] = [Self::None, Self::User, Self::Mm];
}

/// A counted reference to a `struct user_struct`.
///
/// # Invariants
///
/// `0` points to a `user_struct` this value holds one reference on
/// (`get_uid()`), given back with `free_uid()` when it is dropped.
struct UserRef(NonNull<bindings::user_struct>);

// SAFETY: the reference is not tied to a thread (`free_uid()` may be
// called from any), and the only field used, `locked_vm`, is atomic.
unsafe impl Send for UserRef {}
// SAFETY: as above.
unsafe impl Sync for UserRef {}

impl UserRef {
    /// The user of the calling task's credentials (`current_user()`).
    fn current() -> Result<Self> {
        // SAFETY: no precondition; the reference taken is ours (below).
        let user = unsafe { rust_iommufd_get_current_user() };
        // INVARIANT: the helper took a reference for us.
        NonNull::new(user).map(Self).ok_or(EINVAL)
    }

    /// The user's `locked_vm`, in pages.
    fn locked_vm(&self) -> &Atomic<isize> {
        const {
            assert!(size_of::<bindings::atomic_long_t>() == size_of::<isize>());
            assert!(align_of::<bindings::atomic_long_t>() == align_of::<isize>());
        }
        // SAFETY: the user lives while we hold our reference (the type
        // invariant); `locked_vm` is an `atomic_long_t` (a `long`, as big
        // and as aligned as `isize`, checked above) that the kernel only
        // ever accesses atomically.
        unsafe { Atomic::from_ptr((&raw mut (*self.0.as_ptr()).locked_vm.counter).cast::<isize>()) }
    }
}

impl Drop for UserRef {
    fn drop(&mut self) {
        // SAFETY: the reference held by the type invariant, given back once.
        unsafe { bindings::free_uid(self.0.as_ptr()) }
    }
}

/// The mmap lock of an address space held for writing, released on drop.
///
/// # Invariants
///
/// The caller of [`MmapWriteGuard::lock`] holds the lock through `mm`.
struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
}

impl<'a> MmapWriteGuard<'a> {
    fn lock(mm: &'a MmWithUser) -> Self {
        // SAFETY: `mm` has a user, so its `mm_struct` is valid and its mmap
        // lock initialised; it is released by the drop below.
        unsafe { rust_iommufd_mmap_write_lock(mm.as_raw()) };
        // INVARIANT: locked above.
        Self { mm }
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked for writing by us (the type invariant).
        unsafe { rust_iommufd_mmap_write_unlock(self.mm.as_raw()) }
    }
}

/// Who pays for pins: the address space whose `pinned_vm` (and, in
/// [`AccountMode::Mm`], `locked_vm`) counts them, the thread group leader
/// whose `RLIMIT_MEMLOCK` bounds them and the user whose `locked_vm`
/// counts them in [`AccountMode::User`] (upstream's `source_mm`, by
/// `mmgrab`, `source_task` and `source_user`).
struct Payer {
    mm: ARef<Mm>,
    task: ARef<Task>,
    user: UserRef,
}

impl Payer {
    /// The calling process: `EFAULT` for a task with no address space.
    fn current() -> Result<Self> {
        Ok(Self {
            mm: super::mm::current_mm().ok_or(EFAULT)?,
            task: current_leader(),
            user: UserRef::current()?,
        })
    }

    /// Whether pins charged to `self` in `mode` must move to `to`
    /// (upstream's `need_charge_update`): the address space counts them
    /// in every charged mode (`pinned_vm`), the user too in `User` mode.
    fn differs(&self, to: &Self, mode: AccountMode) -> bool {
        let mm = !core::ptr::eq(self.mm.as_raw(), to.mm.as_raw());
        match mode {
            AccountMode::None => false,
            AccountMode::Mm => mm,
            AccountMode::User => mm || self.user.0 != to.user.0,
        }
    }

    /// The address space's `pinned_vm`, in pages.
    fn pinned_vm(&self) -> &Atomic<i64> {
        // SAFETY: `mmgrab` keeps the `mm_struct` (the `ARef`); `pinned_vm`
        // is an `atomic64_t` that the kernel only ever accesses atomically.
        unsafe { Atomic::from_ptr(&raw mut (*self.mm.as_raw()).__bindgen_anon_1.pinned_vm.counter) }
    }

    /// `RLIMIT_MEMLOCK` of the paying process, in pages.
    fn limit_pages(&self) -> usize {
        // SAFETY: the task is referenced (`get_task_struct`), and a task's
        // signal struct, where its limits are, lives as long as it does.
        let bytes = unsafe { rust_iommufd_memlock_limit(self.task.as_ptr()) };
        bytes >> PAGE_SHIFT
    }

    /// `incr_user_locked_vm`: raises the user's `locked_vm` by `npages`
    /// unless that would pass the limit (`ENOMEM`).
    fn charge_user(&self, npages: usize) -> Result {
        let limit = self.limit_pages();
        let locked = self.user.locked_vm();
        let mut cur = locked.load(Relaxed);
        loop {
            // The counter is a `long` but counts pages, never negative.
            let new = (cur as usize).checked_add(npages).ok_or(ENOMEM)?;
            if new > limit {
                return Err(ENOMEM);
            }
            match locked.cmpxchg(cur, new as isize, Relaxed) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }

    /// `decr_user_locked_vm`.
    fn uncharge_user(&self, npages: usize) {
        let locked = self.user.locked_vm();
        if (locked.load(Relaxed) as usize) < npages {
            pr_warn!("rust_iommufd: user locked_vm below what was charged\n");
            return;
        }
        locked.fetch_sub(npages as isize, Relaxed);
    }

    /// `update_mm_locked_vm`: the address space's `locked_vm` under its
    /// mmap lock held for writing. It needs a user of the address space:
    /// `EINVAL` (upstream's errno) if it has none left, which on the way
    /// down means the process is gone and nothing is left to give back.
    fn update_mm(&self, npages: usize, inc: bool) -> Result {
        let mm = self.mm.mmget_not_zero().ok_or(EINVAL)?;
        let _lock = MmapWriteGuard::lock(&mm);
        // SAFETY: `mm` has a user and its mmap lock is held for writing, as
        // the function asserts; the task is referenced.
        to_result(unsafe {
            bindings::__account_locked_vm(mm.as_raw(), npages, inc, self.task.as_ptr(), false)
        })
    }

    /// Charges `npages` newly pinned pages in `mode`
    /// (`iopt_pages_update_pinned` upwards): `ENOMEM` past
    /// `RLIMIT_MEMLOCK`, nothing charged then.
    fn charge(&self, mode: AccountMode, npages: usize) -> Result {
        match mode {
            AccountMode::None => {}
            AccountMode::User => self.charge_user(npages)?,
            AccountMode::Mm => self.update_mm(npages, true)?,
        }
        self.pinned_vm().add(npages as i64, Relaxed);
        Ok(())
    }

    /// Gives back what [`Self::charge`] took for `npages` pages: `EINVAL`,
    /// with nothing given back, in `Mm` mode once the process is gone.
    fn uncharge(&self, mode: AccountMode, npages: usize) -> Result {
        match mode {
            AccountMode::None => {}
            AccountMode::User => self.uncharge_user(npages),
            // Upstream leaves pinned_vm as it is when the process is gone
            // too; its mm_struct is only kept by mmgrab then, and nothing
            // reads the counter again.
            AccountMode::Mm => self.update_mm(npages, false)?,
        }
        self.pinned_vm().fetch_sub(npages as i64, Relaxed);
        Ok(())
    }
}

/// The one lock of all the pin accounts of one iommufd context: what an
/// account has charged changes only under it, so that
/// `IOMMU_IOAS_CHANGE_PROCESS`, holding it, sees every count still while
/// it charges their sum to the caller and gives each back to its old payer
/// (upstream holds every IOAS's `iova_rwsem` for that). Lock order: after
/// the IO page table's lock, before an account's own lock.
#[pin_data]
pub(crate) struct PinLedger {
    #[pin]
    lock: Mutex<()>,
}

impl PinLedger {
    /// The ledger of a new context.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                lock <- new_mutex!(()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// `IOMMU_IOAS_CHANGE_PROCESS` on the accounts of the context's
    /// file-backed mappings (duplicates are fine): charges all they hold
    /// to the calling process (`ENOMEM` past its limit, and nothing
    /// changes), then gives it back to each one's old payer and makes the
    /// caller their payer. Accounts already charged to the caller, and
    /// those of a caller with `CAP_IPC_LOCK`, stay. `EINVAL` if an old
    /// payer in `Mm` mode is gone (its share cannot be given back; the
    /// move is done all the same, as upstream).
    pub(crate) fn move_to_current(&self, accounts: &[Arc<PinAccount>]) -> Result {
        let to = Payer::current()?;
        let _ledger = self.lock.lock();
        // What each account to move holds, summed per mode.
        let mut moves = KVec::with_capacity(accounts.len(), GFP_KERNEL_ACCOUNT)?;
        let mut total = [0usize; 3];
        for (index, account) in accounts.iter().enumerate() {
            if accounts[..index].iter().any(|a| Arc::ptr_eq(a, account)) {
                continue;
            }
            let state = account.state.lock();
            if state.payer.differs(&to, account.mode) {
                let npages = covered(&state.pinned, 0, usize::MAX);
                total[account.mode as usize] += npages;
                // Each moved account gets its own references to the
                // caller, taken now so that nothing fails once charged.
                moves.push((account, npages, Payer::current()?), GFP_KERNEL_ACCOUNT)?;
            }
        }
        for (index, mode) in AccountMode::ALL.iter().enumerate() {
            if total[index] == 0 {
                continue;
            }
            if let Err(e) = to.charge(*mode, total[index]) {
                for (undo, mode) in AccountMode::ALL[..index].iter().enumerate() {
                    if total[undo] != 0 {
                        // Just charged, so it can be given back.
                        let _ = to.uncharge(*mode, total[undo]);
                    }
                }
                return Err(e);
            }
        }
        let mut result = Ok(());
        for (account, npages, payer) in moves {
            let mut state = account.state.lock();
            if npages != 0 {
                if let Err(e) = state.payer.uncharge(account.mode, npages) {
                    result = Err(e);
                }
            }
            // The old payer's references go after the lock.
            let old = core::mem::replace(&mut state.payer, payer);
            drop(state);
            drop(old);
        }
        result
    }
}

/// What one account's pins hold and who pays for them.
struct AccountState {
    payer: Payer,
    /// The page ranges charged pins hold, `(first page number, pages)`,
    /// sorted by first page; they may overlap. A page is charged once
    /// however many of them hold it (upstream's `npinned`).
    pinned: KVec<(usize, usize)>,
}

/// Whose memory pins come from and who pays for them, taken when the
/// memory is named (`IOMMU_IOAS_MAP`, `IOMMU_IOAS_MAP_FILE`): upstream's
/// `source_mm`, `source_task`, `source_user` and `account_mode`. The payer
/// changes only by `IOMMU_IOAS_CHANGE_PROCESS`, for file-backed memory;
/// the address space user memory is pinned from never does.
#[pin_data]
pub(crate) struct PinAccount {
    /// The mapping process's address space (by `mmgrab`): where user
    /// memory is pinned from.
    mm: ARef<Mm>,
    mode: AccountMode,
    /// The context's lock over every account's charges.
    ledger: Arc<PinLedger>,
    /// Held across a charge and its undoing, so that what a page costs is
    /// decided once (upstream's `pages->mutex`). Lock order: after the
    /// ledger, before the payer's mmap lock.
    #[pin]
    state: Mutex<AccountState>,
}
/// Pages of `[start, end)` that `ranges` (sorted by start) cover.
fn covered(ranges: &[(usize, usize)], start: usize, end: usize) -> usize {
    let (mut cur, mut sum) = (start, 0);
    for &(first, npages) in ranges {
        if first >= end {
            break;
        }
        let lo = first.max(cur);
        let hi = first.saturating_add(npages).min(end);
        if hi > lo {
            sum += hi - lo;
            cur = hi;
        }
    }
    sum
}

impl PinAccount {
    /// The calling process's memory, charged as upstream charges it:
    /// nothing if the caller has `CAP_IPC_LOCK`, else its address space if
    /// `mm_mode` (`IOMMU_OPTION_RLIMIT_MODE` 1), else its user; its
    /// charges are kept under the context's `ledger`. `EFAULT` for a task
    /// with no address space.
    pub(crate) fn current(ledger: &Arc<PinLedger>, mm_mode: bool) -> Result<Arc<Self>> {
        let payer = Payer::current()?;
        let mode = if super::capable(bindings::CAP_IPC_LOCK) {
            AccountMode::None
        } else if mm_mode {
            AccountMode::Mm
        } else {
            AccountMode::User
        };
        Arc::pin_init(
            try_pin_init!(Self {
                mm: payer.mm.clone(),
                mode,
                ledger: ledger.clone(),
                state <- new_mutex!(AccountState {
                    payer,
                    pinned: KVec::new(),
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The address space the mapped user memory is in.
    pub(crate) fn mm(&self) -> &Mm {
        &self.mm
    }

    /// Records a pin of `npages` pages from page number `first` and
    /// charges those of them no other pin holds: `ENOMEM` past the limit,
    /// nothing recorded or charged then.
    fn pin(&self, first: usize, npages: usize) -> Result {
        let end = first.checked_add(npages).ok_or(EOVERFLOW)?;
        let _ledger = self.ledger.lock.lock();
        let mut state = self.state.lock();
        let new = npages - covered(&state.pinned, first, end);
        state.pinned.push((first, npages), GFP_KERNEL_ACCOUNT)?;
        if new != 0 {
            if let Err(e) = state.payer.charge(self.mode, new) {
                state.pinned.pop();
                return Err(e);
            }
        }
        // Keep the ranges sorted by first page.
        let pinned = &mut state.pinned;
        let mut i = pinned.len() - 1;
        while i > 0 && pinned[i - 1].0 > pinned[i].0 {
            pinned.swap(i - 1, i);
            i -= 1;
        }
        Ok(())
    }

    /// Turns the record of one [`Self::pin`] of `(first, npages)` into two,
    /// of its first `head` pages and of the rest: what each page costs
    /// stays as it was. `ENOMEM`, and no change, if the second record has
    /// no room.
    fn split(&self, first: usize, npages: usize, head: usize) -> Result {
        let _ledger = self.ledger.lock.lock();
        let mut state = self.state.lock();
        let pinned = &mut state.pinned;
        let index = pinned
            .iter()
            .position(|&r| r == (first, npages))
            .ok_or(EINVAL)?;
        pinned.push((first + head, npages - head), GFP_KERNEL_ACCOUNT)?;
        pinned[index].1 = head;
        // Keep the ranges sorted by first page.
        let mut i = pinned.len() - 1;
        while i > 0 && pinned[i - 1].0 > pinned[i].0 {
            pinned.swap(i - 1, i);
            i -= 1;
        }
        Ok(())
    }

    /// Undoes one [`Self::pin`] of the same range: gives back the pages no
    /// other pin holds.
    fn unpin(&self, first: usize, npages: usize) {
        let _ledger = self.ledger.lock.lock();
        let mut state = self.state.lock();
        let Some(index) = state.pinned.iter().position(|&r| r == (first, npages)) else {
            pr_warn!("rust_iommufd: unpinned a range that was never charged\n");
            return;
        };
        // Moves the rest down: the order stays sorted.
        let _ = state.pinned.remove(index);
        let gone = npages - covered(&state.pinned, first, first.saturating_add(npages));
        if gone != 0 {
            // A payer whose process is gone has nothing left to give back.
            let _ = state.payer.uncharge(self.mode, gone);
        }
    }
}

/// A pin of `npages` user pages from page number `first`, recorded and
/// charged to an account; given back when dropped.
///
/// # Invariants
///
/// `account` records `(first, npages)` as charged, by a
/// [`PinAccount::pin`] that succeeded for it or by [`PinAccount::split`]
/// of such a record, and only this value's drop undoes it.
pub(crate) struct Charge {
    account: Arc<PinAccount>,
    first: usize,
    npages: usize,
}

impl Charge {
    /// Charges a pin of `npages` pages from the page-aligned user address
    /// (or file offset) `uptr` to `account`, counting only pages no other pin of the account
    /// holds: `ENOMEM` past the limit of its mode, with nothing charged.
    pub(crate) fn new(account: &Arc<PinAccount>, uptr: usize, npages: usize) -> Result<Self> {
        let first = uptr >> PAGE_SHIFT;
        account.pin(first, npages)?;
        // INVARIANT: recorded and charged above.
        Ok(Self {
            account: account.clone(),
            first,
            npages,
        })
    }

    /// Keeps the charge of the first `head` pages (`0 < head < npages`)
    /// and returns that of the rest, for pins split in two. Nothing is
    /// charged or given back; `ENOMEM` and no change on failure.
    pub(crate) fn split_off(&mut self, head: usize) -> Result<Self> {
        if head == 0 || head >= self.npages {
            return Err(EINVAL);
        }
        self.account.split(self.first, self.npages, head)?;
        let tail = Self {
            account: self.account.clone(),
            first: self.first + head,
            npages: self.npages - head,
        };
        // INVARIANT: the account now records `(first, head)` and the
        // tail's range, each undone by its own value's drop.
        self.npages = head;
        Ok(tail)
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.account.unpin(self.first, self.npages);
    }
}

#[kunit_tests(rust_iommufd_account)]
mod tests {
    use super::covered;

    #[test]
    fn covered_counts_each_page_once() {
        // No range, a range outside, one inside.
        assert_eq!(covered(&[], 0, 10), 0);
        assert_eq!(covered(&[(10, 5)], 0, 10), 0);
        assert_eq!(covered(&[(2, 3)], 0, 10), 3);
        // Clipped at both ends.
        assert_eq!(covered(&[(0, 4), (8, 8)], 2, 10), 4);
        // Overlapping and nested ranges count a page once.
        assert_eq!(covered(&[(0, 6), (2, 2), (4, 4)], 0, 10), 8);
        assert_eq!(covered(&[(1, 8), (3, 1)], 0, 10), 8);
        // Touching ranges, then a gap.
        assert_eq!(covered(&[(0, 3), (3, 3), (7, 1)], 0, 10), 7);
        // A range reaching past the end of the address space.
        assert_eq!(covered(&[(5, usize::MAX)], 0, 10), 5);
    }

    #[test]
    fn a_copy_of_a_pinned_range_is_free() {
        // What a second pin of [4, 12) charges after [0, 8) and [10, 20):
        // pages 8 and 9 only.
        let ranges = [(0, 8), (10, 10)];
        assert_eq!(8 - covered(&ranges, 4, 12), 2);
        // And what dropping [0, 8) gives back while [4, 12) stays: 0..4.
        let rest = [(4, 8), (10, 10)];
        assert_eq!(8 - covered(&rest, 0, 8), 4);
    }
}
