// SPDX-License-Identifier: GPL-2.0

//! The mock driver's vIOMMU side ([`ViommuDriver`]): vIOMMUs of the
//! selftest type, whose driver data loops `in_data` back as `out_data` and
//! in the first word of two pages user space may `mmap()`, nested domains
//! on them, device cache invalidation by virtual id, and hardware queues
//! ([`MockViommu`]).

use kernel::{
    bindings,
    device::Device,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use super::{dev::MockDev, domain::MockNested, ops, MockIommu};
use crate::{
    sys::{
        iommu::{Domain, UserData},
        viommu::{ViommuDriver, ViommuState, VirtualDevices},
        vma::MapPages,
    },
    uapi::{self, copy_user_data, iommu_viommu_selftest, offset_end, read_extensible},
};

/// How many hardware queues a mock vIOMMU has.
const QUEUES: usize = uapi::IOMMU_TEST_HW_QUEUE_MAX as usize;

/// The mock driver's state of one vIOMMU: which of its hardware queues
/// are taken. Queue `n` may be taken only while queue `n - 1` is, and
/// depends on it, as upstream's mock (which tests
/// `iommufd_hw_queue_depend()` so).
#[pin_data]
struct MockViommu {
    #[pin]
    queues: Mutex<[bool; QUEUES]>,
}

impl ViommuState for MockViommu {
    fn supports_hw_queue(&self, queue_type: u32) -> bool {
        queue_type == uapi::IOMMU_HW_QUEUE_TYPE_SELFTEST
    }

    /// `EINVAL` past the last queue, `EEXIST` for a taken one, `EIO` if
    /// the one before is not taken, `EFAULT` if `base_pa` is not what the
    /// nesting parent maps `base_iova` to (a check of the core).
    fn hw_queue_init(
        &self,
        parent: &Domain,
        index: u32,
        base_iova: u64,
        base_pa: u64,
    ) -> Result<Option<u32>> {
        let slot = index as usize;
        if slot >= QUEUES {
            return Err(EINVAL);
        }
        let mut queues = self.queues.lock();
        if queues[slot] {
            return Err(EEXIST);
        }
        let prev = index.checked_sub(1);
        if let Some(prev) = prev {
            if !queues[prev as usize] {
                return Err(EIO);
            }
        }
        if parent.iova_to_phys(base_iova) != base_pa {
            return Err(EFAULT);
        }
        queues[slot] = true;
        Ok(prev)
    }

    fn hw_queue_destroy(&self, index: u32) {
        if let Some(taken) = self.queues.lock().get_mut(index as usize) {
            *taken = false;
        }
    }
}

impl ViommuDriver for MockIommu {
    fn supports(&self, dev: &Device, viommu_type: u32) -> bool {
        // The driver's answer to "what size is a vIOMMU of this type":
        // mock devices have one, of the selftest type.
        MockDev::from_device(dev).is_some() && viommu_type == uapi::IOMMU_VIOMMU_TYPE_SELFTEST
    }

    /// With driver data, lends two zeroed pages to `mmap()`, the first
    /// word of them `in_data`, and reports where they are.
    fn init(
        &self,
        viommu_type: u32,
        data: Option<(UserPtr, usize)>,
        mmap: &mut dyn FnMut(MapPages) -> Result<u64>,
    ) -> Result<Arc<dyn ViommuState>> {
        // Upstream's core allocates the driver's structure first.
        let state = Arc::pin_init(
            pin_init!(MockViommu {
                queues <- new_mutex!([false; QUEUES]),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        if let Some((user, len)) = data {
            let mut data: iommu_viommu_selftest = copy_user_data(
                viommu_type,
                user,
                len,
                uapi::IOMMU_VIOMMU_TYPE_SELFTEST,
                offset_end!(iommu_viommu_selftest, out_data),
            )?;
            let mut pages = MapPages::new(2)?;
            pages.write(0, &data.in_data.to_ne_bytes())?;
            data.out_mmap_length = pages.len() as u64;
            data.out_mmap_offset = mmap(pages)?;
            data.out_data = data.in_data;
            let bytes = kernel::transmute::AsBytes::as_bytes(&data);
            UserSlice::new(user, len)
                .writer()
                .write_slice(&bytes[..len])?;
        }
        Ok(state)
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
