// SPDX-License-Identifier: GPL-2.0

//! VFIO type1 compatibility: the container ioctls of <linux/vfio.h> that
//! an iommufd file answers, as upstream's (drivers/iommu/iommufd/
//! vfio_compat.c), and `IOMMU_VFIO_IOAS`, which picks the IOAS they act
//! on.
//!
//! Those ioctls name no IOAS: they act on the context's *compatibility
//! IOAS*, an id the object table keeps ([`ObjectTable::vfio_ioas`]) under
//! its lock, so that destroying that IOAS forgets it in the same step.
//! Each ioctl looks the IOAS up under the table lock, as a user, and
//! works on it after the lock is dropped, as every other ioctl does; no
//! lock is added.
//!
//! Upstream also lets VFIO drivers create the compatibility IOAS (when a
//! group joins the container) and switch a context to no-IOMMU mode;
//! neither is reachable here (there is no VFIO driver), so no-IOMMU mode
//! is never on.
//!
//! [`ObjectTable::vfio_ioas`]: crate::object::ObjectTable::vfio_ioas

use kernel::{prelude::*, uaccess::UserPtr};

use crate::{
    context::Context,
    ioas::Ioas,
    object::ObjectRef,
    uapi::{self, iommu_vfio_ioas, vfio_ioctl},
    ucmd::{offset_end, Command, Ucmd},
};

mod dma;
mod info;

/// `VFIO_GET_API_VERSION`.
const GET_API_VERSION: u32 = vfio_ioctl(0);
/// `VFIO_CHECK_EXTENSION`.
const CHECK_EXTENSION: u32 = vfio_ioctl(1);
/// `VFIO_SET_IOMMU`.
const SET_IOMMU: u32 = vfio_ioctl(2);
/// `VFIO_IOMMU_GET_INFO`.
const GET_INFO: u32 = vfio_ioctl(12);
/// `VFIO_IOMMU_MAP_DMA`.
const MAP_DMA: u32 = vfio_ioctl(13);
/// `VFIO_IOMMU_UNMAP_DMA`.
const UNMAP_DMA: u32 = vfio_ioctl(14);

/// The compatibility IOAS, as a user: `ENODEV` if there is none.
fn compat_ioas(ctx: &Context) -> Result<ObjectRef<Ioas>> {
    let objects = ctx.objects.lock();
    let id = objects.vfio_ioas().ok_or(ENODEV)?;
    objects.get::<Ioas>(id).map_err(|_| ENODEV)
}

impl Command for iommu_vfio_ioas {
    const NR: u32 = uapi::IOMMUFD_CMD_VFIO_IOAS;
    const MIN_SIZE: usize = offset_end!(iommu_vfio_ioas, __reserved);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        if ucmd.cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        match u32::from(ucmd.cmd.op) {
            uapi::IOMMU_VFIO_IOAS_GET => {
                let id = compat_ioas(ucmd.ctx)?.id();
                ucmd.cmd.ioas_id = id;
                ucmd.respond()
            }
            uapi::IOMMU_VFIO_IOAS_SET => {
                let mut objects = ucmd.ctx.objects.lock();
                let ioas = objects.get::<Ioas>(ucmd.cmd.ioas_id)?;
                objects.set_vfio_ioas(Some(ioas.id()));
                drop(objects);
                drop(ioas);
                Ok(())
            }
            uapi::IOMMU_VFIO_IOAS_CLEAR => {
                ucmd.ctx.objects.lock().set_vfio_ioas(None);
                Ok(())
            }
            _ => Err(EOPNOTSUPP),
        }
    }
}

/// `VFIO_CHECK_EXTENSION`: 1 for what is supported, 0 for the rest.
fn check_extension(ctx: &Context, extension: usize) -> Result<isize> {
    const TYPE1: usize = uapi::VFIO_TYPE1_IOMMU as usize;
    const TYPE1V2: usize = uapi::VFIO_TYPE1v2_IOMMU as usize;
    const UNMAP_ALL: usize = uapi::VFIO_UNMAP_ALL as usize;
    const NOIOMMU: usize = uapi::VFIO_NOIOMMU_IOMMU as usize;
    const DMA_CC: usize = uapi::VFIO_DMA_CC_IOMMU as usize;
    Ok(match extension {
        TYPE1 | TYPE1V2 | UNMAP_ALL => 1,
        NOIOMMU => isize::from(cfg!(CONFIG_VFIO_NOIOMMU)),
        // Every paging domain would have to enforce coherency; no driver
        // of ours can, so the answer is 1 only while there is none.
        DMA_CC => isize::from(!compat_ioas(ctx)?.iopt.lock().has_domains()),
        // The nesting type, VADDR updates (which upstream finds unsafe)
        // and everything unknown.
        _ => 0,
    })
}

/// `VFIO_SET_IOMMU`: type1 or type1v2, on the compatibility IOAS. Type1
/// may unmap part of a mapping, so it turns the IOAS's large pages off
/// (as `IOMMU_OPTION_HUGE_PAGES` 0 does) and refuses where that is
/// refused; type1v2 changes nothing.
fn set_iommu(ctx: &Context, kind: usize) -> Result<isize> {
    let type1 = kind == uapi::VFIO_TYPE1_IOMMU as usize;
    if !type1 && kind != uapi::VFIO_TYPE1v2_IOMMU as usize {
        return Err(EINVAL);
    }
    let ioas = compat_ioas(ctx)?;
    if type1 {
        let result = ioas.iopt.lock().set_large_pages(false);
        result?;
    }
    Ok(0)
}

/// The VFIO container ioctls: every request outside iommufd's own range
/// comes here, and what is not one of these is `ENOTTY`, as upstream's
/// `-ENOIOCTLCMD` (`VFIO_IOMMU_ENABLE`, `_DISABLE` and `_DIRTY_PAGES`
/// among them).
pub(crate) fn ioctl(ctx: &Context, cmd: u32, arg: usize) -> Result<isize> {
    let user = UserPtr::from_addr(arg);
    match cmd {
        GET_API_VERSION => Ok(uapi::VFIO_API_VERSION as isize),
        SET_IOMMU => set_iommu(ctx, arg),
        CHECK_EXTENSION => check_extension(ctx, arg),
        GET_INFO => info::get_info(ctx, user),
        MAP_DMA => dma::map(ctx, user),
        UNMAP_DMA => dma::unmap(ctx, user),
        _ => Err(ENOTTY),
    }
}
