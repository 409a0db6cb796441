// SPDX-License-Identifier: GPL-2.0

//! The IO page table's side of access objects (in-kernel users that reach
//! the IOAS's memory with the CPU, not by DMA; the object is
//! [`crate::access`]): the list of accesses, their pins on areas, and
//! copies through the table.
//!
//! An access pin on an area pins the whole area, once: the pins a domain
//! made are shared, and the pages stay pinned while a domain or an access
//! pin needs them (upstream pins only the pages asked for; here the area
//! is the unit of pinning). An area an access pins cannot be unmapped:
//! unmap asks the accesses to let go first (see [`Unmap`]).

use kernel::{alloc::KVec, bindings, page::PAGE_SIZE, prelude::*, sync::Arc};

use super::{IoPageTable, Source, PAGE};
use crate::sys::mm::{is_current, mm_rw};

/// What an IOAS tells an access.
pub(crate) trait AccessNotify: Send + Sync {
    /// `[iova, iova + length - 1]` is being unmapped: the access must drop
    /// its pins there before returning.
    fn unmap(&self, iova: u64, length: u64);
}

/// An access attached to the table.
pub(crate) struct AccessEntry {
    /// Tells this access from the others (its address).
    pub(crate) key: usize,
    /// What its IOVAs must be aligned to: `PAGE_SIZE` if it pins pages.
    pub(crate) alignment: u64,
    /// Whom to tell about unmaps.
    pub(crate) notify: Arc<dyn AccessNotify>,
}

/// Where [`IoPageTable::unmap`] stopped.
pub(crate) enum Unmap {
    /// Every area of the range is gone.
    Done,
    /// The area at `iova`, `length` bytes, is pinned by an access: these
    /// accesses must be told without the table's lock, then unmap tried
    /// again. `moved`: the first time unmap stops at this area.
    Blocked {
        iova: u64,
        length: u64,
        moved: bool,
        notify: KVec<Arc<dyn AccessNotify>>,
    },
}

/// Part of an access copy left to the caller: `len` bytes of its buffer
/// from `offset`, to or from the calling process's memory at `addr`.
pub(crate) struct Direct {
    pub(crate) offset: usize,
    pub(crate) addr: usize,
    pub(crate) len: usize,
}

/// A slice of one area: `(key, first IOVA, last IOVA)`.
type Span = (u64, u64, u64);

impl IoPageTable {
    /// Attaches an access (`iopt_add_access`): `EADDRINUSE` if an area is
    /// not aligned as it needs.
    pub(crate) fn add_access(&mut self, entry: AccessEntry) -> Result {
        let alignment = self.iova_alignment.max(entry.alignment);
        if alignment > self.iova_alignment && !self.areas_conform(alignment) {
            return Err(EADDRINUSE);
        }
        self.accesses.push(entry, GFP_KERNEL_ACCOUNT)?;
        self.iova_alignment = alignment;
        Ok(())
    }

    /// Detaches the access `key`, relaxing the alignment it needed.
    pub(crate) fn remove_access(&mut self, key: usize) {
        self.accesses.retain(|a| a.key != key);
        self.iova_alignment = self.needed_alignment();
    }

    /// [`Self::unmap`] found the area `key` pinned by an access: marks it
    /// so no access pins it again, and names whom to tell.
    pub(super) fn blocked(&mut self, key: u64, start: &mut u64) -> Result<Unmap> {
        let mut notify = KVec::with_capacity(self.accesses.len(), GFP_KERNEL_ACCOUNT)?;
        for access in &self.accesses {
            notify.push(access.notify.clone(), GFP_KERNEL_ACCOUNT)?;
        }
        let area = self.areas.get_mut(&key).ok_or(ENOENT)?;
        area.prevent_access = true;
        let moved = area.iova != *start;
        *start = area.iova;
        Ok(Unmap::Blocked {
            iova: area.iova,
            length: area.length(),
            moved,
            notify,
        })
    }

    /// The slices of the areas that cover `[iova, last]` without a gap
    /// (`iopt_for_each_contig_area`): `ENOENT` at a gap, after `check`
    /// has seen every area before it.
    fn contig(
        &self,
        iova: u64,
        last: u64,
        mut check: impl FnMut(&super::Area, u64, u64) -> Result,
    ) -> Result<KVec<Span>> {
        let mut spans = KVec::new();
        let mut cur = iova;
        loop {
            let key = self.first_area(cur, cur).ok_or(ENOENT)?;
            let area = self.areas.get(&key).ok_or(ENOENT)?;
            let end = last.min(area.last);
            check(area, cur, end)?;
            spans.push((key, cur, end), GFP_KERNEL_ACCOUNT)?;
            if end == last {
                return Ok(spans);
            }
            cur = end + 1;
        }
    }

    /// Pins `[iova, last]` for an access (`iommufd_access_pin_pages`) and
    /// returns the physical address of each page. Every slice must start
    /// on a page, and end on one unless it is the last (`EINVAL`), allow
    /// the access (`EPERM`) and not be on its way out (`EINVAL`); `ENOENT`
    /// at a gap. Nothing stays pinned on failure. With `lock` (an internal
    /// access's pin) the areas cannot be unmapped until it is undone.
    pub(crate) fn access_pin(
        &mut self,
        iova: u64,
        last: u64,
        write: bool,
        lock: bool,
    ) -> Result<KVec<u64>> {
        let spans = self.contig(iova, last, |area, cur, end| {
            let start_byte = area.start_byte as u64 + (cur - area.iova);
            let end_byte = area.start_byte as u64 + (area.last - area.iova);
            if area.prevent_access
                || start_byte % PAGE != 0
                || (end < last && end_byte % PAGE != PAGE - 1)
            {
                return Err(EINVAL);
            }
            check_prot(area, write)
        })?;
        let mut phys = KVec::new();
        for (index, &(key, cur, end)) in spans.iter().enumerate() {
            if let Err(e) = self.pin_span(key, cur, end, lock, &mut phys) {
                for &(key, _, _) in &spans[..index] {
                    self.unpin_span(key, lock);
                }
                return Err(e);
            }
        }
        Ok(phys)
    }

    /// Pins the area `key` for one more access pin (locking it if `lock`),
    /// adding the physical address of each page of `[cur, end]` to `phys`.
    fn pin_span(
        &mut self,
        key: u64,
        cur: u64,
        end: u64,
        lock: bool,
        phys: &mut KVec<u64>,
    ) -> Result {
        let domains = !self.domains.is_empty();
        let area = self.areas.get_mut(&key).ok_or(ENOENT)?;
        area.pin()?;
        let first_page = area.start_byte as u64 / PAGE;
        let page_of = |iova: u64| (area.start_byte as u64 + (iova - area.iova)) / PAGE - first_page;
        let result = (|| {
            let pins = area.pins.as_ref().ok_or(EINVAL)?;
            for index in page_of(cur)..=page_of(end) {
                let addr = pins.phys(index as usize).ok_or(EINVAL)?;
                phys.push(addr, GFP_KERNEL_ACCOUNT)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                area.access_users += 1;
                area.locks += u32::from(lock);
                Ok(())
            }
            Err(e) => {
                area.unpin_unused(domains);
                Err(e)
            }
        }
    }

    /// Drops one access pin of the area `key` (one that locked it if
    /// `lock`).
    fn unpin_span(&mut self, key: u64, lock: bool) {
        let domains = !self.domains.is_empty();
        if let Some(area) = self.areas.get_mut(&key) {
            area.access_users = area.access_users.saturating_sub(1);
            if lock {
                area.locks = area.locks.saturating_sub(1);
            }
            area.unpin_unused(domains);
        }
    }

    /// Undoes [`Self::access_pin`] of `[iova, last]`
    /// (`iommufd_access_unpin_pages`); unpins what no domain and no other
    /// access pin needs. Pinned areas cannot go, so the areas found are
    /// the ones pinned. `lock` as the pin was made.
    pub(crate) fn access_unpin(&mut self, iova: u64, last: u64, lock: bool) {
        let mut cur = iova;
        while let Some(key) = self.first_area(cur, last) {
            let Some(area_last) = self.areas.get(&key).map(|a| a.last) else {
                break;
            };
            self.unpin_span(key, lock);
            if area_last >= last {
                break;
            }
            cur = area_last + 1;
        }
    }

    /// Copies between `buf` and the memory under `[iova, iova + len - 1]`
    /// (`iommufd_access_rw`), to the memory if `write`: from the pinned
    /// pages where the area is pinned (what a device sees), else through
    /// the address space it was mapped from (file pages: pinned for the
    /// copy). With `direct`, slices of
    /// unpinned areas of the calling process are not copied but returned,
    /// for the caller to copy with the lock released (upstream's fast
    /// path). `EPERM` if an area does not allow it, `EINVAL` while an area
    /// is being unmapped, `ENOENT` at a gap, `EFAULT` if the memory cannot
    /// be reached.
    pub(crate) fn access_rw(
        &self,
        iova: u64,
        buf: &mut [u8],
        write: bool,
        direct: bool,
    ) -> Result<KVec<Direct>> {
        let len = buf.len() as u64;
        let last = iova
            .checked_add(len.checked_sub(1).ok_or(EINVAL)?)
            .ok_or(EOVERFLOW)?;
        let spans = self.contig(iova, last, |area, _, _| {
            if area.prevent_access {
                return Err(EINVAL);
            }
            check_prot(area, write)
        })?;
        let mut later = KVec::new();
        let mut done = 0usize;
        for (key, cur, end) in spans {
            let area = self.areas.get(&key).ok_or(ENOENT)?;
            let bytes = (end - cur + 1) as usize;
            let chunk = buf.get_mut(done..done + bytes).ok_or(EINVAL)?;
            let byte = area.start_byte + (cur - area.iova) as usize;
            match (&area.pins, &area.pages.source) {
                // The pins start at the page of the area's first byte.
                (Some(pins), _) => {
                    pins.rw(byte - area.start_byte / PAGE_SIZE * PAGE_SIZE, chunk, write)?
                }
                // File pages are pinned for the copy.
                (None, Source::File { .. }) => area.pages.rw_unpinned(byte, chunk, write)?,
                (None, Source::User { uptr }) if direct && is_current(area.pages.account.mm()) => {
                    later.push(
                        Direct {
                            offset: done,
                            addr: uptr + byte,
                            len: bytes,
                        },
                        GFP_KERNEL_ACCOUNT,
                    )?;
                }
                (None, Source::User { uptr }) => {
                    mm_rw(area.pages.account.mm(), uptr + byte, chunk, write)?
                }
            }
            done += bytes;
        }
        Ok(later)
    }

    /// The IOVA of the `nth` area (lowest first): how the selftest turns
    /// syzkaller's small numbers into IOVAs that exist.
    pub(crate) fn nth_area_iova(&self, nth: u32) -> Option<u64> {
        self.areas.values().nth(nth as usize).map(|a| a.iova)
    }
}

/// Whether `area` allows an access that writes (`write`) or reads:
/// `EPERM` if its protection or its memory does not.
fn check_prot(area: &super::Area, write: bool) -> Result {
    let ok = if write {
        area.prot & bindings::IOMMU_WRITE != 0 && area.pages.writable
    } else {
        area.prot & bindings::IOMMU_READ != 0
    };
    if ok {
        Ok(())
    } else {
        Err(EPERM)
    }
}
