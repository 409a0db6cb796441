// SPDX-License-Identifier: GPL-2.0

//! The driver side of a vIOMMU: what upstream's `struct iommufd_viommu_ops`
//! and the `viommu_init` op give iommufd.
//!
//! The core's own interface for vIOMMUs works on C iommufd's
//! `struct iommufd_viommu`, so an IOMMU driver of this module (the mock
//! driver) implements [`ViommuDriver`] instead, and the vIOMMU object
//! calls it through that trait without knowing which driver it is.

use kernel::{bindings, device::Device, prelude::*, sync::Arc, uaccess::UserPtr};

use super::iommu::{Domain, UserData};

/// A vIOMMU's devices by virtual id, as its driver consults them.
pub(crate) trait VirtualDevices: Send + Sync {
    /// Whether the device whose core `struct device` is `dev` has a
    /// virtual id here.
    fn contains(&self, dev: *const bindings::device) -> bool;

    /// Runs `f` on the device with virtual id `id` while it keeps the id;
    /// `false` if no device has it.
    fn with_device(&self, id: u64, f: &mut dyn FnMut(&Device)) -> bool;
}

/// What a vIOMMU needs from the IOMMU driver behind its devices.
pub(crate) trait ViommuDriver: Sync {
    /// Whether the driver has vIOMMUs of type `viommu_type`
    /// (`IOMMU_VIOMMU_TYPE_*`) for `dev`.
    fn supports(&self, dev: &Device, viommu_type: u32) -> bool;

    /// Takes the driver data user space passed with `IOMMU_VIOMMU_ALLOC`
    /// (`len` bytes at `user`, nonzero), writing back what the driver
    /// reports in it.
    fn init_data(&self, viommu_type: u32, user: UserPtr, len: usize) -> Result;

    /// A nested domain on a vIOMMU whose devices are `devices`
    /// (`alloc_domain_nested`).
    fn alloc_domain_nested(
        &self,
        flags: u32,
        data: &UserData,
        devices: Arc<dyn VirtualDevices>,
    ) -> Result<Domain>;

    /// Carries out a user invalidation array on the vIOMMU's devices
    /// (`cache_invalidate`); `array.entry_num` comes back as the number of
    /// entries handled.
    fn cache_invalidate(
        &self,
        devices: &dyn VirtualDevices,
        array: &mut bindings::iommu_user_data_array,
    ) -> Result;
}
