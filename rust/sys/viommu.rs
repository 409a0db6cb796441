// SPDX-License-Identifier: GPL-2.0

//! The driver side of a vIOMMU: what upstream's `struct iommufd_viommu_ops`
//! and the `viommu_init` op give iommufd.
//!
//! The core's own interface for vIOMMUs works on C iommufd's
//! `struct iommufd_viommu`, so an IOMMU driver of this module (the mock
//! driver) implements [`ViommuDriver`] instead, and the vIOMMU object
//! calls it through that trait without knowing which driver it is.

use kernel::{bindings, device::Device, prelude::*, sync::Arc, uaccess::UserPtr};

use super::{
    iommu::{Domain, UserData},
    vma::MapPages,
};

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

    /// Sets up a vIOMMU of `viommu_type` (`viommu_init`), returning the
    /// driver's state of it. `data` is the driver data user space passed
    /// with `IOMMU_VIOMMU_ALLOC` (address and nonzero length), if any,
    /// where the driver writes back what it reports. `mmap` lends pages to
    /// user space's `mmap()` of the iommufd file for the vIOMMU's
    /// lifetime and returns their offset there
    /// (`iommufd_viommu_alloc_mmap()`); the core takes them back.
    fn init(
        &self,
        viommu_type: u32,
        data: Option<(UserPtr, usize)>,
        mmap: &mut dyn FnMut(MapPages) -> Result<u64>,
    ) -> Result<Arc<dyn ViommuState>>;

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

/// The driver's own state of one vIOMMU (upstream's driver structure
/// around `struct iommufd_viommu`, and its `iommufd_viommu_ops` for hardware
/// queues), dropped with the vIOMMU.
pub(crate) trait ViommuState: Send + Sync {
    /// Whether the vIOMMU has hardware queues of `queue_type`
    /// (`get_hw_queue_size` nonzero).
    fn supports_hw_queue(&self, queue_type: u32) -> bool;

    /// Takes hardware queue `index`, whose memory is at physical address
    /// `base_pa`, IOVA `base_iova` of the nesting parent `parent`
    /// (`hw_queue_init_phys`). Returns the index of the queue this one
    /// depends on, if any, which the core keeps from being destroyed
    /// first (`iommufd_hw_queue_depend()`).
    fn hw_queue_init(
        &self,
        parent: &Domain,
        index: u32,
        base_iova: u64,
        base_pa: u64,
    ) -> Result<Option<u32>>;

    /// Gives back queue `index`, which [`Self::hw_queue_init`] took (the
    /// queue's `destroy`).
    fn hw_queue_destroy(&self, index: u32);
}
