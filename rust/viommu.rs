// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU object: a slice of a physical IOMMU handed to a VM, built on
//! a nesting-parent paging HWPT (held as a user). Nested HWPTs can be
//! allocated on it.
//!
//! Only the mock IOMMU's type exists (`IOMMU_VIOMMU_TYPE_SELFTEST`). The
//! core's driver interface for vIOMMUs (`iommu_ops.viommu_init`) works on
//! C iommufd's own `struct iommufd_viommu`, so the mock driver's vIOMMU
//! side is called directly here instead. Virtual devices
//! (`IOMMU_VDEVICE_ALLOC`) and the vIOMMU's MMIO page (`mmap`) are not
//! implemented: `out_mmap_offset` and `out_mmap_length` read 0.

use kernel::{prelude::*, sync::Arc, uaccess::UserPtr, uaccess::UserSlice};

use crate::{
    context::Context,
    device::Device,
    hwpt::HwptPaging,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    sys::iommu::{self as sys, Domain},
    uapi::{self, copy_user_data, iommu_viommu_alloc, iommu_viommu_selftest},
    ucmd::{offset_end, read_extensible, Command, Ucmd},
};

/// A vIOMMU.
pub(crate) struct Viommu {
    pub(crate) header: ObjectHeader,
    /// The nesting parent it translates through.
    _hwpt: ObjectRef<HwptPaging>,
    /// The physical IOMMU's driver (its ops), which devices using nested
    /// HWPTs of this vIOMMU must be behind.
    ops: *const kernel::bindings::iommu_ops,
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

    /// A nested domain for this vIOMMU (`alloc_domain_nested`).
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &sys::UserData) -> Result<Domain> {
        if flags & !uapi::IOMMU_HWPT_ALLOC_PASID != 0 {
            return Err(EOPNOTSUPP);
        }
        if data.type_ != uapi::IOMMU_HWPT_DATA_SELFTEST {
            return Err(EOPNOTSUPP);
        }
        let domain = crate::mock::domain::MockNested::alloc_for_viommu(data)?;
        // SAFETY: a fresh domain of the mock driver, whose ops `self.ops` are.
        unsafe { Domain::from_driver(domain, self.ops) }
    }

    /// Invalidates device caches named by virtual device id
    /// (`IOMMU_HWPT_INVALIDATE` on a vIOMMU). With no virtual devices,
    /// every well-formed entry names an unknown one.
    pub(crate) fn cache_invalidate(
        &self,
        array: &mut kernel::bindings::iommu_user_data_array,
    ) -> Result {
        let count = array.entry_num;
        array.entry_num = 0;
        if count == 0 && array.type_ == uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            // An empty array checks the type only.
            return Ok(());
        }
        if array.type_ != uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
            return Err(EINVAL);
        }
        // The whole array is read before any entry is handled (a bad one
        // fails the call with nothing done), but only the first matters:
        // entries are handled in order, and it already fails, since no
        // virtual device has its id.
        let mut first = None;
        for index in 0..count as usize {
            let user = UserPtr::from_ptr(array.uptr).wrapping_byte_add(index * array.entry_len);
            let entry: uapi::iommu_viommu_invalidate_selftest =
                read_extensible(user, array.entry_len)?;
            first.get_or_insert(entry);
        }
        match first {
            Some(entry) if entry.flags & !uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 => {
                Err(EOPNOTSUPP)
            }
            _ => Err(EINVAL),
        }
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
        if device.mock_dev().is_none() || cmd.type_ != uapi::IOMMU_VIOMMU_TYPE_SELFTEST {
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
            },
            GFP_KERNEL,
        )?;
        ucmd.cmd.out_viommu_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize(Object::Viommu(viommu));
        Ok(())
    }
}
