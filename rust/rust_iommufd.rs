// SPDX-License-Identifier: GPL-2.0

//! rust_iommufd: the iommufd user-space API, with IO page fault delivery,
//! written in Rust.
//!
//! The module registers one misc device (`/dev/iommu` unless the `devname`
//! parameter says otherwise). Each open of it is a [`context::Context`]: an
//! object table and the ioctls that act on it.

use kernel::{
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

mod context;
mod ioas;
mod object;
mod sys;
mod uapi;
mod ucmd;

module! {
    type: RustIommufd,
    name: "rust_iommufd",
    authors: ["The rust-iommufd developers"],
    description: "iommufd user-space API with IO page fault delivery, in Rust",
    license: "GPL",
}

#[pin_data]
struct RustIommufd {
    #[pin]
    _misc: MiscDeviceRegistration<context::Context>,
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
            _misc <- MiscDeviceRegistration::register(device_options()?),
        })
    }
}
