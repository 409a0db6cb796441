// SPDX-License-Identifier: GPL-2.0

//! File-backed memory of the IO page table (`IOMMU_IOAS_MAP_FILE`): the
//! [`Pages`] of a memfd, and what `IOMMU_IOAS_CHANGE_PROCESS` needs of the
//! table.
//!
//! As upstream's `iopt_alloc_file_pages`, naming the memory checks only the
//! range: whether the file is a memfd, and whether the range is inside it,
//! is found out when the pages are pinned (`EINVAL` from
//! `memfd_pin_folios()`), at once with a domain, else at the first access
//! pin or copy. The mapping keeps a reference to the file, so closing the
//! descriptor changes nothing.

use kernel::{alloc::KVec, fs::File, page::PAGE_SIZE, prelude::*, sync::aref::ARef, sync::Arc};

use super::{IoPageTable, Pages, Source};
use crate::sys::account::{PinAccount, PinLedger};

impl Pages {
    /// The pages under `length` bytes of `file` from byte offset `start`
    /// (`iopt_alloc_file_pages`), charged as [`Pages::user`]'s are, and the
    /// offset of the first byte in the first page. `EINVAL` for an empty
    /// or enormous range; the caller has checked that `start + length - 1`
    /// does not overflow (`EOVERFLOW`, before the file is looked up).
    pub(crate) fn file(
        file: ARef<File>,
        start: u64,
        length: u64,
        writable: bool,
        ledger: &Arc<PinLedger>,
        mm_mode: bool,
    ) -> Result<(Arc<Self>, usize)> {
        let length = usize::try_from(length).map_err(|_| EINVAL)?;
        if length == 0 || length > usize::MAX - PAGE_SIZE {
            return Err(EINVAL);
        }
        let start_byte = (start % PAGE_SIZE as u64) as usize;
        let account = PinAccount::current(ledger, mm_mode)?;
        let pages = Arc::new(
            Self {
                account,
                source: Source::File {
                    file,
                    start: start - start_byte as u64,
                },
                npages: (length + start_byte).div_ceil(PAGE_SIZE),
                writable,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok((pages, start_byte))
    }

    /// Copies between `buf` and the pages from byte `byte` of the first
    /// page (to them if `write`) while no domain or access holds them
    /// pinned: the pages under the range are pinned, and charged, for the
    /// copy (upstream's `iopt_pages_rw_slow`).
    pub(super) fn rw_unpinned(&self, byte: usize, buf: &mut [u8], write: bool) -> Result {
        let Some(last) = byte.checked_add(buf.len().saturating_sub(1)) else {
            return Err(EINVAL);
        };
        let first = byte / PAGE_SIZE;
        let npages = last / PAGE_SIZE - first + 1;
        if first + npages > self.npages {
            return Err(EINVAL);
        }
        let pins = self.pin(first, npages)?;
        pins.rw(byte % PAGE_SIZE, buf, write)
    }
}

impl IoPageTable {
    /// Adds the accounts of every area's memory to `accounts`, for
    /// `IOMMU_IOAS_CHANGE_PROCESS`: `EINVAL` if an area maps user memory,
    /// whose pins belong to the address space it is in.
    pub(crate) fn file_accounts(&self, accounts: &mut KVec<Arc<PinAccount>>) -> Result {
        for area in self.areas.values() {
            if !matches!(area.pages.source, Source::File { .. }) {
                return Err(EINVAL);
            }
            let account = &area.pages.account;
            if !accounts.iter().any(|a| Arc::ptr_eq(a, account)) {
                accounts.push(account.clone(), GFP_KERNEL_ACCOUNT)?;
            }
        }
        Ok(())
    }
}
