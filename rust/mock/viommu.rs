// SPDX-License-Identifier: GPL-2.0

//! The mock driver's vIOMMU side ([`ViommuDriver`]): vIOMMUs of the
//! selftest type, whose driver data loops `in_data` back as `out_data`,
//! nested domains on them, and device cache invalidation by virtual id.

use kernel::{
    bindings,
    device::Device,
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

use super::{dev::MockDev, domain::MockNested, ops, MockIommu};
use crate::{
    sys::{
        iommu::{Domain, UserData},
        viommu::{ViommuDriver, VirtualDevices},
    },
    uapi::{self, copy_user_data, iommu_viommu_selftest, offset_end, read_extensible},
};

impl ViommuDriver for MockIommu {
    fn supports(&self, dev: &Device, viommu_type: u32) -> bool {
        // The driver's answer to "what size is a vIOMMU of this type":
        // mock devices have one, of the selftest type.
        MockDev::from_device(dev).is_some() && viommu_type == uapi::IOMMU_VIOMMU_TYPE_SELFTEST
    }

    fn init_data(&self, viommu_type: u32, user: UserPtr, len: usize) -> Result {
        let mut data: iommu_viommu_selftest = copy_user_data(
            viommu_type,
            user,
            len,
            uapi::IOMMU_VIOMMU_TYPE_SELFTEST,
            offset_end!(iommu_viommu_selftest, out_data),
        )?;
        // The loopback; the MMIO page (`mmap`) is not implemented.
        data.out_data = data.in_data;
        data.out_mmap_offset = 0;
        data.out_mmap_length = 0;
        let bytes = kernel::transmute::AsBytes::as_bytes(&data);
        UserSlice::new(user, len)
            .writer()
            .write_slice(&bytes[..len])
    }

    fn alloc_domain_nested(
        &self,
        flags: u32,
        data: &UserData,
        devices: Arc<dyn VirtualDevices>,
    ) -> Result<Domain> {
        if flags & !uapi::IOMMU_HWPT_ALLOC_PASID != 0 {
            return Err(EOPNOTSUPP);
        }
        if data.type_ != uapi::IOMMU_HWPT_DATA_SELFTEST {
            return Err(EOPNOTSUPP);
        }
        let domain = MockNested::alloc_for_viommu(data, devices)?;
        // SAFETY: a fresh domain of this driver, whose ops these are.
        unsafe { Domain::from_driver(domain, ops::ops()) }
    }

    /// Invalidates device caches named by virtual device id, entry by
    /// entry, as the mock driver upstream does.
    fn cache_invalidate(
        &self,
        devices: &dyn VirtualDevices,
        array: &mut bindings::iommu_user_data_array,
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
        let (uptr, entry_len) = (array.uptr, array.entry_len);
        let entry = |index: usize| -> Result<uapi::iommu_viommu_invalidate_selftest> {
            let user = UserPtr::from_ptr(uptr).wrapping_byte_add(index * entry_len);
            read_extensible(user, entry_len)
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
            let mut invalidate = |dev: &Device| {
                if let Some(mdev) = MockDev::from_device(dev) {
                    mdev.invalidate_cache((!all).then_some(entry.cache_id));
                }
            };
            if !devices.with_device(u64::from(entry.vdev_id), &mut invalidate) {
                return Err(EINVAL);
            }
            // Fits: `index < count`, which came from a `u32`.
            array.entry_num = index as u32 + 1;
        }
        Ok(())
    }
}
