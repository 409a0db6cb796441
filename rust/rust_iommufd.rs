// SPDX-License-Identifier: GPL-2.0

//! rust_iommufd: the iommufd user-space API, with IO page fault delivery,
//! written in Rust.
//!
//! The module registers one misc device (`/dev/iommu` unless the `devname`
//! parameter says otherwise). Each open of it is a [`context::Context`]: an
//! object table and the ioctls that act on it.

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::virt::VmaNew,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

use context::Context;

mod access;
mod context;
mod counters;
mod device;
mod eventq;
mod fault;
mod hw_queue;
mod hwpt;
mod ioas;
mod mmap;
mod mock;
mod object;
mod selftest;
mod sys;
mod uapi;
mod ucmd;
mod vdevice;
mod veventq;
mod vfio;
mod viommu;

module! {
    type: RustIommufd,
    name: "rust_iommufd",
    authors: ["The rust-iommufd developers"],
    description: "iommufd user-space API with IO page fault delivery, in Rust",
    license: "GPL",
    // iommu_attach_group_handle() and friends.
    imports_ns: ["IOMMUFD_INTERNAL", "GENERIC_PT_IOMMU", "IOMMUFD"],
}

/// The module's state. Fields drop in order: the device node goes before
/// the mock IOMMU that its files' objects use.
#[pin_data]
struct RustIommufd {
    #[pin]
    misc: MiscDeviceRegistration<Context>,
    #[pin]
    mock: mock::MockIommu,
    #[pin]
    debugfs: counters::Debugfs,
    /// `fail_rust_iommufd` in debugfs.
    fault_attr: sys::fault_inject::FaultAttr,
}

/// The mock IOMMU of the module that registered `misc`.
fn mock_iommu(misc: &MiscDeviceRegistration<Context>) -> &'static mock::MockIommu {
    let misc = core::ptr::from_ref(misc);
    // The only registration of this type is the `misc` field of the
    // module's `RustIommufd`, pinned in the module's static storage until
    // unload; the module cannot be unloaded while a file of the device is
    // open, and contexts live no longer than their file.
    // SAFETY: so `misc` is in a `RustIommufd` that outlives every caller.
    unsafe { &(*kernel::container_of!(misc, RustIommufd, misc)).mock }
}

/// Checks the requested device name before registering it.
fn device_options() -> Result<MiscDeviceOptions> {
    let name = sys::devname();
    let bytes = name.to_bytes();
    if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
        pr_err!("devname={:?} is not a valid device name\n", name);
        return Err(EINVAL);
    }
    if sys::misc_name_taken(name)? {
        pr_err!(
            "/dev/{} is taken (is iommufd.ko loaded?); load with devname=<other name>\n",
            name
        );
        return Err(EBUSY);
    }
    Ok(MiscDeviceOptions { name })
}

impl kernel::InPlaceModule for RustIommufd {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // Before anything reads a task through the kernel crate.
            mock <- {
                sys::layout::check()?;
                mock::MockIommu::new()
            },
            misc <- MiscDeviceRegistration::register(device_options()?),
            debugfs <- counters::debugfs(),
            fault_attr: sys::fault_inject::FaultAttr::create(),
        })
    }
}

#[vtable]
impl MiscDevice for Context {
    type Ptr = Arc<Self>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Self>> {
        // The mock IOMMU is the only IOMMU driver of ours: the vIOMMU
        // driver of every device, and what selftest devices sit on.
        let mock = mock_iommu(misc);
        Context::new(mock, mock)
    }

    fn release(ctx: Arc<Self>, _file: &File) {
        // Unlink everything under the lock, tear down outside it. Objects
        // hold references to what they depend on, so any order is safe.
        let objects = ctx.objects.lock().take_all();
        drop(objects);
        // Idle mock devices hold references on this module (the IOMMU
        // core's, for their driver): once reuse is off, the next close
        // lets them go, so that the module can be unloaded.
        if let Some(mock) = ctx.test_driver().downcast_ref::<mock::MockIommu>() {
            mock.drain_idle_if_off();
        }
    }

    // No `compat_ioctl`: every iommufd structure has the same layout for
    // 32- and 64-bit callers (pointers travel as __aligned_u64), so the
    // misc device's default, `compat_ptr_ioctl()` into `ioctl`, is right.
    fn ioctl(ctx: ArcBorrow<'_, Self>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // VFIO's container ioctls share iommufd's type byte, below and
        // above its range of numbers; upstream answers them on this file.
        if ucmd::is_iommufd(cmd) {
            ucmd::dispatch(ctx, file, cmd, arg)
        } else {
            vfio::ioctl(&ctx, cmd, arg)
        }
    }

    fn mmap(ctx: ArcBorrow<'_, Self>, _file: &File, vma: &VmaNew) -> Result {
        mmap::mmap(&ctx, vma)
    }
}
