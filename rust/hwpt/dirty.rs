// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking of paging HWPTs: `IOMMU_HWPT_SET_DIRTY_TRACKING` and
//! `IOMMU_HWPT_GET_DIRTY_BITMAP`. Only a HWPT allocated with
//! `IOMMU_HWPT_ALLOC_DIRTY_TRACKING` has a domain with dirty ops; the
//! driver refuses to attach devices whose IOMMU cannot track to it.

use kernel::prelude::*;

use super::HwptPaging;
use crate::{
    ioas::DirtyQuery,
    uapi::{self, iommu_hwpt_get_dirty_bitmap, iommu_hwpt_set_dirty_tracking},
    ucmd::{offset_end, Command, Ucmd},
};

impl HwptPaging {
    /// Runs `f` while the HWPT's IOAS's mappings are locked: no map or
    /// unmap of the HWPT's domain runs meanwhile.
    pub(crate) fn with_mappings_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let _iopt = self.ioas.iopt.lock();
        f()
    }
}

impl Command for iommu_hwpt_set_dirty_tracking {
    const NR: u32 = uapi::IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING;
    const MIN_SIZE: usize = offset_end!(iommu_hwpt_set_dirty_tracking, __reserved);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        // As upstream, `__reserved` is not checked.
        if cmd.flags & !uapi::IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0 {
            return Err(EOPNOTSUPP);
        }
        let hwpt = ucmd.ctx.objects.lock().get::<HwptPaging>(cmd.hwpt_id)?;
        let enable = cmd.flags & uapi::IOMMU_HWPT_DIRTY_TRACKING_ENABLE != 0;
        let result = hwpt
            .ioas
            .iopt
            .lock()
            .set_dirty_tracking(&hwpt.domain, enable);
        result
    }
}

impl Command for iommu_hwpt_get_dirty_bitmap {
    const NR: u32 = uapi::IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP;
    const MIN_SIZE: usize = offset_end!(iommu_hwpt_get_dirty_bitmap, data);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.flags & !uapi::IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0 || cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let hwpt = ucmd.ctx.objects.lock().get::<HwptPaging>(cmd.hwpt_id)?;
        let query = DirtyQuery {
            iova: cmd.iova,
            length: cmd.length,
            page_size: cmd.page_size,
            data: cmd.data,
            no_clear: cmd.flags & uapi::IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR != 0,
        };
        // The bitmap's user pages are pinned and written under the lock,
        // as upstream's under its IOVA lock: maps and unmaps wait, nothing
        // the fault path needs is held. Nothing is copied back.
        let result = hwpt.ioas.iopt.lock().read_dirty(&hwpt.domain, &query);
        result
    }
}
