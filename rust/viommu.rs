// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU object: a slice of a physical IOMMU handed to a VM, built on
//! a nesting-parent paging HWPT (held as a user). Nested HWPTs can be
//! allocated on it.
//!
//! Only the mock IOMMU's type exists (`IOMMU_VIOMMU_TYPE_SELFTEST`). The
//! core's driver interface for vIOMMUs (`iommu_ops.viommu_init`) works on
//! C iommufd's own `struct iommufd_viommu`, so the mock driver's vIOMMU
//! side is called directly here instead. Its virtual devices
//! ([`crate::vdevice`]) are listed in [`VirtIds`]. The vIOMMU's MMIO page
//! (`mmap`) is not implemented: `out_mmap_offset` and `out_mmap_length`
//! read 0.

use kernel::{prelude::*, sync::Arc, uaccess::UserPtr, uaccess::UserSlice};

use crate::{
    context::Context,
    device::Device,
    hwpt::HwptPaging,
    mock::dev::MockDev,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    sys::iommu::{self as sys, Domain},
    uapi::{self, copy_user_data, iommu_viommu_alloc, iommu_viommu_selftest},
    ucmd::{offset_end, read_extensible, Command, Ucmd},
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
    /// Its devices by virtual id; shared with its nested domains.
    virt_ids: Arc<VirtIds>,
}

// SAFETY: `ops` points at a driver's static table and is only compared.
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
        if flags & !uapi::IOMMU_HWPT_ALLOC_PASID != 0 {
            return Err(EOPNOTSUPP);
        }
        if data.type_ != uapi::IOMMU_HWPT_DATA_SELFTEST {
            return Err(EOPNOTSUPP);
        }
        let domain =
            crate::mock::domain::MockNested::alloc_for_viommu(data, self.virt_ids.clone())?;
        // SAFETY: a fresh domain of the mock driver, whose ops `self.ops` are.
        unsafe { Domain::from_driver(domain, self.ops) }
    }

    /// Invalidates device caches named by virtual device id
    /// (`IOMMU_HWPT_INVALIDATE` on a vIOMMU), entry by entry, as the mock
    /// driver upstream does. `array.entry_num` comes back as the number of
    /// entries handled.
    pub(crate) fn cache_invalidate(
        &self,
        array: &mut kernel::bindings::iommu_user_data_array,
    ) -> Result {
        let count = array.entry_num as usize;
        array.entry_num = 0;
        if count == 0 && array.type_ == uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            // An empty array checks the type only.
            return Ok(());
        }
        if array.type_ != uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            return Err(EINVAL);
        }
        let entry = |index: usize| -> Result<uapi::iommu_viommu_invalidate_selftest> {
            let user = UserPtr::from_ptr(array.uptr).wrapping_byte_add(index * array.entry_len);
            read_extensible(user, array.entry_len)
        };
        // The whole array must be readable before anything is done, as
        // upstream copies it in first; it is read again as it is handled
        // rather than held (up to 2^19 entries).
        for index in 0..count {
            entry(index)?;
        }
        for index in 0..count {
            let entry = entry(index)?;
            if entry.flags & !uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                return Err(EOPNOTSUPP);
            }
            if entry.cache_id > uapi::MOCK_DEV_CACHE_ID_MAX {
                return Err(EINVAL);
            }
            let all = entry.flags & uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0;
            self.virt_ids
                .with_device(u64::from(entry.vdev_id), |dev| {
                    if let Some(mdev) = MockDev::from_device(dev) {
                        mdev.invalidate_cache((!all).then_some(entry.cache_id));
                    }
                })
                .ok_or(EINVAL)?;
            // Fits: `index < count`, which came from a `u32`.
            array.entry_num = index as u32 + 1;
        }
        Ok(())
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
        // The driver's answer to "what size is a vIOMMU of this type":
        // only the mock IOMMU has one, of the selftest type.
        if MockDev::from_device(device.kdev()).is_none()
            || cmd.type_ != uapi::IOMMU_VIOMMU_TYPE_SELFTEST
        {
            return Err(EOPNOTSUPP);
        }
        let ops = device.with_bound(|dev| sys::dev_ops_ptr(dev).ok_or(EOPNOTSUPP))?;
        let hwpt = ctx.objects.lock().get::<HwptPaging>(cmd.hwpt_id)?;
        if !hwpt.nest_parent() {
            return Err(EINVAL);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        if cmd.data_len != 0 {
            // The mock driver's loopback: out_data echoes in_data.
            let user = UserPtr::from_addr(cmd.data_uptr as usize);
            let len = cmd.data_len as usize;
            let mut data: iommu_viommu_selftest = copy_user_data(
                cmd.type_,
                user,
                len,
                uapi::IOMMU_VIOMMU_TYPE_SELFTEST,
                offset_end!(iommu_viommu_selftest, out_data),
            )?;
            data.out_data = data.in_data;
            data.out_mmap_offset = 0;
            data.out_mmap_length = 0;
            let bytes = kernel::transmute::AsBytes::as_bytes(&data);
            UserSlice::new(user, len)
                .writer()
                .write_slice(&bytes[..len])?;
        }
        let viommu = Arc::new(
            Viommu {
                header: ObjectHeader::default(),
                _hwpt: hwpt,
                ops,
                virt_ids: VirtIds::new()?,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        ucmd.cmd.out_viommu_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize(Object::Viommu(viommu));
        Ok(())
    }
}
