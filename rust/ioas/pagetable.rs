// SPDX-License-Identifier: GPL-2.0

//! The IO page table of an IOAS: what IOVA maps which user memory, which
//! IOVA may be allocated (allowed ranges) and which may not be used at all
//! (reserved ranges), and the paging domains that mirror the mappings.
//!
//! An *area* is one mapping: a byte range of IOVA over a byte range of
//! user memory ([`Pages`]). Its pages are pinned while the table has a
//! domain, and mapped into every domain; with no domain an area is only a
//! reference to the memory, as upstream's (pages are pinned lazily, when
//! the first domain needs them).
//!
//! The rules and errnos are upstream's (drivers/iommu/iommufd/
//! io_pagetable.c): IOVA allocation finds the same IOVA for the same
//! requests, and a range that cuts an area is never split.

use kernel::{
    alloc::KVec,
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::Arc,
};

use crate::sys::{
    account::PinAccount,
    fault_inject,
    iommu::{Domain, MappedDomain},
    pages::{PageRef, PinnedPages},
};

mod access;

pub(crate) use access::{AccessEntry, AccessNotify, Unmap};

const PAGE: u64 = PAGE_SIZE as u64;

/// The largest alignment automatic IOVA allocation keeps from the user
/// address: a huge page where transparent huge pages exist, else a page.
#[cfg(CONFIG_TRANSPARENT_HUGEPAGE)]
const MAX_ALLOC_ALIGNMENT: u64 = 1 << 21;
#[cfg(not(CONFIG_TRANSPARENT_HUGEPAGE))]
const MAX_ALLOC_ALIGNMENT: u64 = PAGE;

/// User memory one `IOMMU_IOAS_MAP` named: whole pages from `uptr`, in the
/// address space it was mapped from.
pub(crate) struct Pages {
    /// The address space (held by `mmgrab`, not as a user) and who pays
    /// for pins of it.
    account: Arc<PinAccount>,
    /// First byte of the first page.
    uptr: usize,
    /// Pages from `uptr`.
    npages: usize,
    /// Pinned for writing; mappings may be writable.
    writable: bool,
}

impl Pages {
    /// The pages under `length` bytes of the calling process from `uptr`
    /// (`iopt_alloc_user_pages`), their pins charged as upstream charges
    /// them: to nobody with `CAP_IPC_LOCK`, else to the process if
    /// `mm_mode` (`IOMMU_OPTION_RLIMIT_MODE` 1), else to the user.
    /// `EOVERFLOW` past the end of the address space, `EINVAL` for an
    /// empty or enormous range.
    pub(crate) fn user(
        uptr: u64,
        length: u64,
        writable: bool,
        mm_mode: bool,
    ) -> Result<(Arc<Self>, usize)> {
        let uptr = usize::try_from(uptr).map_err(|_| EOVERFLOW)?;
        let length = usize::try_from(length).map_err(|_| EOVERFLOW)?;
        uptr.checked_add(length).ok_or(EOVERFLOW)?;
        if length == 0 || length > usize::MAX - PAGE_SIZE {
            return Err(EINVAL);
        }
        let start_byte = uptr % PAGE_SIZE;
        let account = PinAccount::current(mm_mode)?;
        let pages = Arc::new(
            Self {
                account,
                uptr: uptr - start_byte,
                npages: (length + start_byte).div_ceil(PAGE_SIZE),
                writable,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok((pages, start_byte))
    }
}

/// A slice of user memory to map: `length` bytes of `pages` from
/// `start_byte`.
pub(crate) struct Piece {
    pages: Arc<Pages>,
    start_byte: usize,
    length: u64,
}

/// One mapping of the table, keyed in it by its first IOVA.
struct Area {
    /// First IOVA (the key).
    iova: u64,
    /// Last IOVA (inclusive).
    last: u64,
    pages: Arc<Pages>,
    /// Offset of the area's first byte from the first byte of `pages`.
    start_byte: usize,
    /// `IOMMU_READ` / `IOMMU_WRITE` / `IOMMU_CACHE`.
    prot: u32,
    /// The area's pages, pinned while the table has a domain or an access
    /// pins them.
    pins: Option<PinnedPages>,
    /// Pins of accesses on the area (see `access.rs`).
    access_users: u32,
    /// Set by an unmap waiting for accesses to let go: no new access pin.
    prevent_access: bool,
}

impl Area {
    /// Bytes mapped.
    fn length(&self) -> u64 {
        self.last - self.iova + 1
    }

    /// Offset into the area's first page.
    fn page_offset(&self) -> u64 {
        (self.start_byte % PAGE_SIZE) as u64
    }

    /// Pins the area's pages, if they are not pinned yet.
    fn pin(&mut self) -> Result {
        if self.pins.is_some() {
            return Ok(());
        }
        let first = self.start_byte / PAGE_SIZE;
        let npages = (self.page_offset() + self.length()).div_ceil(PAGE) as usize;
        if first + npages > self.pages.npages {
            return Err(EOVERFLOW);
        }
        let uptr = self.pages.uptr + first * PAGE_SIZE;
        let pins = PinnedPages::pin(&self.pages.account, uptr, npages, self.pages.writable)?;
        self.pins = Some(pins);
        Ok(())
    }

    /// Maps the (pinned) area into `domain`, physically contiguous runs of
    /// pages at a time (a page at a time if `small`). On failure nothing of
    /// the area stays mapped there.
    fn fill(&self, domain: &MappedDomain, small: bool) -> Result {
        let pins = self.pins.as_ref().ok_or(EINVAL)?;
        let (length, offset) = (self.length(), self.page_offset());
        let mut done = 0u64;
        while done < length {
            let index = ((offset + done) / PAGE) as usize;
            let in_page = (offset + done) % PAGE;
            let phys = pins.phys(index).ok_or(EINVAL)?;
            // Extend over the following pages while they are contiguous.
            let mut run = PAGE - in_page;
            let mut next = index + 1;
            while !small
                && done + run < length
                && pins.phys(next) == Some(phys + (next - index) as u64 * PAGE)
            {
                run += PAGE;
                next += 1;
            }
            let run = run.min(length - done);
            // One injection point per fill, at the run holding the area's
            // middle byte: a failure there leaves a part mapped to undo.
            let middle = (done..done + run).contains(&(length / 2));
            let mapped = if middle {
                fault_inject::inject(ENOMEM)
            } else {
                Ok(())
            }
            .and_then(|()| domain.map(self.iova + done, phys + in_page, run, self.prot));
            if let Err(e) = mapped {
                if done != 0 {
                    domain.unmap(self.iova, done);
                }
                return Err(e);
            }
            done += run;
        }
        Ok(())
    }

    /// Unmaps the area from `domain`, where [`Self::fill`] mapped it.
    fn unfill(&self, domain: &MappedDomain) {
        domain.unmap(self.iova, self.length());
    }

    /// Unpins the area unless a domain (`domains`) or an access needs it.
    fn unpin_unused(&mut self, domains: bool) {
        if !domains && self.access_users == 0 {
            self.pins = None;
        }
    }
}

/// A range no mapping and no allocation may use, and who made it.
struct Reserved {
    start: u64,
    last: u64,
    /// The domain whose aperture this bounds, 0 for a selftest reservation.
    owner: usize,
}

/// The IO page table of one IOAS.
pub(crate) struct IoPageTable {
    /// Mappings, by first IOVA; they never overlap.
    areas: RBTree<u64, Area>,
    /// Where automatic allocation may place mappings: disjoint
    /// `(start, last)`; empty allows everything.
    allowed: KVec<(u64, u64)>,
    /// Reserved ranges; they may overlap each other.
    reserved: KVec<Reserved>,
    /// The domains every area is mapped into.
    domains: KVec<MappedDomain>,
    /// What every mapping's IOVA, length and page offset must be aligned
    /// to: the largest of the domains' smallest page sizes, 1 without one
    /// (at least `PAGE_SIZE` with large pages off).
    iova_alignment: u64,
    /// `IOMMU_OPTION_HUGE_PAGES` 0: domains are mapped a page at a time.
    no_large_pages: bool,
    /// The accesses attached to the IOAS.
    accesses: KVec<AccessEntry>,
}

/// Sorts a few ranges (reservations, allowed ranges: a handful) by start.
fn sort_ranges(ranges: &mut [(u64, u64)]) {
    for i in 1..ranges.len() {
        let mut j = i;
        while j > 0 && ranges[j - 1] > ranges[j] {
            ranges.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Whether `[a_start, a_last]` and `[b_start, b_last]` share an IOVA.
fn overlaps(a_start: u64, a_last: u64, b_start: u64, b_last: u64) -> bool {
    a_start <= b_last && b_start <= a_last
}

/// Upstream's test of a candidate range for automatic allocation: the
/// start rounded up to `align`, with the user address's offset in its page
/// put back, must leave `length` bytes before `last`.
fn fit(start: u64, last: u64, length: u64, align: u64, page_offset: u64) -> Option<u64> {
    let aligned = (start.checked_add(align - 1)? & !(align - 1)) | page_offset;
    if aligned >= last || last - aligned < length - 1 {
        return None;
    }
    Some(aligned)
}

/// The maximal runs of `ranges` (sorted by start; may overlap or touch)
/// clipped to `[lo, hi]`, and the holes between them: calls `f(start,
/// last, used)` in IOVA order until it returns `Some`.
fn spans<T>(
    ranges: &[(u64, u64)],
    lo: u64,
    hi: u64,
    mut f: impl FnMut(u64, u64, bool) -> Option<T>,
) -> Option<T> {
    let mut cur = lo;
    let mut iter = ranges.iter().filter(|r| r.1 >= lo && r.0 <= hi).peekable();
    while let Some(&(start, last)) = iter.next() {
        let start = start.max(lo);
        let mut last = last.min(hi);
        // Merge what overlaps or touches this run.
        while let Some(&&(s, l)) = iter.peek() {
            if s > last.saturating_add(1) {
                break;
            }
            last = last.max(l.min(hi));
            iter.next();
        }
        if start > cur {
            if let Some(t) = f(cur, start - 1, false) {
                return Some(t);
            }
        }
        if let Some(t) = f(start, last, true) {
            return Some(t);
        }
        if last >= hi {
            return None;
        }
        cur = last + 1;
    }
    f(cur, hi, false)
}

impl IoPageTable {
    /// An empty table: no mapping, no restriction, no domain.
    pub(crate) fn new() -> Self {
        Self {
            areas: RBTree::new(),
            allowed: KVec::new(),
            reserved: KVec::new(),
            domains: KVec::new(),
            iova_alignment: 1,
            no_large_pages: false,
            accesses: KVec::new(),
        }
    }

    /// Whether domains may be mapped with pages larger than `PAGE_SIZE`.
    pub(crate) fn large_pages(&self) -> bool {
        !self.no_large_pages
    }

    /// `IOMMU_OPTION_HUGE_PAGES`: turning large pages off is refused
    /// (`EINVAL`) once a domain maps an area, and needs every area to be
    /// page aligned (`EADDRINUSE`).
    pub(crate) fn set_large_pages(&mut self, on: bool) -> Result {
        if on {
            self.no_large_pages = false;
            self.iova_alignment = self.needed_alignment();
            return Ok(());
        }
        if self.no_large_pages {
            return Ok(());
        }
        if !self.domains.is_empty() && !self.areas.is_empty() {
            return Err(EINVAL);
        }
        self.no_large_pages = true;
        let alignment = self.needed_alignment();
        if alignment > self.iova_alignment && !self.areas_conform(alignment) {
            self.no_large_pages = false;
            return Err(EADDRINUSE);
        }
        self.iova_alignment = alignment;
        Ok(())
    }

    /// The alignment the domains, the accesses and the large page option
    /// need (`iopt_calculate_iova_alignment`).
    fn needed_alignment(&self) -> u64 {
        let floor = if self.no_large_pages { PAGE } else { 1 };
        let domains = self
            .domains
            .iter()
            .map(|d| 1u64 << d.pgsize_bitmap().trailing_zeros().min(63))
            .fold(floor, u64::max);
        self.accesses
            .iter()
            .map(|a| a.alignment)
            .fold(domains, u64::max)
    }

    /// Whether every area is aligned to `alignment` (IOVA, length and page
    /// offset).
    fn areas_conform(&self, alignment: u64) -> bool {
        let mask = alignment - 1;
        !self
            .areas
            .values()
            .any(|a| a.iova & mask != 0 || a.length() & mask != 0 || a.page_offset() & mask != 0)
    }

    /// The alignment mappings must have (`out_iova_alignment`).
    pub(crate) fn iova_alignment(&self) -> u64 {
        self.iova_alignment
    }

    /// The key of the first area (lowest IOVA) that overlaps
    /// `[start, last]`.
    fn first_area(&self, start: u64, last: u64) -> Option<u64> {
        let candidate = match self.areas.cursor_lower_bound(&start) {
            Some(cursor) => {
                if let Some((key, area)) = cursor.peek_prev() {
                    if area.last >= start {
                        return Some(*key);
                    }
                }
                *cursor.current().0
            }
            None => {
                let cursor = self.areas.cursor_back()?;
                let (key, area) = cursor.current();
                if area.last >= start {
                    return Some(*key);
                }
                return None;
            }
        };
        (candidate <= last).then_some(candidate)
    }

    fn reserved_overlaps(&self, start: u64, last: u64) -> bool {
        self.reserved
            .iter()
            .any(|r| overlaps(r.start, r.last, start, last))
    }

    fn allowed_overlaps(&self, start: u64, last: u64) -> bool {
        self.allowed
            .iter()
            .any(|&(s, l)| overlaps(s, l, start, last))
    }

    /// `iopt_check_iova`: may `length` bytes be mapped at `iova`?
    fn check_iova(&self, iova: u64, length: u64) -> Result {
        if iova & (self.iova_alignment - 1) != 0 {
            return Err(EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(EOVERFLOW)?;
        if self.reserved_overlaps(iova, last) {
            return Err(EINVAL);
        }
        if self.first_area(iova, last).is_some() {
            return Err(EEXIST);
        }
        Ok(())
    }

    /// Finds an IOVA for `length` bytes of user memory at `addr`, as
    /// upstream's `iopt_alloc_iova` does: the lowest fitting one, in the
    /// allowed ranges, outside every reservation and area, never 0, and
    /// aligned as the user address is (up to a page, or a huge page with
    /// transparent huge pages), keeping its offset in the page.
    fn alloc_iova(&self, addr: u64, length: u64) -> Result<u64> {
        let page_offset = addr % PAGE;
        if length == 0 || length >= u64::MAX / 2 {
            return Err(EOVERFLOW);
        }
        let mut align = length.next_power_of_two();
        if addr != 0 {
            align = align.min(1 << addr.trailing_zeros());
        }
        align = align.min(MAX_ALLOC_ALIGNMENT);
        if align < self.iova_alignment {
            return Err(EINVAL);
        }
        // What is in use: reservations and areas, sorted by start (the
        // areas already are).
        let reserved = self.sorted_reserved()?;
        let mut used = KVec::with_capacity(
            reserved.len() + self.areas.iter().count(),
            GFP_KERNEL_ACCOUNT,
        )?;
        let mut pending = reserved.iter().copied().peekable();
        for (_, area) in self.areas.iter() {
            while let Some(r) = pending.next_if(|r| r.0 <= area.iova) {
                used.push(r, GFP_KERNEL_ACCOUNT)?;
            }
            used.push((area.iova, area.last), GFP_KERNEL_ACCOUNT)?;
        }
        for r in pending {
            used.push(r, GFP_KERNEL_ACCOUNT)?;
        }
        let mut allowed = KVec::with_capacity(self.allowed.len().max(1), GFP_KERNEL_ACCOUNT)?;
        if self.allowed.is_empty() {
            allowed.push((0, u64::MAX), GFP_KERNEL_ACCOUNT)?;
        } else {
            allowed.extend_from_slice(&self.allowed, GFP_KERNEL_ACCOUNT)?;
            sort_ranges(&mut allowed);
        }
        let found = spans(
            &allowed,
            PAGE,
            u64::MAX - PAGE,
            |start, last, is_allowed| {
                if !is_allowed {
                    return None;
                }
                let start = fit(start, last, length, align, page_offset)?;
                spans(&used, start, last, |hole, hole_last, is_used| {
                    if is_used {
                        return None;
                    }
                    fit(hole, hole_last, length, align, page_offset)
                })
            },
        );
        found.ok_or(ENOSPC)
    }

    /// Maps `length` bytes of `pages` from `start_byte` at `iova` (or at an
    /// IOVA found for them) with `prot`, into every domain; returns the
    /// IOVA. Pins the memory if the table has a domain.
    pub(crate) fn map(
        &mut self,
        pages: Arc<Pages>,
        start_byte: usize,
        length: u64,
        iova: Option<u64>,
        prot: u32,
    ) -> Result<u64> {
        let mut pieces = KVec::with_capacity(1, GFP_KERNEL_ACCOUNT)?;
        pieces.push(
            Piece {
                pages,
                start_byte,
                length,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        self.map_pieces(pieces, length, iova, prot)
    }

    /// Maps `pieces` back to back, `length` bytes in all, at `iova` or at
    /// an IOVA found for the first piece's user address
    /// (`iopt_map_pages`): one area per piece, all or none.
    pub(crate) fn map_pieces(
        &mut self,
        pieces: KVec<Piece>,
        length: u64,
        iova: Option<u64>,
        prot: u32,
    ) -> Result<u64> {
        // Allocated first, so that nothing fails after the domains are
        // filled.
        let mut areas = KVec::with_capacity(pieces.len(), GFP_KERNEL_ACCOUNT)?;
        for piece in pieces {
            let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
            let area = Area {
                iova: 0,
                last: 0,
                pages: piece.pages,
                start_byte: piece.start_byte,
                prot,
                pins: None,
                access_users: 0,
                prevent_access: false,
            };
            areas.push((node, area, piece.length), GFP_KERNEL_ACCOUNT)?;
        }
        if length & (self.iova_alignment - 1) != 0 || length == 0 {
            return Err(EINVAL);
        }
        let first = areas.first().ok_or(EINVAL)?;
        let iova = match iova {
            Some(iova) => {
                self.check_iova(iova, length)?;
                iova
            }
            None => {
                let addr = (first.1.pages.uptr + first.1.start_byte) as u64;
                self.alloc_iova(addr, length)?
            }
        };
        let mut next = iova;
        for (_, area, len) in areas.iter_mut() {
            if prot & bindings::IOMMU_WRITE != 0 && !area.pages.writable {
                return Err(EPERM);
            }
            if area.page_offset() & (self.iova_alignment - 1) != 0 {
                return Err(EINVAL);
            }
            area.iova = next;
            area.last = next.checked_add(*len - 1).ok_or(EOVERFLOW)?;
            (area.start_byte as u64)
                .checked_add(*len - 1)
                .ok_or(EOVERFLOW)?;
            next = area.last.wrapping_add(1);
        }
        if !self.domains.is_empty() {
            for index in 0..areas.len() {
                if let Err(e) = self.fill_area(&mut areas[index].1) {
                    for (_, done, _) in &areas[..index] {
                        for domain in &self.domains {
                            done.unfill(domain);
                        }
                    }
                    return Err(e);
                }
            }
        }
        for (node, area, _) in areas {
            let key = area.iova;
            self.areas.insert(node.into_node(key, area));
        }
        Ok(iova)
    }

    /// Pins `area` and maps it into every domain; on failure nothing of it
    /// stays mapped.
    fn fill_area(&self, area: &mut Area) -> Result {
        area.pin()?;
        for (index, domain) in self.domains.iter().enumerate() {
            if let Err(e) = area.fill(domain, self.no_large_pages) {
                for done in &self.domains[..index] {
                    area.unfill(done);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// The pieces of memory behind `[iova, iova + length - 1]`
    /// (`iopt_get_pages`): the areas there must follow each other without
    /// a gap from the one that holds `iova` (`ENOENT` otherwise).
    pub(crate) fn get_pages(&self, iova: u64, length: u64) -> Result<KVec<Piece>> {
        if length == 0 {
            return Err(EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(EOVERFLOW)?;
        let mut pieces = KVec::new();
        let mut cur = iova;
        let mut key = self.first_area(cur, cur).ok_or(ENOENT)?;
        loop {
            let area = self.areas.get(&key).ok_or(ENOENT)?;
            if area.iova > cur {
                return Err(ENOENT);
            }
            let end = last.min(area.last);
            pieces.push(
                Piece {
                    pages: area.pages.clone(),
                    start_byte: area.start_byte + (cur - area.iova) as usize,
                    length: end - cur + 1,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
            if end == last {
                return Ok(pieces);
            }
            cur = end + 1;
            key = self.first_area(cur, cur).ok_or(ENOENT)?;
        }
    }

    /// Unmaps every area inside `[*start, last]`, lowest first, adding
    /// the bytes unmapped to `unmapped`: `ENOENT` at the first area the
    /// range covers only in part (areas before it stay unmapped, as
    /// upstream's). Stops at an area an access pins, with `*start` at it:
    /// the caller tells the accesses without the lock and calls again.
    pub(crate) fn unmap(
        &mut self,
        start: &mut u64,
        last: u64,
        unmapped: &mut u64,
    ) -> Result<Unmap> {
        while let Some(key) = self.first_area(*start, last) {
            let Some(area) = self.areas.get_mut(&key) else {
                break;
            };
            if area.iova < *start || area.last > last {
                return Err(ENOENT);
            }
            if area.access_users != 0 {
                return self.blocked(key, start);
            }
            let Some(area) = self.areas.remove(&key) else {
                break;
            };
            for domain in &self.domains {
                area.unfill(domain);
            }
            *unmapped += area.length();
            let area_last = area.last;
            // Unpinned here, once no domain maps the pages.
            drop(area);
            if area_last >= last {
                break;
            }
            *start = area_last + 1;
        }
        Ok(Unmap::Done)
    }

    /// The page `domain` (a domain of this table) translates `iova` to, if
    /// the area there allows every access in `prot` (`IOMMU_READ`,
    /// `IOMMU_WRITE`): what a mock device's DMA reaches. The reference
    /// keeps the page after the table's lock is released; an unmap that
    /// races with the DMA then only takes the translation away, as an
    /// IOTLB flush would.
    /// Returns the page and the offset of `iova`'s byte in it.
    pub(crate) fn dma_page(
        &self,
        domain: &Domain,
        iova: u64,
        prot: u32,
    ) -> Option<(PageRef, usize)> {
        let area = self.areas.get(&self.first_area(iova, iova)?)?;
        if area.iova > iova || area.prot & prot != prot {
            return None;
        }
        let phys = domain.iova_to_phys(iova);
        if phys == 0 {
            return None;
        }
        // SAFETY: `domain` maps only pages the table's areas pin, and the
        // table cannot unmap or unpin them while `&self` is borrowed.
        let page = unsafe { PageRef::get(phys) }?;
        Some((page, (phys % PAGE) as usize))
    }

    /// Reserves `[start, last]` for `owner` (0: a selftest reservation):
    /// `EADDRINUSE` if an area or an allowed range is there.
    pub(crate) fn reserve(&mut self, start: u64, last: u64, owner: usize) -> Result {
        if self.first_area(start, last).is_some() || self.allowed_overlaps(start, last) {
            return Err(EADDRINUSE);
        }
        self.reserved
            .push(Reserved { start, last, owner }, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    fn unreserve(&mut self, owner: usize) {
        self.reserved.retain(|r| r.owner != owner);
    }

    /// Replaces the allowed ranges (disjoint, checked by the caller):
    /// `EADDRINUSE`, and no change, if one overlaps a reservation.
    pub(crate) fn set_allowed(&mut self, allowed: KVec<(u64, u64)>) -> Result {
        if allowed.iter().any(|&(s, l)| self.reserved_overlaps(s, l)) {
            return Err(EADDRINUSE);
        }
        self.allowed = allowed;
        Ok(())
    }

    /// The reservations as `(start, last)`, sorted.
    fn sorted_reserved(&self) -> Result<KVec<(u64, u64)>> {
        let mut reserved = KVec::with_capacity(self.reserved.len(), GFP_KERNEL_ACCOUNT)?;
        for r in &self.reserved {
            reserved.push((r.start, r.last), GFP_KERNEL_ACCOUNT)?;
        }
        sort_ranges(&mut reserved);
        Ok(reserved)
    }

    /// The IOVA ranges no reservation covers, lowest first.
    pub(crate) fn iova_ranges(&self) -> Result<KVec<(u64, u64)>> {
        let reserved = self.sorted_reserved()?;
        let mut holes = KVec::new();
        let failed = spans(&reserved, 0, u64::MAX, |start, last, used| {
            if used {
                return None;
            }
            holes.push((start, last), GFP_KERNEL_ACCOUNT).err()
        });
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(holes),
        }
    }

    /// Adds a domain (`iopt_table_add_domain`): reserves what lies outside
    /// its aperture, pins every area if it is the first domain and maps
    /// every area into it. On failure the table is as before.
    pub(crate) fn add_domain(&mut self, domain: MappedDomain) -> Result {
        if self.domains.iter().any(|d| d.key() == domain.key()) {
            return Err(EEXIST);
        }
        let pgsize = domain.pgsize_bitmap();
        if pgsize == 0 {
            return Err(EINVAL);
        }
        let alignment = (1u64 << pgsize.trailing_zeros()).max(self.iova_alignment);
        if alignment > PAGE {
            return Err(EINVAL);
        }
        if alignment != self.iova_alignment && !self.areas_conform(alignment) {
            return Err(EADDRINUSE);
        }
        let key = domain.key();
        if let Err(e) = self.reserve_aperture(&domain) {
            self.unreserve(key);
            return Err(e);
        }
        if let Err(e) = self.domains.reserve(1, GFP_KERNEL_ACCOUNT) {
            self.unreserve(key);
            return Err(e.into());
        }
        if let Err(e) = self.fill_domain(&domain) {
            self.unreserve(key);
            return Err(e);
        }
        self.iova_alignment = alignment;
        // Room was reserved above.
        self.domains.push(domain, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    fn reserve_aperture(&mut self, domain: &MappedDomain) -> Result {
        let (start, end) = domain.aperture();
        if start != 0 {
            self.reserve(0, start - 1, domain.key())?;
        }
        if end != u64::MAX {
            self.reserve(end + 1, u64::MAX, domain.key())?;
        }
        Ok(())
    }

    /// Maps every area into `domain`, pinning them first if no other
    /// domain holds them; undoes it all on failure.
    fn fill_domain(&mut self, domain: &MappedDomain) -> Result {
        let first = self.domains.is_empty();
        let small = self.no_large_pages;
        let mut result = Ok(());
        let mut failed_at = None;
        for (key, area) in self.areas.iter_mut() {
            if let Err(e) = area.pin().and_then(|()| area.fill(domain, small)) {
                result = Err(e);
                failed_at = Some(*key);
                break;
            }
        }
        let Some(failed_at) = failed_at else {
            return result;
        };
        for (key, area) in self.areas.iter_mut() {
            if *key == failed_at {
                area.unpin_unused(!first);
                break;
            }
            area.unfill(domain);
            area.unpin_unused(!first);
        }
        result
    }

    /// Removes a domain added by [`Self::add_domain`]
    /// (`iopt_table_remove_domain`): unmaps every area from it, unpins them
    /// if it was the last, drops its aperture reservations and relaxes the
    /// alignment to what the remaining domains need.
    pub(crate) fn remove_domain(&mut self, is: impl Fn(&MappedDomain) -> bool) {
        let Some(index) = self.domains.iter().position(is) else {
            return;
        };
        let Ok(domain) = self.domains.remove(index) else {
            return;
        };
        let last = self.domains.is_empty();
        for area in self.areas.values_mut() {
            area.unfill(&domain);
            area.unpin_unused(!last);
        }
        self.unreserve(domain.key());
        self.iova_alignment = self.needed_alignment();
    }
}

#[kunit_tests(rust_iommufd_iopt)]
mod tests {
    use super::*;

    const START: u64 = 1 << 24;
    const LAST: u64 = (1 << 31) - 1;

    /// A table whose reservations bound the mock aperture, as a mock
    /// domain's would.
    fn mock_aperture() -> Result<IoPageTable> {
        let mut t = IoPageTable::new();
        t.reserve(0, START - 1, 1)?;
        t.reserve(LAST + 1, u64::MAX, 1)?;
        Ok(t)
    }

    #[test]
    fn automatic_iova_starts_at_a_page_never_zero() -> Result {
        let t = IoPageTable::new();
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, PAGE)?, PAGE);
        // With no user address the length sets the alignment, up to the
        // cap (a page, or a huge page with THP).
        let align = (4 * PAGE).min(MAX_ALLOC_ALIGNMENT);
        assert_eq!(t.alloc_iova(0, 3 * PAGE)?, align.max(PAGE));
        // A half page at a half-page offset keeps the offset.
        assert_eq!(t.alloc_iova(0x7f00_0000_0800, 0x800)?, PAGE + 0x800);
        Ok(())
    }

    #[test]
    fn automatic_iova_skips_reservations() -> Result {
        let t = mock_aperture()?;
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, PAGE)?, START);
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, 1 << 31).err(), Some(ENOSPC));
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, LAST - START + 1)?, START);
        Ok(())
    }

    #[test]
    fn automatic_iova_in_allowed_ranges() -> Result {
        let mut t = IoPageTable::new();
        let mut allowed = KVec::new();
        allowed.push((0x40_0000, 0x4f_ffff), GFP_KERNEL)?;
        allowed.push((0x20_0000, 0x2f_ffff), GFP_KERNEL)?;
        t.set_allowed(allowed)?;
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, PAGE)?, 0x20_0000);
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, 0x10_0000)?, 0x20_0000);
        assert_eq!(
            t.alloc_iova(0x7f00_0000_0000, 0x10_0001).err(),
            Some(ENOSPC)
        );
        Ok(())
    }

    #[test]
    fn automatic_iova_refuses_bad_lengths_and_alignment() -> Result {
        let mut t = IoPageTable::new();
        assert_eq!(t.alloc_iova(PAGE, 0).err(), Some(EOVERFLOW));
        assert_eq!(t.alloc_iova(PAGE, u64::MAX / 2).err(), Some(EOVERFLOW));
        t.iova_alignment = 0x800;
        assert_eq!(t.alloc_iova(0x7f00_0000_0400, 0x400).err(), Some(EINVAL));
        Ok(())
    }

    #[test]
    fn iova_ranges_are_holes_of_overlapping_reservations() -> Result {
        let mut t = IoPageTable::new();
        t.reserve(0x1_0000, 0x1_ffff, 0)?;
        t.reserve(0x1_8000, 0x2_7fff, 0)?;
        t.reserve(0x2_8000, 0x2_8fff, 0)?;
        let ranges = t.iova_ranges()?;
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0], (0, 0xffff));
        assert_eq!(ranges[1], (0x2_9000, u64::MAX));
        Ok(())
    }

    #[test]
    fn reservations_and_allowed_ranges_exclude_each_other() -> Result {
        let mut t = IoPageTable::new();
        let mut allowed = KVec::new();
        allowed.push((0x20_0000, 0x2f_ffff), GFP_KERNEL)?;
        t.set_allowed(allowed)?;
        assert_eq!(t.reserve(0x2f_f000, 0x30_0fff, 0).err(), Some(EADDRINUSE));
        t.reserve(0x30_0000, 0x30_0fff, 0)?;
        let mut allowed = KVec::new();
        allowed.push((0x30_0000, 0x3f_ffff), GFP_KERNEL)?;
        assert_eq!(t.set_allowed(allowed).err(), Some(EADDRINUSE));
        // The old ranges stay.
        assert_eq!(t.alloc_iova(0x7f00_0000_0000, PAGE)?, 0x20_0000);
        Ok(())
    }

    #[test]
    fn fixed_iova_checks() -> Result {
        let mut t = mock_aperture()?;
        assert_eq!(t.check_iova(0, PAGE).err(), Some(EINVAL));
        assert_eq!(
            t.check_iova(u64::MAX - PAGE + 1, 2 * PAGE).err(),
            Some(EOVERFLOW)
        );
        t.iova_alignment = 0x800;
        assert_eq!(t.check_iova(START + 0x400, PAGE).err(), Some(EINVAL));
        assert!(t.check_iova(START, PAGE).is_ok());
        Ok(())
    }
}
