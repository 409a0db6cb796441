// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU driver: the `iommu_ops` and `iommu_domain_ops` tables the
//! core calls, and the callbacks behind them.
//!
//! Every callback gets only pointers the core vouches for: devices it
//! probed through `probe_device` (always mock devices: other buses are
//! refused) and domains allocated by the alloc ops below.

use core::cell::UnsafeCell;
use kernel::{bindings, prelude::*, sync::atomic::Relaxed, uaccess::UserPtr};

use super::{
    dev::MockDev,
    domain::{MockNested, MockPaging, IOTLB_NUM},
    MockIommu,
};
use crate::{
    sys::{pt, this_module},
    uapi::{self, copy_user_data, iommu_hwpt_invalidate_selftest, iommu_hwpt_selftest},
};

/// A C table that the core reads through `*mut` pointers but never writes.
#[repr(transparent)]
pub(crate) struct CTable<T>(UnsafeCell<T>);

// SAFETY: the tables are initialised at compile time and never written: the
// core takes `*mut` pointers to them only because its structures declare
// them so.
unsafe impl<T> Sync for CTable<T> {}

impl<T> CTable<T> {
    /// Wraps a table built at compile time.
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The pointer the core's structures want; never written through.
    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// The domain devices sit in when nothing else is attached. It blocks DMA.
static BLOCKING_DOMAIN: CTable<bindings::iommu_domain> = CTable::new(bindings::iommu_domain {
    type_: bindings::IOMMU_DOMAIN_BLOCKED,
    ops: &BLOCKING_OPS,
    ..pin_init::zeroed()
});

static BLOCKING_OPS: bindings::iommu_domain_ops = bindings::iommu_domain_ops {
    attach_dev: Some(attach_dev),
    set_dev_pasid: Some(set_dev_pasid),
    ..pin_init::zeroed()
};

/// Ops of [`MockPaging`] domains. Map and unmap need no op: the core
/// calls the generic page table directly (`is_iommupt`).
pub(crate) static PAGING_OPS: bindings::iommu_domain_ops = bindings::iommu_domain_ops {
    attach_dev: Some(attach_dev),
    set_dev_pasid: Some(set_dev_pasid),
    iova_to_phys: Some(pt::pt_iommu_amdv1_mock_iova_to_phys),
    iotlb_sync: Some(iotlb_sync),
    free: Some(free_paging),
    ..pin_init::zeroed()
};

/// The same for domains with the huge page layout (`MOCK_IOMMUPT_HUGE`): a
/// table of its own, as upstream, so the layout can be told from the ops.
pub(crate) static PAGING_HUGE_OPS: bindings::iommu_domain_ops = bindings::iommu_domain_ops {
    attach_dev: Some(attach_dev),
    set_dev_pasid: Some(set_dev_pasid),
    iova_to_phys: Some(pt::pt_iommu_amdv1_mock_iova_to_phys),
    iotlb_sync: Some(iotlb_sync),
    free: Some(free_paging),
    ..pin_init::zeroed()
};

/// Ops of [`MockNested`] domains.
pub(crate) static NESTED_OPS: bindings::iommu_domain_ops = bindings::iommu_domain_ops {
    attach_dev: Some(attach_dev),
    set_dev_pasid: Some(set_dev_pasid),
    cache_invalidate_user: Some(cache_invalidate_user),
    free: Some(free_nested),
    ..pin_init::zeroed()
};

/// Dirty-tracking ops of paging domains allocated with
/// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
pub(crate) static DIRTY_OPS: bindings::iommu_dirty_ops = bindings::iommu_dirty_ops {
    set_dirty_tracking: Some(set_dirty_tracking),
    read_and_clear_dirty: Some(pt::pt_iommu_amdv1_mock_read_and_clear_dirty),
};

static OPS: CTable<bindings::iommu_ops> = CTable::new(bindings::iommu_ops {
    capable: Some(capable),
    hw_info: Some(hw_info),
    domain_alloc_paging_flags: Some(domain_alloc_paging_flags),
    domain_alloc_nested: Some(domain_alloc_nested),
    probe_device: Some(probe_device),
    device_group: Some(bindings::generic_device_group),
    page_response: Some(page_response),
    owner: this_module(),
    // BLOCKED is 0, so def_domain_type() cannot ask for it: point at it.
    default_domain: BLOCKING_DOMAIN.get(),
    blocked_domain: BLOCKING_DOMAIN.get(),
    // The one bitfield: user_pasid_table = 1. Faults on a PASID without its
    // own attachment go to a nested domain on the RID, as on SMMUv3.
    _bitfield_1: bindings::__BindgenBitfieldUnit::new([1]),
    ..pin_init::zeroed()
});

/// The driver's `iommu_ops`, for registration.
pub(crate) fn ops() -> *const bindings::iommu_ops {
    OPS.get()
}

/// The mock device of a device the core passes to an op. Always `Some` in
/// practice (`probe_device` accepts mock devices only); a callback that
/// gets `None` fails as for a device it cannot handle.
///
/// # Safety
///
/// `dev` must be live for `'a`.
unsafe fn mock_dev<'a>(dev: *mut bindings::device) -> Option<&'a MockDev> {
    // SAFETY: the caller's contract.
    unsafe { MockDev::from_raw(dev) }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn probe_device(dev: *mut bindings::device) -> *mut bindings::iommu_device {
    // SAFETY: the core passes a live device on some bus.
    match unsafe { MockDev::from_raw(dev) } {
        // SAFETY: a mock device is on the mock IOMMU's bus.
        Some(_) => unsafe { MockIommu::from_bus((*dev).bus).iommu() },
        None => ENODEV.to_ptr(),
    }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn capable(dev: *mut bindings::device, cap: bindings::iommu_cap) -> bool {
    // SAFETY: the core calls this on live devices.
    let Some(mdev) = (unsafe { mock_dev(dev) }) else {
        return false;
    };
    match cap {
        bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY => true,
        bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING => {
            mdev.flags() & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY == 0
        }
        _ => false,
    }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn hw_info(
    _dev: *mut bindings::device,
    length: *mut u32,
    type_: *mut bindings::iommu_hw_info_type,
) -> *mut c_void {
    // SAFETY: the core passes valid pointers.
    let asked = unsafe { *type_ };
    if asked != bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT
        && asked != uapi::IOMMU_HW_INFO_TYPE_SELFTEST
    {
        return EOPNOTSUPP.to_ptr();
    }
    let info = uapi::iommu_test_hw_info {
        flags: 0,
        test_reg: uapi::IOMMU_HW_INFO_SELFTEST_REGVAL,
    };
    match KBox::new(info, GFP_KERNEL_ACCOUNT) {
        Ok(info) => {
            // SAFETY: as above. The caller kfree()s the buffer.
            unsafe {
                *length = size_of::<uapi::iommu_test_hw_info>() as u32;
                *type_ = uapi::IOMMU_HW_INFO_TYPE_SELFTEST;
            }
            KBox::into_raw(info).cast()
        }
        Err(e) => Error::from(e).to_ptr(),
    }
}

/// Reads the selftest allocation data (`struct iommu_hwpt_selftest`).
///
/// # Safety
///
/// `data` must be valid for reads.
pub(crate) unsafe fn read_selftest_data(
    data: *const bindings::iommu_user_data,
) -> Result<iommu_hwpt_selftest> {
    // SAFETY: per the contract.
    let data = unsafe { &*data };
    copy_user_data(
        data.type_,
        UserPtr::from_ptr(data.uptr),
        data.len,
        uapi::IOMMU_HWPT_DATA_SELFTEST,
        crate::uapi::offset_end!(iommu_hwpt_selftest, iotlb),
    )
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn domain_alloc_paging_flags(
    dev: *mut bindings::device,
    flags: u32,
    data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    const PAGING_FLAGS: u32 = uapi::IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        | uapi::IOMMU_HWPT_ALLOC_NEST_PARENT
        | uapi::IOMMU_HWPT_ALLOC_PASID;
    // SAFETY: the core calls this on live devices.
    let Some(mdev) = (unsafe { mock_dev(dev) }) else {
        return ENODEV.to_ptr();
    };
    let dirty = flags & uapi::IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0;
    if flags & !PAGING_FLAGS != 0 || (dirty && mdev.flags() & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY != 0)
    {
        return EOPNOTSUPP.to_ptr();
    }
    let mut huge = false;
    if !data.is_null() {
        // SAFETY: non-NULL user data is valid for the call.
        let data_type = unsafe { (*data).type_ };
        if data_type != uapi::IOMMU_HWPT_DATA_SELFTEST && data_type != uapi::IOMMU_HWPT_DATA_NONE {
            return EOPNOTSUPP.to_ptr();
        }
        // SAFETY: as above.
        match unsafe { read_selftest_data(data) } {
            Ok(cfg) if cfg.pagetable_type == uapi::MOCK_IOMMUPT_DEFAULT => {}
            Ok(cfg) if cfg.pagetable_type == uapi::MOCK_IOMMUPT_HUGE => huge = true,
            Ok(_) => return EOPNOTSUPP.to_ptr(),
            Err(e) => return e.to_ptr(),
        }
    }
    MockPaging::alloc(dirty, huge).unwrap_or_else(Error::to_ptr)
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn domain_alloc_nested(
    _dev: *mut bindings::device,
    parent: *mut bindings::iommu_domain,
    flags: u32,
    data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    if flags & !uapi::IOMMU_HWPT_ALLOC_PASID != 0 {
        return EOPNOTSUPP.to_ptr();
    }
    // SAFETY: the core passes NULL or a live domain.
    if parent.is_null() || unsafe { (*parent).type_ } & bindings::__IOMMU_DOMAIN_PAGING == 0 {
        return EINVAL.to_ptr();
    }
    // SAFETY: user data is valid for the call.
    if unsafe { (*data).type_ } != uapi::IOMMU_HWPT_DATA_SELFTEST {
        return EOPNOTSUPP.to_ptr();
    }
    // SAFETY: as above.
    match unsafe { read_selftest_data(data) } {
        Ok(cfg) => MockNested::alloc(cfg.iotlb).unwrap_or_else(Error::to_ptr),
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn attach_dev(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: the core calls this on live devices, with live domains.
    let Some(mdev) = (unsafe { mock_dev(dev) }) else {
        return ENODEV.to_errno();
    };
    // SAFETY: as above.
    let dirty_ops = unsafe { !(*domain).dirty_ops.is_null() };
    if dirty_ops && mdev.flags() & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY != 0 {
        return EINVAL.to_errno();
    }
    let mut viommu = None;
    // SAFETY: as above.
    if unsafe { (*domain).ops } == &raw const NESTED_OPS {
        // SAFETY: domains with these ops are `MockNested`s.
        let nested = unsafe { MockNested::from_raw(domain) };
        // A nested domain of a vIOMMU translates for the devices the
        // vIOMMU knows (those with a vDEVICE there).
        if let Some(ids) = &nested.viommu_ids {
            let Some(virt_id) = ids.virt_id_of(dev) else {
                return ENOENT.to_errno();
            };
            viommu = Some((ids.clone(), virt_id));
        }
    }
    if let Err(e) = mdev.enable_iopf(domain) {
        return e.to_errno();
    }
    // Events are reported through the vIOMMU of the domain attached now.
    mdev.set_viommu(viommu);
    let old = mdev.set_domain(domain);
    mdev.disable_iopf(old);
    0
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn set_dev_pasid(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: u32,
    old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: the core calls this on live devices, with live domains.
    let Some(mdev) = (unsafe { mock_dev(dev) }) else {
        return ENODEV.to_errno();
    };
    // PASID 1024 fails every second attach, so tests can check that the
    // core (and iommufd above it) roll back a failed replace. Blocking it
    // resets the cycle.
    if pasid == uapi::IOMMU_TEST_PASID_RESERVED {
        // SAFETY: as above.
        if unsafe { (*domain).type_ } == bindings::IOMMU_DOMAIN_BLOCKED {
            mdev.pasid_1024_fake_error.store(false, Relaxed);
        } else if mdev.pasid_1024_fake_error.xchg(false, Relaxed) {
            return ENOMEM.to_errno();
        } else {
            mdev.pasid_1024_fake_error.store(true, Relaxed);
        }
    }
    if let Err(e) = mdev.enable_iopf(domain) {
        return e.to_errno();
    }
    mdev.disable_iopf(old);
    0
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn free_paging(domain: *mut bindings::iommu_domain) {
    // SAFETY: the core frees each domain of ours once, with these ops.
    unsafe { MockPaging::free(domain) }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn iotlb_sync(
    _domain: *mut bindings::iommu_domain,
    gather: *mut bindings::iommu_iotlb_gather,
) {
    // No IOTLB to flush: only the table pages an unmap freed are put.
    // SAFETY: the core passes the gather of the unmap it completes.
    unsafe { pt::free_gathered(gather) }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn free_nested(domain: *mut bindings::iommu_domain) {
    // SAFETY: as above.
    unsafe { MockNested::free(domain) }
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn set_dirty_tracking(
    domain: *mut bindings::iommu_domain,
    enable: bool,
) -> c_int {
    // SAFETY: only paging domains have dirty ops.
    let mock = unsafe { MockPaging::from_raw(domain) };
    mock.dirty_tracking.store(enable, Relaxed);
    0
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn cache_invalidate_user(
    domain: *mut bindings::iommu_domain,
    array: *mut bindings::iommu_user_data_array,
) -> c_int {
    // SAFETY: called with live nested domains of ours and a valid array.
    let (mock, array) = unsafe { (MockNested::from_raw(domain), &mut *array) };
    let mut done = 0;
    let result = invalidate_entries(mock, array, &mut done);
    array.entry_num = done;
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Handles the entries of a user invalidation array in order, counting
/// those done; stops at the first bad one.
fn invalidate_entries(
    mock: &MockNested,
    array: &bindings::iommu_user_data_array,
    done: &mut u32,
) -> Result {
    if array.type_ != uapi::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
        return Err(EINVAL);
    }
    for index in 0..array.entry_num {
        let offset = array.entry_len * index as usize;
        let inv: iommu_hwpt_invalidate_selftest = copy_user_data(
            array.type_,
            UserPtr::from_addr(array.uptr as usize).wrapping_byte_add(offset),
            array.entry_len,
            uapi::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            crate::uapi::offset_end!(iommu_hwpt_invalidate_selftest, iotlb_id),
        )?;
        if inv.flags & !uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            return Err(EOPNOTSUPP);
        }
        if inv.iotlb_id as usize >= IOTLB_NUM {
            return Err(EINVAL);
        }
        if inv.flags & uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            mock.iotlb.iter().for_each(|e| e.store(0, Relaxed));
        } else {
            mock.iotlb[inv.iotlb_id as usize].store(0, Relaxed);
        }
        *done += 1;
    }
    Ok(())
}

/// # Safety
///
/// Only the IOMMU core calls this, with the pointers it vouches for.
unsafe extern "C" fn page_response(
    dev: *mut bindings::device,
    _evt: *mut bindings::iopf_fault,
    msg: *mut bindings::iommu_page_response,
) {
    // SAFETY: the core calls this on live devices, with a valid message.
    let (Some(mdev), msg) = (unsafe { (mock_dev(dev), &*msg) }) else {
        return;
    };
    // No hardware to pass it to: the device records it for the tests.
    mdev.record_response(msg.pasid, msg.grpid, msg.code);
}
