// SPDX-License-Identifier: GPL-2.0

//! The mock driver's domains. Each embeds the core's `struct iommu_domain`;
//! the core hands that back to the domain ops, which find their own domain
//! around it. They are allocated here as `KBox`es and freed by the `free`
//! op.

use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    types::Opaque,
};

use super::ops;
use crate::{
    sys::{
        iommu::{Domain, UserData},
        pt::Amdv1Mock,
        viommu::VirtualDevices,
    },
    uapi,
};

/// Mock IOTLB entries of a nested domain.
pub(crate) const IOTLB_NUM: usize = uapi::MOCK_NESTED_DOMAIN_IOTLB_NUM as usize;

/// A paging domain: the kernel's generic page table in the selftest AMDv1
/// format (2 KiB granule), so the core's map, unmap and translation calls
/// walk a real radix table.
#[repr(C)]
pub(crate) struct MockPaging {
    /// The table, whose first field is the core's domain.
    table: Opaque<Amdv1Mock>,
    /// Dirty tracking switched on (`set_dirty_tracking`).
    pub(crate) dirty_tracking: Atomic<bool>,
}

/// A nested (stage-1) domain on a paging parent, with a mock IOTLB that
/// user space invalidates and selftests read back.
#[repr(C)]
pub(crate) struct MockNested {
    domain: Opaque<bindings::iommu_domain>,
    /// The mock IOTLB slots: set at allocation, cleared by invalidation.
    pub(crate) iotlb: [Atomic<u32>; IOTLB_NUM],
    /// The devices of the vIOMMU it was allocated for: attaching it needs
    /// the device's virtual id there.
    pub(crate) viommu_ids: Option<Arc<dyn VirtualDevices>>,
}

/// Builds the core's part of a domain.
fn core_domain(
    type_: u32,
    ops: &'static bindings::iommu_domain_ops,
) -> Opaque<bindings::iommu_domain> {
    Opaque::new(bindings::iommu_domain {
        type_,
        ops,
        // The mock IOMMU's page sizes and aperture, as upstream's selftest
        // advertises them for its nested domains.
        pgsize_bitmap: !(uapi::MOCK_PAGE_SIZE as usize - 1) & ((1usize << 56) - 1),
        geometry: bindings::iommu_domain_geometry {
            aperture_start: u64::from(uapi::MOCK_APERTURE_START),
            aperture_end: u64::from(uapi::MOCK_APERTURE_LAST),
            force_aperture: true,
        },
        ..Default::default()
    })
}

impl MockPaging {
    /// A new paging domain, for the core: the table as upstream's selftest
    /// sets it up. `huge` (`MOCK_IOMMUPT_HUGE`) offers only the mock huge
    /// page and the CPU page, over the table's own aperture; otherwise the
    /// table's page sizes over the mock aperture.
    pub(crate) fn alloc(dirty_ops: bool, huge: bool) -> Result<*mut bindings::iommu_domain> {
        let ops = if huge {
            &ops::PAGING_HUGE_OPS
        } else {
            &ops::PAGING_OPS
        };
        let mock = KBox::new(
            Self {
                table: Opaque::new(Amdv1Mock::new(bindings::IOMMU_DOMAIN_UNMANAGED, ops)),
                dirty_tracking: Atomic::new(false),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let mock = KBox::into_raw(mock);
        // SAFETY: `mock` is valid, not yet shared, and does not move until
        // `free` (it is a box's contents).
        let table = unsafe { (*mock).table.get() };
        // SAFETY: as above; the table is fresh.
        if let Err(e) = unsafe { Amdv1Mock::init(table) } {
            // SAFETY: as above; deinit of a failed init does nothing.
            unsafe { Self::free(Amdv1Mock::domain(table)) };
            return Err(e);
        }
        let domain = Amdv1Mock::domain(table);
        // SAFETY: `domain` is valid and not yet shared.
        unsafe {
            if huge {
                // Upstream's huge layout: user space maps only huge
                // pages, and the CPU page keeps the domain acceptable.
                (*domain).pgsize_bitmap =
                    uapi::MOCK_HUGE_PAGE_SIZE as usize | kernel::page::PAGE_SIZE;
            } else {
                // The mock aperture instead of the table's (0 to 2^38 - 1).
                (*domain).geometry.aperture_start = u64::from(uapi::MOCK_APERTURE_START);
                (*domain).geometry.aperture_end = u64::from(uapi::MOCK_APERTURE_LAST);
            }
            if dirty_ops {
                (*domain).dirty_ops = &ops::DIRTY_OPS;
            }
        }
        Ok(domain)
    }

    /// The paging domain around a core domain of ours.
    ///
    /// # Safety
    ///
    /// `domain` must be a live domain allocated by [`Self::alloc`].
    pub(crate) unsafe fn from_raw<'a>(domain: *mut bindings::iommu_domain) -> &'a Self {
        // The domain is the first field of the table, itself the first
        // field of `Self` (both `repr(C)`).
        let table = domain.cast::<Opaque<Amdv1Mock>>();
        // SAFETY: per the contract.
        unsafe { &*kernel::container_of!(table, Self, table) }
    }

    /// Whether the kernel's page table can mark IOVAs dirty for tests.
    pub(crate) fn can_set_dirty(&self) -> bool {
        // SAFETY: a live `MockPaging` has an initialised table (`alloc`
        // frees it if init fails).
        unsafe { Amdv1Mock::can_set_dirty(self.table.get()) }
    }

    /// Marks the page table entry that maps `iova` dirty, as a device
    /// write through it would (`IOMMU_TEST_OP_DIRTY`).
    ///
    /// # Safety
    ///
    /// No unmap of the domain may run meanwhile.
    pub(crate) unsafe fn set_dirty(&self, iova: u64) -> Result {
        // SAFETY: an initialised table, as above; no unmap runs (the
        // contract).
        unsafe { Amdv1Mock::set_dirty(self.table.get(), iova) }
    }

    /// The mock paging domain behind an owned domain, if it is one.
    pub(crate) fn of(domain: &Domain) -> Option<&Self> {
        let ours = core::ptr::eq(domain.ops(), &ops::PAGING_OPS)
            || core::ptr::eq(domain.ops(), &ops::PAGING_HUGE_OPS);
        // SAFETY: domains with these ops come from `alloc`, and `domain`
        // keeps it alive for the borrow.
        ours.then(|| unsafe { Self::from_raw(domain.as_ptr()) })
    }

    /// Frees a domain from [`Self::alloc`] and its page table.
    ///
    /// # Safety
    ///
    /// As [`Self::from_raw`] (or a domain whose table init failed); the
    /// domain is attached nowhere and not used afterwards.
    pub(crate) unsafe fn free(domain: *mut bindings::iommu_domain) {
        // SAFETY: per the contract.
        let mock = core::ptr::from_ref(unsafe { Self::from_raw(domain) }).cast_mut();
        // SAFETY: per the contract; then it was a `KBox`.
        unsafe {
            Amdv1Mock::deinit((*mock).table.get());
            drop(KBox::from_raw(mock));
        }
    }
}

impl MockNested {
    /// A new nested domain whose IOTLB entries all hold `iotlb`.
    pub(crate) fn alloc(iotlb: u32) -> Result<*mut bindings::iommu_domain> {
        Self::alloc_with(iotlb, None)
    }

    /// A new nested domain for a vIOMMU, from the selftest user data.
    pub(crate) fn alloc_for_viommu(
        data: &UserData,
        viommu_ids: Arc<dyn VirtualDevices>,
    ) -> Result<*mut bindings::iommu_domain> {
        // SAFETY: `data` is valid for the call.
        let cfg = unsafe { ops::read_selftest_data(data) }?;
        Self::alloc_with(cfg.iotlb, Some(viommu_ids))
    }

    fn alloc_with(
        iotlb: u32,
        viommu_ids: Option<Arc<dyn VirtualDevices>>,
    ) -> Result<*mut bindings::iommu_domain> {
        let mock = KBox::new(
            Self {
                domain: core_domain(bindings::IOMMU_DOMAIN_NESTED, &ops::NESTED_OPS),
                iotlb: [const { Atomic::new(0) }; IOTLB_NUM],
                viommu_ids,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        for entry in &mock.iotlb {
            entry.store(iotlb, Relaxed);
        }
        let mock = KBox::into_raw(mock);
        // SAFETY: `mock` is valid.
        Ok(unsafe { (*mock).domain.get() })
    }

    /// The nested domain around a core domain of ours.
    ///
    /// # Safety
    ///
    /// `domain` must be a live domain allocated by [`Self::alloc`].
    pub(crate) unsafe fn from_raw<'a>(domain: *mut bindings::iommu_domain) -> &'a Self {
        let domain = domain.cast::<Opaque<bindings::iommu_domain>>();
        // SAFETY: per the contract.
        unsafe { &*kernel::container_of!(domain, Self, domain) }
    }

    /// The mock nested domain behind an owned domain, if it is one.
    pub(crate) fn of(domain: &Domain) -> Option<&Self> {
        let ours = core::ptr::eq(domain.ops(), &ops::NESTED_OPS);
        // SAFETY: domains with these ops come from `alloc`, and `domain`
        // keeps it alive for the borrow.
        ours.then(|| unsafe { Self::from_raw(domain.as_ptr()) })
    }

    /// Frees a domain from [`Self::alloc`].
    ///
    /// # Safety
    ///
    /// As [`Self::from_raw`]; the domain is not used afterwards.
    pub(crate) unsafe fn free(domain: *mut bindings::iommu_domain) {
        // SAFETY: per the contract; it was a `KBox`.
        drop(unsafe { KBox::from_raw(core::ptr::from_ref(Self::from_raw(domain)).cast_mut()) });
    }
}
