// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking over the table's mappings (upstream's
//! `iopt_set_dirty_tracking` and `iopt_read_and_clear_dirty_data`): the
//! driver reads and clears the dirty bits of one of the table's domains,
//! area by area, while the table's lock keeps maps and unmaps out.

use kernel::prelude::*;

use super::IoPageTable;
use crate::sys::{
    dirty::{self, DirtyRecorder, IovaBitmap},
    iommu::{Domain, MappedDomain},
};

/// What `IOMMU_HWPT_GET_DIRTY_BITMAP` asks for.
pub(crate) struct DirtyQuery {
    /// First IOVA the bitmap covers.
    pub(crate) iova: u64,
    /// Bytes of IOVA it covers.
    pub(crate) length: u64,
    /// Bytes of IOVA per bit.
    pub(crate) page_size: u64,
    /// User address of the bitmap.
    pub(crate) data: u64,
    /// Leave the page table's dirty bits set.
    pub(crate) no_clear: bool,
}

impl IoPageTable {
    /// The table's handle of `domain`: every paging HWPT's domain is one of
    /// the table's from allocation to destruction.
    fn mapped(&self, domain: &Domain) -> Result<&MappedDomain> {
        self.domains.iter().find(|d| d.is(domain)).ok_or(EINVAL)
    }

    /// Switches dirty tracking of `domain` on or off: `EOPNOTSUPP` for a
    /// domain without dirty ops. Switching on first clears every dirty bit
    /// the page table holds, so that the next report starts afresh.
    pub(crate) fn set_dirty_tracking(&self, domain: &Domain, enable: bool) -> Result {
        let domain = self.mapped(domain)?;
        if !domain.tracks_dirty() {
            return Err(EOPNOTSUPP);
        }
        if enable {
            dirty::record(domain, None, true, |recorder| {
                self.areas.values().try_for_each(|area| {
                    domain.read_and_clear_dirty(area.iova, area.length(), false, recorder)
                })
            })?;
        }
        domain.set_dirty_tracking(enable)
    }

    /// Checks a query's range as upstream's `iommufd_check_iova_range`
    /// does, in its order.
    fn check_dirty_query(&self, query: &DirtyQuery) -> Result {
        if query.length == 0 {
            return Err(EINVAL);
        }
        let last = query.iova.checked_add(query.length - 1).ok_or(EOVERFLOW)?;
        c_ulong::try_from(last).map_err(|_| EOVERFLOW)?;
        // The end may wrap to 0, which every alignment accepts.
        let end = last.wrapping_add(1);
        let align_mask = self.iova_alignment - 1;
        if query.iova & align_mask != 0 || end & align_mask != 0 {
            return Err(EINVAL);
        }
        if query.page_size == 0 {
            return Err(EINVAL);
        }
        // A mask, as upstream's, even if `page_size` is no power of two.
        let page_mask = query.page_size - 1;
        if query.iova & page_mask != 0 || end & page_mask != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Reports the dirty IOVAs of `query`'s range in `domain` into the
    /// user's bitmap, clearing them unless `no_clear`. As upstream, the
    /// range is read from its first IOVA through the areas that follow
    /// each other without a gap, and where that stops (a gap, a driver
    /// error) is not an error of the call.
    pub(crate) fn read_dirty(&self, domain: &Domain, query: &DirtyQuery) -> Result {
        self.check_dirty_query(query)?;
        let domain = self.mapped(domain)?;
        if !domain.tracks_dirty() {
            return Err(EOPNOTSUPP);
        }
        let bitmap = IovaBitmap::new(query.iova, query.length, query.page_size, query.data)?;
        // Checked by `check_dirty_query`.
        let last = query.iova + (query.length - 1);
        dirty::record(domain, Some(&bitmap), !query.no_clear, |recorder| {
            self.read_contiguous(domain, query.iova, last, query.no_clear, recorder)
        });
        Ok(())
    }

    /// Reads the dirty bits of `[iova, last]` from the area that holds
    /// `iova` on, while the next area starts right after the previous one.
    fn read_contiguous(
        &self,
        domain: &MappedDomain,
        iova: u64,
        last: u64,
        no_clear: bool,
        recorder: &DirtyRecorder<'_>,
    ) {
        let mut cur = iova;
        // Areas do not overlap, so the one holding `cur` starts at `cur`
        // whenever `cur` is right after the previous area.
        while let Some(area) = self
            .first_area(cur, cur)
            .and_then(|key| self.areas.get(&key))
        {
            let end = last.min(area.last);
            if domain
                .read_and_clear_dirty(cur, end - cur + 1, no_clear, recorder)
                .is_err()
                || end == last
            {
                return;
            }
            cur = end + 1;
        }
    }
}
