// SPDX-License-Identifier: GPL-2.0

//! Pages of a memfd (shmem or hugetlbfs file), pinned for DMA by file
//! offset with `memfd_pin_folios()`: the source of `IOMMU_IOAS_MAP_FILE`
//! mappings. No address space is involved, so the pins do not depend on
//! the mapping process (`IOMMU_IOAS_CHANGE_PROCESS` relies on that).
//!
//! `memfd_pin_folios()` pins each folio once; as upstream, every page
//! taken from a folio beyond the first gets a pin of its own
//! (`folio_add_pins()`), so each entry of a [`PinnedPages`] holds one pin,
//! whatever backs it, and is released as a user page pin.

use kernel::{
    alloc::KVVec,
    bindings,
    fs::{File, LocalFile},
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::{aref::ARef, Arc},
};

use super::{pin_batch, PinnedPages};
use crate::{
    counters::PAGES_PINNED,
    sys::{
        account::{Charge, PinAccount},
        fault_inject,
    },
};

#[expect(
    improper_ctypes,
    reason = "struct folio and struct page behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    /// helpers.c: `folio_nr_pages()`.
    fn rust_iommufd_folio_nr_pages(folio: *const bindings::folio) -> c_ulong;
    /// helpers.c: `folio_page(folio, n)`.
    fn rust_iommufd_folio_page(folio: *mut bindings::folio, n: c_ulong) -> *mut bindings::page;
}

/// The file open as `fd` in the calling process, referenced for as long
/// as the mapping lives: `EBADF` if there is none.
pub(crate) fn file_of_fd(fd: i32) -> Result<ARef<File>> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
    // SAFETY: called from an ioctl, which never runs `fdget_pos` on this
    // thread; the reference is then shared only as a `File`.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
}

/// Folios pinned by `memfd_pin_folios()`, a batch at a time into one
/// buffer (upstream's `ufolios`, allocated once per pinning), each holding
/// one pin until it is handed on or the batch is released.
///
/// # Invariants
///
/// Entries `next..` of `folios` each hold one pin this value owns.
struct FolioBatch {
    folios: KVVec<*mut bindings::folio>,
    next: usize,
}

impl FolioBatch {
    /// An empty batch of room for `capacity` folios.
    fn new(capacity: usize) -> Result<Self> {
        Ok(Self {
            folios: KVVec::with_capacity(capacity, GFP_KERNEL_ACCOUNT)?,
            next: 0,
        })
    }

    /// Releases the pins not handed on, and empties the batch.
    fn release(&mut self) {
        let rest = &mut self.folios[self.next..];
        if !rest.is_empty() {
            // SAFETY: each of these holds one pin we own (the invariant).
            unsafe { bindings::unpin_folios(rest.as_mut_ptr(), rest.len() as c_ulong) };
        }
        self.folios.clear();
        // INVARIANT: nothing is held any more.
        self.next = 0;
    }

    /// Pins the folios of `file` under up to `npages` pages (at most the
    /// batch's room) from the page-aligned byte offset `from`, in place of
    /// what the batch held, and returns the page the range starts at in
    /// the first one. `EINVAL` for offsets past the largest `loff_t`, as
    /// `memfd_pin_folios()` sees them.
    fn pin(&mut self, file: &File, from: u64, npages: usize) -> Result<usize> {
        self.release();
        let npages = npages.min(self.folios.capacity());
        let bytes = (npages as u64)
            .checked_mul(PAGE_SIZE as u64)
            .ok_or(EINVAL)?;
        let last = from
            .checked_add(bytes.checked_sub(1).ok_or(EINVAL)?)
            .ok_or(EINVAL)?;
        let start = i64::try_from(from).map_err(|_| EINVAL)?;
        let end = i64::try_from(last).map_err(|_| EINVAL)?;
        let max = c_uint::try_from(npages).map_err(|_| EINVAL)?;
        let mut offset: c_ulong = 0;
        // SAFETY: the buffer has room for `max` entries; the file is
        // referenced for the call.
        let got = unsafe {
            bindings::memfd_pin_folios(
                file.as_ptr(),
                start,
                end,
                self.folios.spare_capacity_mut().as_mut_ptr().cast(),
                max,
                &mut offset,
            )
        };
        if got < 0 {
            return Err(Error::from_errno(got as c_int));
        }
        if got == 0 {
            return Err(EFAULT);
        }
        // SAFETY: the call wrote `got` entries, at most `max`.
        // INVARIANT: each holds the pin the call took.
        unsafe { self.folios.inc_len((got as usize).min(npages)) };
        Ok(offset as usize >> PAGE_SHIFT)
    }

    /// The next folio, whose pin the caller now owns.
    fn take(&mut self) -> Option<*mut bindings::folio> {
        let folio = *self.folios.get(self.next)?;
        // INVARIANT: the pin of this entry leaves with it.
        self.next += 1;
        Some(folio)
    }
}

impl Drop for FolioBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// Releases a pin of `folio`.
///
/// # Safety
///
/// The caller owns one pin of `folio` and gives it up here.
unsafe fn unpin_folio(folio: *mut bindings::folio) {
    // SAFETY: the caller's pin (the function's contract), given back once.
    unsafe { bindings::unpin_folio(folio) };
}

impl PinnedPages {
    /// Pins `npages` pages of the memfd `file` from the page-aligned byte
    /// offset `start`, and charges them to `account` once all are pinned,
    /// as [`PinnedPages::pin`] does for user memory. `EINVAL` (from
    /// `memfd_pin_folios()`) if `file` is not a memfd or the range passes
    /// its end or the largest file offset; `ENOMEM` past `RLIMIT_MEMLOCK`.
    /// Nothing stays pinned or charged on failure.
    pub(crate) fn pin_file(
        account: &Arc<PinAccount>,
        file: &File,
        start: u64,
        npages: usize,
    ) -> Result<Self> {
        fault_inject::inject(ENOMEM)?;
        // INVARIANT: holds only what was pinned; the drop releases it.
        let mut this = Self {
            pages: KVVec::with_capacity(npages, GFP_KERNEL_ACCOUNT)?,
            charge: None,
        };
        let mut folios = FolioBatch::new(pin_batch().min(npages))?;
        while this.pages.len() < npages {
            let done = this.pages.len();
            let want = (npages - done).min(folios.folios.capacity());
            fault_inject::inject(EFAULT)?;
            let from = start
                .checked_add(done as u64 * PAGE_SIZE as u64)
                .ok_or(EINVAL)?;
            let mut offset = folios.pin(file, from, want)?;
            let mut left = want;
            while left != 0 {
                let Some(folio) = folios.take() else {
                    break;
                };
                left -= this.add_folio(folio, offset, left)?;
                offset = 0;
            }
            if left == want {
                return Err(EFAULT);
            }
        }
        let first = usize::try_from(start).map_err(|_| EOVERFLOW)?;
        this.charge = Some(Charge::new(account, first, npages)?);
        Ok(this)
    }

    /// Takes up to `room` pages of the pinned `folio` from its page
    /// `offset`, one pin each, and returns how many; the folio's own pin
    /// goes to the first of them, or is released if none is taken.
    fn add_folio(
        &mut self,
        folio: *mut bindings::folio,
        offset: usize,
        room: usize,
    ) -> Result<usize> {
        // SAFETY: a folio we hold a pin on (the caller's `take`).
        let nr = unsafe { rust_iommufd_folio_nr_pages(folio) } as usize;
        let spare = self.pages.capacity() - self.pages.len();
        let count = nr.saturating_sub(offset).min(room).min(spare);
        if count == 0 {
            // SAFETY: the pin we were handed, which no page takes.
            unsafe { unpin_folio(folio) };
            return Ok(0);
        }
        if count > 1 {
            // SAFETY: the folio is pinned, as the function requires.
            let ret = unsafe { bindings::folio_add_pins(folio, (count - 1) as c_uint) };
            if ret != 0 {
                // SAFETY: the pin we were handed; no page took it.
                unsafe { unpin_folio(folio) };
                return Err(Error::from_errno(ret));
            }
        }
        let out = self.pages.spare_capacity_mut();
        for (slot, index) in out.iter_mut().zip(offset..offset + count) {
            // SAFETY: `index` is below the folio's page count (`nr`).
            slot.write(unsafe { rust_iommufd_folio_page(folio, index as c_ulong) });
        }
        // SAFETY: the first `count` spare entries were written above
        // (`count <= spare`).
        // INVARIANT: each of them owns one of the `count` pins.
        unsafe { self.pages.inc_len(count) };
        PAGES_PINNED.add(count);
        Ok(count)
    }
}
