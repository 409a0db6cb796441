// SPDX-License-Identifier: GPL-2.0

//! The kernel's generic IOMMU page table (drivers/iommu/generic_pt), in the
//! AMDv1 format's iommufd-selftest variant: a real radix table with a
//! 2 KiB granule, exported in namespace `GENERIC_PT_IOMMU` by kernels built
//! with `CONFIG_IOMMUFD_TEST` and `CONFIG_IOMMU_PT_AMDV1`.
//!
//! include/linux/generic_pt/iommu.h is not in `kernel::bindings`, so the
//! two structures a driver embeds are declared here, field for field, and
//! their size is checked against C's (helpers.c) before a table is
//! initialised. Once initialised, the core's `iommu_map()`,
//! `iommu_unmap()` and `iommu_iova_to_phys()` find the table through the
//! domain's `is_iommupt` and walk it.

use kernel::{bindings, error::to_result, prelude::*};

/// `struct pt_iommu` (include/linux/generic_pt/iommu.h).
#[repr(C)]
struct PtIommu {
    domain: bindings::iommu_domain,
    ops: *const PtIommuOps,
    driver_ops: *const c_void,
    nid: c_int,
    iommu_device: *mut bindings::device,
}

/// `struct pt_iommu_ops`, up to `set_dirty` (helpers.c checks its offset):
/// the table's own ops, set by init, static.
#[repr(C)]
struct PtIommuOps {
    map_range: *const c_void,
    unmap_range: *const c_void,
    /// Marks the entry that maps an IOVA dirty, as a device write would;
    /// only kernels with `CONFIG_IOMMUFD_TEST` have it.
    set_dirty: Option<unsafe extern "C" fn(*mut PtIommu, bindings::dma_addr_t) -> c_int>,
}

/// `struct pt_common` (include/linux/generic_pt/common.h).
#[repr(C)]
struct PtCommon {
    top_of_table: usize,
    max_oasz_lg2: u8,
    max_vasz_lg2: u8,
    features: c_uint,
}

/// `struct pt_iommu_cfg`.
#[repr(C)]
struct PtIommuCfg {
    features: c_uint,
    hw_max_vasz_lg2: u8,
    hw_max_oasz_lg2: u8,
}

/// `struct pt_iommu_amdv1_cfg` (also the mock variant's).
#[repr(C)]
struct PtIommuAmdv1Cfg {
    common: PtIommuCfg,
    starting_level: c_uint,
}

#[expect(
    improper_ctypes,
    reason = "kernel structures behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    fn pt_iommu_amdv1_mock_init(
        table: *mut Amdv1Mock,
        cfg: *const PtIommuAmdv1Cfg,
        gfp: bindings::gfp_t,
    ) -> c_int;
    /// The format's `iova_to_phys` domain op (`IOMMU_PT_DOMAIN_OPS`).
    pub(crate) fn pt_iommu_amdv1_mock_iova_to_phys(
        domain: *mut bindings::iommu_domain,
        iova: bindings::dma_addr_t,
    ) -> bindings::phys_addr_t;
    /// The format's `read_and_clear_dirty` dirty op (`IOMMU_PT_DIRTY_OPS`).
    pub(crate) fn pt_iommu_amdv1_mock_read_and_clear_dirty(
        domain: *mut bindings::iommu_domain,
        iova: c_ulong,
        size: usize,
        flags: c_ulong,
        dirty: *mut bindings::iommu_dirty_bitmap,
    ) -> c_int;
    /// drivers/iommu/iommu-pages.h (a private header).
    fn iommu_put_pages_list(list: *mut bindings::iommu_pages_list);
    /// helpers.c: `sizeof(struct pt_iommu_amdv1)`.
    fn rust_iommufd_pt_amdv1_size() -> usize;
    /// helpers.c: `pt_iommu_deinit()`, a static inline.
    fn rust_iommufd_pt_iommu_deinit(iommu: *mut Amdv1Mock);
}

/// Virtual address bits of the selftest format's hardware
/// (`hw_max_vasz_lg2`, as upstream's mock).
const MOCK_VASZ_LG2: u8 = 56;
/// Output address bits (`hw_max_oasz_lg2`).
const MOCK_OASZ_LG2: u8 = 51;
/// The top level: 2 gives a 38-bit table (11 + 3 * 9 bits).
const MOCK_STARTING_LEVEL: c_uint = 2;

/// `struct pt_iommu_amdv1` of the selftest variant: an `iommu_domain`
/// followed by the generic page table's state. A driver embeds it with the
/// domain first, so that the core's domain pointer is the table's.
///
/// # Invariants
///
/// Once [`Amdv1Mock::init`] has succeeded on a value, its domain is a
/// generic page table domain (`is_iommupt`), which the core's map, unmap
/// and translation calls walk, until [`Amdv1Mock::deinit`] frees the table
/// memory.
#[repr(C)]
pub(crate) struct Amdv1Mock {
    iommu: PtIommu,
    amdpt: PtCommon,
}

impl Amdv1Mock {
    /// A table not initialised yet: all zero, with the domain's type and
    /// ops (which initialisation keeps) and no NUMA node preference.
    pub(crate) fn new(type_: u32, ops: &'static bindings::iommu_domain_ops) -> Self {
        Self {
            iommu: PtIommu {
                domain: bindings::iommu_domain {
                    type_,
                    ops,
                    ..Default::default()
                },
                ops: core::ptr::null(),
                driver_ops: core::ptr::null(),
                nid: bindings::NUMA_NO_NODE,
                iommu_device: core::ptr::null_mut(),
            },
            amdpt: PtCommon {
                top_of_table: 0,
                max_oasz_lg2: 0,
                max_vasz_lg2: 0,
                features: 0,
            },
        }
    }

    /// Initialises the table as upstream's selftest does (2 KiB granule,
    /// 56-bit hardware VA, 51-bit OA, starting level 2): it allocates the
    /// top level and sets the domain's page sizes and aperture (0 to
    /// 2^38 - 1) and its `is_iommupt`.
    ///
    /// # Safety
    ///
    /// `this` must be valid for writes, not initialised yet (or failed),
    /// and must not move until [`Self::deinit`] has been called on it.
    pub(crate) unsafe fn init(this: *mut Self) -> Result {
        // SAFETY: a plain query of a constant.
        if unsafe { rust_iommufd_pt_amdv1_size() } != size_of::<Self>() {
            // The declarations above no longer match the kernel's.
            return Err(EINVAL);
        }
        let cfg = PtIommuAmdv1Cfg {
            common: PtIommuCfg {
                features: 0,
                hw_max_vasz_lg2: MOCK_VASZ_LG2,
                hw_max_oasz_lg2: MOCK_OASZ_LG2,
            },
            starting_level: MOCK_STARTING_LEVEL,
        };
        // SAFETY: `this` is valid (the caller's contract) and laid out as
        // C's `struct pt_iommu_amdv1` (checked above); `cfg` lives across
        // the call. INVARIANT: on success the table is initialised.
        to_result(unsafe { pt_iommu_amdv1_mock_init(this, &cfg, bindings::GFP_KERNEL_ACCOUNT) })
    }

    /// Frees the table's memory. Harmless on a table that was never
    /// initialised, or whose init failed (its `ops` are still NULL).
    ///
    /// # Safety
    ///
    /// `this` must be valid, from [`Self::new`], and its domain attached
    /// nowhere; it is not used as a table afterwards.
    pub(crate) unsafe fn deinit(this: *mut Self) {
        // SAFETY: per the contract; `pt_iommu_deinit()` does nothing while
        // the table's ops are NULL.
        unsafe { rust_iommufd_pt_iommu_deinit(this) }
    }

    /// The table's `set_dirty` op, if the kernel has it.
    ///
    /// # Safety
    ///
    /// `this` must be valid and initialised ([`Self::init`] succeeded).
    unsafe fn set_dirty_op(
        this: *mut Self,
    ) -> Option<unsafe extern "C" fn(*mut PtIommu, bindings::dma_addr_t) -> c_int> {
        // SAFETY: per the contract, init set `ops` to the format's static
        // table, which nothing changes afterwards.
        unsafe { (*this).iommu.ops.as_ref() }.and_then(|ops| ops.set_dirty)
    }

    /// Whether the table can mark IOVAs dirty for tests ([`Self::set_dirty`]).
    ///
    /// # Safety
    ///
    /// As [`Self::set_dirty_op`].
    pub(crate) unsafe fn can_set_dirty(this: *mut Self) -> bool {
        // SAFETY: per the contract.
        unsafe { Self::set_dirty_op(this) }.is_some()
    }

    /// Marks the entry that maps `iova` dirty, as a device write would
    /// (the selftest's `IOMMU_TEST_OP_DIRTY`): `ENOENT` if nothing is
    /// mapped there, `EAGAIN` on a race with another update of the entry,
    /// `EOPNOTSUPP` if the kernel lacks the op.
    ///
    /// # Safety
    ///
    /// As [`Self::set_dirty_op`]; and no unmap may run on the table
    /// meanwhile (which would free the table pages the walk reads).
    pub(crate) unsafe fn set_dirty(this: *mut Self, iova: u64) -> Result {
        // SAFETY: per the contract.
        let op = unsafe { Self::set_dirty_op(this) }.ok_or(EOPNOTSUPP)?;
        // SAFETY: an initialised table of this format (the contract),
        // whose first field is the `pt_iommu` the op expects; the op
        // itself needs no lock against maps or dirty reads.
        to_result(unsafe { op(&raw mut (*this).iommu, iova) })
    }

    /// The core's domain inside the table.
    pub(crate) fn domain(this: *mut Self) -> *mut bindings::iommu_domain {
        // No reference is made: the core writes the domain concurrently.
        // SAFETY: only computes a field's address.
        unsafe { &raw mut (*this).iommu.domain }
    }
}

/// Frees the page table pages that an unmap gathered: what a driver's
/// `iotlb_sync` does once the IOTLB no longer names them (the mock has no
/// IOTLB to flush).
///
/// # Safety
///
/// `gather` must be a valid gather the core passes to `iotlb_sync`.
pub(crate) unsafe fn free_gathered(gather: *mut bindings::iommu_iotlb_gather) {
    // SAFETY: per the contract, its freelist holds table pages the generic
    // page table put there, no longer referenced by any table.
    unsafe { iommu_put_pages_list(&raw mut (*gather).freelist) }
}
