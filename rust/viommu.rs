// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU object: a slice of a physical IOMMU handed to a VM, built on
//! a nesting-parent paging HWPT (held as a user). Nested HWPTs can be
//! allocated on it.
//!
//! The driver side is a [`ViommuDriver`] (the core's own interface,
//! `iommu_ops.viommu_init`, works on C iommufd's `struct iommufd_viommu`):
//! only the mock IOMMU has one, of type `IOMMU_VIOMMU_TYPE_SELFTEST`. Its
//! virtual devices ([`crate::vdevice`]) are listed in [`VirtIds`], which
//! the driver sees as [`VirtualDevices`](crate::sys::viommu::VirtualDevices).

use kernel::{prelude::*, sync::Arc, uaccess::UserPtr};

use crate::{
    context::Context,
    device::Device,
    hwpt::HwptPaging,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    sys::{
        iommu::{self as sys, Domain},
        viommu::ViommuDriver,
    },
    uapi::{self, iommu_viommu_alloc},
    ucmd::{offset_end, Command, Ucmd},
    vdevice::VirtIds,
};

/// A vIOMMU.
pub(crate) struct Viommu {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// The nesting parent it translates through.
    _hwpt: ObjectRef<HwptPaging>,
    /// The physical IOMMU's driver (its ops), which devices using nested
    /// HWPTs of this vIOMMU must be behind.
    ops: *const kernel::bindings::iommu_ops,
    /// The driver's vIOMMU side.
    driver: &'static dyn ViommuDriver,
    /// Its devices by virtual id; shared with its nested domains.
    virt_ids: Arc<VirtIds>,
}

impl Object for Viommu {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

// SAFETY: `ops` points at a driver's static table and is only compared;
// `driver` is `Sync` and static.
unsafe impl Send for Viommu {}
// SAFETY: as above.
unsafe impl Sync for Viommu {}

impl Viommu {
    /// Whether `device` sits behind this vIOMMU's physical IOMMU.
    pub(crate) fn serves(&self, device: &Device) -> bool {
        device
            .with_bound(|dev| Ok(sys::dev_ops_ptr(dev) == Some(self.ops)))
            .unwrap_or(false)
    }

    /// Its devices by virtual id.
    pub(crate) fn virt_ids(&self) -> &Arc<VirtIds> {
        &self.virt_ids
    }

    /// A nested domain for this vIOMMU (`alloc_domain_nested`).
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &sys::UserData) -> Result<Domain> {
        self.driver
            .alloc_domain_nested(flags, data, self.virt_ids.clone())
    }

    /// Invalidates device caches named by virtual device id
    /// (`IOMMU_HWPT_INVALIDATE` on a vIOMMU), through the driver.
    /// `array.entry_num` comes back as the number of entries handled.
    pub(crate) fn cache_invalidate(
        &self,
        array: &mut kernel::bindings::iommu_user_data_array,
    ) -> Result {
        self.driver.cache_invalidate(&*self.virt_ids, array)
    }
}

impl Command for iommu_viommu_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_VIOMMU_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_viommu_alloc, out_viommu_id);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let ctx: &Context = ucmd.ctx;
        let cmd = ucmd.cmd;
        if cmd.flags != 0 || cmd.type_ == uapi::IOMMU_VIOMMU_TYPE_DEFAULT {
            return Err(EOPNOTSUPP);
        }
        let device = ctx.objects.lock().get::<Device>(cmd.dev_id)?;
        let driver = ctx.viommu_driver();
        if !driver.supports(device.kdev(), cmd.type_) {
            return Err(EOPNOTSUPP);
        }
        let ops = device.with_bound(|dev| sys::dev_ops_ptr(dev).ok_or(EOPNOTSUPP))?;
        let hwpt = ctx.objects.lock().get::<HwptPaging>(cmd.hwpt_id)?;
        if !hwpt.nest_parent() {
            return Err(EINVAL);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        if cmd.data_len != 0 {
            let user = UserPtr::from_addr(cmd.data_uptr as usize);
            driver.init_data(cmd.type_, user, cmd.data_len as usize)?;
        }
        let viommu = Arc::new(
            Viommu {
                header: ObjectHeader::default(),
                _hwpt: hwpt,
                ops,
                driver,
                virt_ids: VirtIds::new()?,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        ucmd.cmd.out_viommu_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize(viommu);
        Ok(())
    }
}
