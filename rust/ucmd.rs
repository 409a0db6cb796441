// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch and the iommufd rules for extensible structures.
//!
//! Every iommufd ioctl takes a pointer to a structure whose first `__u32` is
//! its size as the caller knows it. Older callers pass less than we know
//! (the rest reads as zero), newer callers pass more (accepted only if the
//! extra bytes are zero: they ask for nothing we lack). Responses copy back
//! no more than the caller's size.

use core::mem::size_of;
use kernel::{
    fs::File,
    ioctl::_IOC_NR,
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    context::Context,
    uapi::{self, iommufd_ioctl, UapiStruct},
};

pub(crate) use crate::uapi::{offset_end, read_extensible};

/// An ioctl and its argument structure.
pub(crate) trait Command: UapiStruct {
    /// `_IOC_NR` of the ioctl.
    const NR: u32;
    /// The structure's size in its first release (see [`offset_end`]).
    const MIN_SIZE: usize;
    /// Carries out the command.
    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result;
}

/// One ioctl call in progress.
pub(crate) struct Ucmd<'a, C> {
    /// The context the ioctl was made on.
    pub(crate) ctx: &'a Context,
    /// The iommufd file the ioctl was made on.
    pub(crate) file: &'a File,
    /// `ctx`, for what must hold the context beyond the ioctl.
    arc: ArcBorrow<'a, Context>,
    /// The argument, as read from user space (zero-extended).
    pub(crate) cmd: C,
    user: UserPtr,
    user_size: usize,
}

impl<C: Command> Ucmd<'_, C> {
    /// Where the argument came from, for a command that writes back only
    /// part of it.
    pub(crate) fn user(&self) -> UserPtr {
        self.user
    }

    /// A reference to the context that may outlive the ioctl.
    pub(crate) fn ctx_arc(&self) -> Arc<Context> {
        self.arc.into()
    }

    /// Copies the (updated) argument back, truncated to the caller's size.
    pub(crate) fn respond(&self) -> Result {
        let len = self.user_size.min(size_of::<C>());
        UserSlice::new(self.user, len)
            .writer()
            .write_slice(&self.cmd.as_bytes()[..len])
    }
}

fn run<C: Command>(
    arc: ArcBorrow<'_, Context>,
    file: &File,
    user: UserPtr,
    user_size: usize,
) -> Result<isize> {
    if user_size < C::MIN_SIZE {
        return Err(EINVAL);
    }
    let mut ucmd = Ucmd {
        ctx: &arc,
        file,
        arc,
        cmd: read_extensible::<C>(user, user_size)?,
        user,
        user_size,
    };
    C::execute(&mut ucmd)?;
    Ok(0)
}

/// Highest ioctl number of the iommufd uAPI (implemented or not):
/// `IOMMU_TEST_CMD`, as in upstream built with `CONFIG_IOMMUFD_TEST`.
const LAST_CMD: u32 = <uapi::iommu_test_cmd as Command>::NR;

/// Whether `cmd` is in iommufd's range of ioctl numbers; upstream hands
/// the others to its VFIO compatibility layer.
pub(crate) fn is_iommufd(cmd: u32) -> bool {
    (uapi::IOMMUFD_CMD_BASE..=LAST_CMD).contains(&_IOC_NR(cmd))
}

/// Entry point for every ioctl in iommufd's range (see [`is_iommufd`]).
pub(crate) fn dispatch(
    ctx: ArcBorrow<'_, Context>,
    file: &File,
    cmd: u32,
    arg: usize,
) -> Result<isize> {
    let nr = _IOC_NR(cmd);
    if !is_iommufd(cmd) {
        return Err(ENOTTY);
    }
    let user = UserPtr::from_addr(arg);
    // As upstream: the size is read (EFAULT on a bad pointer) before the
    // request number is checked in full.
    let user_size = UserSlice::new(user, size_of::<u32>())
        .reader()
        .read::<u32>()? as usize;
    if cmd != iommufd_ioctl(nr) {
        return Err(ENOTTY);
    }
    let (f, u, n) = (file, user, user_size);
    match nr {
        uapi::iommu_destroy::NR => run::<uapi::iommu_destroy>(ctx, f, u, n),
        uapi::iommu_ioas_alloc::NR => run::<uapi::iommu_ioas_alloc>(ctx, f, u, n),
        uapi::iommu_ioas_allow_iovas::NR => run::<uapi::iommu_ioas_allow_iovas>(ctx, f, u, n),
        uapi::iommu_ioas_copy::NR => run::<uapi::iommu_ioas_copy>(ctx, f, u, n),
        uapi::iommu_ioas_iova_ranges::NR => run::<uapi::iommu_ioas_iova_ranges>(ctx, f, u, n),
        uapi::iommu_ioas_map::NR => run::<uapi::iommu_ioas_map>(ctx, f, u, n),
        uapi::iommu_ioas_map_file::NR => run::<uapi::iommu_ioas_map_file>(ctx, f, u, n),
        uapi::iommu_ioas_change_process::NR => run::<uapi::iommu_ioas_change_process>(ctx, f, u, n),
        uapi::iommu_ioas_unmap::NR => run::<uapi::iommu_ioas_unmap>(ctx, f, u, n),
        uapi::iommu_option::NR => run::<uapi::iommu_option>(ctx, f, u, n),
        uapi::iommu_vfio_ioas::NR => run::<uapi::iommu_vfio_ioas>(ctx, f, u, n),
        uapi::iommu_hwpt_alloc::NR => run::<uapi::iommu_hwpt_alloc>(ctx, f, u, n),
        uapi::iommu_hw_info::NR => run::<uapi::iommu_hw_info>(ctx, f, u, n),
        uapi::iommu_hwpt_set_dirty_tracking::NR => {
            run::<uapi::iommu_hwpt_set_dirty_tracking>(ctx, f, u, n)
        }
        uapi::iommu_hwpt_get_dirty_bitmap::NR => {
            run::<uapi::iommu_hwpt_get_dirty_bitmap>(ctx, f, u, n)
        }
        uapi::iommu_hwpt_invalidate::NR => run::<uapi::iommu_hwpt_invalidate>(ctx, f, u, n),
        uapi::iommu_fault_alloc::NR => run::<uapi::iommu_fault_alloc>(ctx, f, u, n),
        uapi::iommu_viommu_alloc::NR => run::<uapi::iommu_viommu_alloc>(ctx, f, u, n),
        uapi::iommu_vdevice_alloc::NR => run::<uapi::iommu_vdevice_alloc>(ctx, f, u, n),
        uapi::iommu_veventq_alloc::NR => run::<uapi::iommu_veventq_alloc>(ctx, f, u, n),
        uapi::iommu_hw_queue_alloc::NR => run::<uapi::iommu_hw_queue_alloc>(ctx, f, u, n),
        uapi::iommu_test_cmd::NR => run::<uapi::iommu_test_cmd>(ctx, f, u, n),
        _ => Err(ENOTTY),
    }
}
