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

/// A vIOMMU as its driver sees it: its devices by virtual id, and where
/// it reports events (upstream's `iommufd_viommu_get_vdev_id()`,
/// `iommufd_viommu_find_dev()` and `iommufd_viommu_report_event()`).
pub(crate) trait VirtualDevices: Send + Sync {
    /// The virtual id of the device whose core `struct device` is `dev`,
    /// if it has one here.
    fn virt_id_of(&self, dev: *const bindings::device) -> Option<u64>;

    /// Reports an event of `event_type` (`IOMMU_VEVENTQ_TYPE_*`) whose
    /// type-specific record is `data` (not empty) to the vIOMMU's vEVENTQ
    /// of that type: `EOPNOTSUPP` if it has none; `ENOMEM` if the event
    /// could not be kept, which the queue records as lost. May sleep;
    /// takes the vIOMMU's queue locks, so the caller holds none of the
    /// vIOMMU's.
    fn report_event(&self, event_type: u32, data: &[u8]) -> Result;

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
