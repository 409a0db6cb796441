// SPDX-License-Identifier: GPL-2.0

//! The kernel IOMMU core, as iommufd and the mock driver use it.
//!
//! `kernel::bindings` lacks the functions declared in
//! drivers/iommu/iommu-priv.h and the `IOMMUFD_INTERNAL` exports; they are
//! declared here. Everything else in this file wraps raw calls in types that
//! own what they point at ([`Group`], [`Domain`]) or in functions whose
//! preconditions the types already guarantee.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::{from_err_ptr, to_result},
    prelude::*,
};

#[expect(
    improper_ctypes,
    reason = "kernel structures behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    pub(crate) fn iommu_device_register_bus(
        iommu: *mut bindings::iommu_device,
        ops: *const bindings::iommu_ops,
        bus: *const bindings::bus_type,
        nb: *mut bindings::notifier_block,
    ) -> c_int;
    pub(crate) fn iommu_device_unregister_bus(
        iommu: *mut bindings::iommu_device,
        bus: *const bindings::bus_type,
        nb: *mut bindings::notifier_block,
    );
    /// helpers.c: `iommu_mock_device_add()`, and on failure frees the
    /// IOMMU data it may leave on the device (a failed fwspec allocation
    /// leaves `dev->iommu` set, which nothing frees for a device that never
    /// went on the bus).
    pub(crate) fn rust_iommufd_mock_device_add(
        dev: *mut bindings::device,
        iommu: *mut bindings::iommu_device,
    ) -> c_int;
    pub(super) fn iommu_attach_group_handle(
        domain: *mut bindings::iommu_domain,
        group: *mut bindings::iommu_group,
        handle: *mut bindings::iommu_attach_handle,
    ) -> c_int;
    pub(super) fn iommu_detach_group_handle(
        domain: *mut bindings::iommu_domain,
        group: *mut bindings::iommu_group,
    );
    pub(super) fn iommu_replace_group_handle(
        group: *mut bindings::iommu_group,
        new_domain: *mut bindings::iommu_domain,
        handle: *mut bindings::iommu_attach_handle,
    ) -> c_int;
    pub(super) fn iommu_replace_device_pasid(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        pasid: u32,
        handle: *mut bindings::iommu_attach_handle,
    ) -> c_int;
    fn iommu_attach_handle_get(
        group: *mut bindings::iommu_group,
        pasid: u32,
        type_: c_uint,
    ) -> *mut bindings::iommu_attach_handle;
}

/// The raw `struct device` behind a [`Device`], in any device context.
pub(crate) fn raw_dev<Ctx: kernel::device::DeviceContext>(
    dev: &Device<Ctx>,
) -> *mut bindings::device {
    // `Device` is a `#[repr(transparent)]` wrapper of `struct device`
    // (rust/kernel/device.rs); its `as_raw()` is crate-private.
    core::ptr::from_ref(dev).cast_mut().cast()
}

/// A device that an IOMMU driver has probed and that stays on its bus for
/// as long as the reference lives: what the core's per-device IOMMU state
/// (`dev->iommu`) needs, since the core frees that state when the device
/// leaves its bus.
///
/// # Invariants
///
/// For the lifetime of a `&ProbedDevice`, `dev->iommu` of the wrapped
/// device is set by the IOMMU driver that probed it and stays valid, and so
/// do the `iommu_device` and ops table it points to.
#[repr(transparent)]
pub(crate) struct ProbedDevice(Device);

impl ProbedDevice {
    /// Vouches that `dev` is probed and stays on its bus for `'a`.
    ///
    /// # Safety
    ///
    /// An IOMMU driver must have probed `dev`, and `dev` must not leave its
    /// bus during `'a`.
    pub(crate) unsafe fn from_device<'a>(dev: &'a Device) -> &'a Self {
        // SAFETY: `ProbedDevice` is a `repr(transparent)` wrapper of
        // `Device`. INVARIANT: the caller's promise.
        unsafe { &*core::ptr::from_ref(dev).cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::device {
        raw_dev(&self.0)
    }
}

impl core::ops::Deref for ProbedDevice {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.0
    }
}

/// The `iommu_ops` of the driver that probed `dev`.
fn dev_ops(dev: &ProbedDevice) -> Result<&'static bindings::iommu_ops> {
    let raw = dev.as_raw();
    // SAFETY: by the invariant of `ProbedDevice`, `dev->iommu` and the
    // `iommu_device` it names are valid for the borrow; the driver's ops
    // table is static for as long as a device uses it.
    unsafe {
        let param = (*raw).iommu;
        if param.is_null() || (*param).iommu_dev.is_null() {
            return Err(ENODEV);
        }
        let ops = (*(*param).iommu_dev).ops;
        ops.as_ref().ok_or(ENODEV)
    }
}

/// The `iommu_ops` of the driver that probed `dev`, to compare with a
/// domain's `owner`.
pub(crate) fn dev_ops_ptr(dev: &ProbedDevice) -> Option<*const bindings::iommu_ops> {
    dev_ops(dev).ok().map(core::ptr::from_ref)
}

/// How many PASIDs the core enabled for `dev` (0: no PASID support).
pub(crate) fn max_pasids(dev: &ProbedDevice) -> u32 {
    let raw = dev.as_raw();
    // SAFETY: by the invariant of `ProbedDevice`, `dev->iommu` is valid for
    // the borrow.
    unsafe {
        let param = (*raw).iommu;
        if param.is_null() {
            0
        } else {
            (*param).max_pasids
        }
    }
}

/// Whether the IOMMU behind `dev` has capability `cap`.
pub(crate) fn capable(dev: &Device, cap: bindings::iommu_cap) -> bool {
    // SAFETY: `dev` is a live device.
    unsafe { bindings::device_iommu_capable(raw_dev(dev), cap) }
}

/// Reports a fault as an IOMMU driver's interrupt handler would.
pub(crate) fn report_device_fault(dev: &Device, evt: &mut bindings::iopf_fault) -> Result {
    // SAFETY: `dev` is a live device, `evt` a valid event the core copies.
    to_result(unsafe { bindings::iommu_report_device_fault(raw_dev(dev), evt) })
}

/// Hardware information a driver's `hw_info` op returned.
///
/// # Invariants
///
/// `data` is NULL (no data) or a buffer of `len` bytes that the driver
/// allocated with `kmalloc()` for us, owned by this value.
pub(crate) struct HwInfo {
    data: *mut u8,
    len: usize,
    data_type: u32,
}

impl HwInfo {
    /// The driver's data.
    pub(crate) fn bytes(&self) -> &[u8] {
        if self.data.is_null() {
            return &[];
        }
        // SAFETY: by the type invariant, `len` bytes we own.
        unsafe { core::slice::from_raw_parts(self.data, self.len) }
    }

    /// The type of the data (`IOMMU_HW_INFO_TYPE_*`).
    pub(crate) fn data_type(&self) -> u32 {
        self.data_type
    }
}

impl Drop for HwInfo {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, NULL or a kmalloc'ed buffer we own.
        unsafe { bindings::kfree(self.data.cast()) };
    }
}

/// Asks `dev`'s driver for its hardware information of type `data_type`
/// (the driver may answer with another type, as the core allows).
pub(crate) fn hw_info(dev: &ProbedDevice, mut data_type: u32) -> Result<HwInfo> {
    let Some(hw_info) = dev_ops(dev)?.hw_info else {
        return Ok(HwInfo {
            data: core::ptr::null_mut(),
            len: 0,
            data_type: bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_NONE,
        });
    };
    let mut len = 0u32;
    // SAFETY: `dev` is probed by the driver whose op this is (the invariant
    // of `ProbedDevice`); `len` and `data_type` are valid for writes.
    let data = from_err_ptr(unsafe { hw_info(dev.as_raw(), &mut len, &mut data_type) })?;
    // INVARIANT: the op returned NULL or a kmalloc'ed buffer of `len` bytes
    // that is ours to free (hw_info's contract).
    Ok(HwInfo {
        data: data.cast(),
        len: len as usize,
        data_type,
    })
}

/// A reference to an `iommu_group`.
///
/// # Invariants
///
/// The pointer is a live group on which this value owns one reference
/// (from `iommu_group_get()`), put on drop.
pub(crate) struct Group(NonNull<bindings::iommu_group>);

// SAFETY: a group reference may be used and dropped from any thread; the
// core locks the group itself.
unsafe impl Send for Group {}
// SAFETY: as above; `&Group` only passes the pointer to the core.
unsafe impl Sync for Group {}

impl Group {
    /// The group of `dev`: `ENODEV` if no IOMMU driver probed it.
    pub(super) fn of(dev: &Device) -> Result<Self> {
        // SAFETY: `dev` is a live device.
        let group = unsafe { bindings::iommu_group_get(raw_dev(dev)) };
        // INVARIANT: a non-NULL result is a reference we own.
        NonNull::new(group).map(Self).ok_or(ENODEV)
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::iommu_group {
        self.0.as_ptr()
    }

    /// The domain attached to `pasid` of this group through an attach
    /// handle, if any.
    ///
    /// # Safety
    ///
    /// Nothing may attach, replace or detach a handle on this group until
    /// this returns (`super::attach::Attachments` holds `&self` as the
    /// witness), so the handle the core returns is not freed while it is
    /// read.
    pub(super) unsafe fn attached_domain(&self, pasid: u32) -> Option<*mut bindings::iommu_domain> {
        // SAFETY: by the type invariant we hold a group reference; the
        // result is a handle or an ERR_PTR.
        let handle = unsafe { iommu_attach_handle_get(self.as_ptr(), pasid, 0) };
        let handle = from_err_ptr(handle).ok()?;
        // SAFETY: a live handle: no detach can free it while the caller
        // holds the lock (the contract).
        NonNull::new(handle).map(|h| unsafe { (*h.as_ptr()).domain })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, we own one reference.
        unsafe { bindings::iommu_group_put(self.as_ptr()) }
    }
}

/// A paging domain as an IO page table maps into it: a borrowed pointer
/// that the table keeps while the domain is one of its domains.
///
/// # Invariants
///
/// The pointer is a live paging domain for as long as the value exists:
/// [`Domain::mapped`]'s caller drops it before the [`Domain`] goes.
pub(crate) struct MappedDomain(NonNull<bindings::iommu_domain>);

// SAFETY: as for `Domain`; the core's map and unmap may run on any thread,
// serialised per range by the table that holds this value.
unsafe impl Send for MappedDomain {}
// SAFETY: as above.
unsafe impl Sync for MappedDomain {}

impl MappedDomain {
    /// The domain, for the core's and the driver's calls.
    pub(super) fn as_ptr(&self) -> *mut bindings::iommu_domain {
        self.0.as_ptr()
    }

    /// Whether this is `domain`.
    pub(crate) fn is(&self, domain: &Domain) -> bool {
        self.0 == domain.0
    }

    /// An identity for the domain, to tag what the table does for it.
    pub(crate) fn key(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The page sizes the domain maps (a bitmap of sizes).
    pub(crate) fn pgsize_bitmap(&self) -> u64 {
        // SAFETY: a live domain (the type invariant), its page sizes set at
        // allocation and never changed.
        unsafe { (*self.0.as_ptr()).pgsize_bitmap as u64 }
    }

    /// The range of IOVAs the domain can translate, first and last.
    pub(crate) fn aperture(&self) -> (u64, u64) {
        // SAFETY: as above.
        let geometry = unsafe { &(*self.0.as_ptr()).geometry };
        (geometry.aperture_start, geometry.aperture_end)
    }

    /// Maps `len` bytes at `iova` to the physical range at `phys`, with
    /// `IOMMU_READ`/`IOMMU_WRITE`/`IOMMU_CACHE` in `prot`. On failure
    /// nothing of the range stays mapped (the core undoes it).
    pub(crate) fn map(&self, iova: u64, phys: u64, len: u64, prot: u32) -> Result {
        let iova = c_ulong::try_from(iova).map_err(|_| EOVERFLOW)?;
        let len = usize::try_from(len).map_err(|_| EOVERFLOW)?;
        // SAFETY: a live paging domain (the type invariant); the caller
        // owns the physical pages (pinned) for as long as they are mapped.
        to_result(unsafe {
            bindings::iommu_map(
                self.0.as_ptr(),
                iova,
                phys,
                len,
                prot as c_int,
                bindings::GFP_KERNEL_ACCOUNT,
            )
        })
    }

    /// Unmaps `len` bytes at `iova`, a range made of whole earlier
    /// [`Self::map`] calls. Returns the bytes unmapped.
    pub(crate) fn unmap(&self, iova: u64, len: u64) -> u64 {
        let (Ok(iova), Ok(len)) = (c_ulong::try_from(iova), usize::try_from(len)) else {
            return 0;
        };
        // SAFETY: a live paging domain (the type invariant).
        unsafe { bindings::iommu_unmap(self.0.as_ptr(), iova, len) as u64 }
    }
}

/// Where a domain's user data comes from: `struct iommu_user_data`.
pub(crate) type UserData = bindings::iommu_user_data;

/// An `iommu_domain` allocated by a driver's ops, owned until dropped.
///
/// # Invariants
///
/// The pointer is a live domain allocated by a driver's alloc op, with
/// `owner` set to that driver's ops, owned by this value alone (freed with
/// `iommu_domain_free()` on drop), and attached nowhere when dropped:
/// whoever attaches it holds the value until the attachment is gone.
pub(crate) struct Domain(NonNull<bindings::iommu_domain>);

// SAFETY: a domain is not tied to a thread; the core serialises its attach
// and detach, and the mock driver's domain state is atomic.
unsafe impl Send for Domain {}
// SAFETY: as above.
unsafe impl Sync for Domain {}

impl Domain {
    fn from_alloc(domain: *mut bindings::iommu_domain, ops: &bindings::iommu_ops) -> Result<Self> {
        let domain = from_err_ptr(domain)?;
        // SAFETY: a domain from this driver's alloc op.
        unsafe { Self::from_driver(domain, ops) }
    }

    /// Takes ownership of a domain a driver allocated, recording (as
    /// iommufd does) which driver: the core checks it on attach.
    ///
    /// # Safety
    ///
    /// `domain` must be NULL or a fresh, unshared domain allocated by the
    /// driver whose ops `ops` are, freeable by `iommu_domain_free()`.
    pub(crate) unsafe fn from_driver(
        domain: *mut bindings::iommu_domain,
        ops: *const bindings::iommu_ops,
    ) -> Result<Self> {
        let domain = NonNull::new(domain).ok_or(ENOMEM)?;
        // SAFETY: per the contract, not yet shared.
        unsafe { (*domain.as_ptr()).owner = ops };
        // INVARIANT: a fresh domain of this driver (the contract), `owner`
        // set above.
        Ok(Self(domain))
    }

    /// A paging domain for `dev`, from its driver's
    /// `domain_alloc_paging_flags` (`EOPNOTSUPP` if it has none).
    pub(crate) fn alloc_paging(
        dev: &ProbedDevice,
        flags: u32,
        data: Option<&UserData>,
    ) -> Result<Self> {
        let ops = dev_ops(dev)?;
        let alloc = ops.domain_alloc_paging_flags.ok_or(EOPNOTSUPP)?;
        let data = data.map_or(core::ptr::null(), core::ptr::from_ref);
        // SAFETY: `dev` is probed by this driver (the invariant of
        // `ProbedDevice`); `data` is NULL or valid for the call.
        Self::from_alloc(unsafe { alloc(dev.as_raw(), flags, data) }, ops)
    }

    /// A nested domain on `parent` for `dev`, from its driver's
    /// `domain_alloc_nested` (`EOPNOTSUPP` if it has none).
    pub(crate) fn alloc_nested(
        dev: &ProbedDevice,
        parent: &Domain,
        flags: u32,
        data: &UserData,
    ) -> Result<Self> {
        let ops = dev_ops(dev)?;
        let alloc = ops.domain_alloc_nested.ok_or(EOPNOTSUPP)?;
        // `parent` outlives the nested domain: the nested HWPT holds it.
        // SAFETY: `dev` is probed by this driver (the invariant of
        // `ProbedDevice`), `parent` is live and `data` valid for the call.
        let domain = unsafe { alloc(dev.as_raw(), parent.as_ptr(), flags, data) };
        Self::from_alloc(domain, ops)
    }

    /// The domain, for the core's calls.
    pub(crate) fn as_ptr(&self) -> *mut bindings::iommu_domain {
        self.0.as_ptr()
    }

    /// `IOMMU_DOMAIN_*` type.
    pub(crate) fn domain_type(&self) -> u32 {
        // SAFETY: a live domain (the type invariant); `type` is set at
        // allocation, never changed.
        unsafe { (*self.as_ptr()).type_ }
    }

    /// The ops table of the driver that allocated it.
    pub(crate) fn owner(&self) -> *const bindings::iommu_ops {
        // SAFETY: as above; set by `from_alloc`.
        unsafe { (*self.as_ptr()).owner }
    }

    /// The domain's `ops`, to recognise the mock driver's domain kinds.
    pub(crate) fn ops(&self) -> *const bindings::iommu_domain_ops {
        // SAFETY: as above; set by the driver at allocation.
        unsafe { (*self.as_ptr()).ops }
    }

    /// The page sizes the domain maps (a bitmap of sizes).
    pub(crate) fn pgsize_bitmap(&self) -> u64 {
        // SAFETY: a live domain (the type invariant); set by the driver at
        // allocation, never changed.
        unsafe { (*self.as_ptr()).pgsize_bitmap as u64 }
    }

    /// A handle for an IO page table to map into this domain.
    ///
    /// # Safety
    ///
    /// The handle must be dropped before `self` is, and the domain must
    /// be a paging domain.
    pub(crate) unsafe fn mapped(&self) -> MappedDomain {
        // INVARIANT: the caller drops it before the domain goes.
        MappedDomain(self.0)
    }

    /// The physical address `iova` translates to in this domain, 0 if
    /// nothing is mapped there.
    pub(crate) fn iova_to_phys(&self, iova: u64) -> u64 {
        // SAFETY: a live domain (the type invariant); the core calls the
        // driver's op, or returns 0 for a domain without one.
        unsafe { bindings::iommu_iova_to_phys(self.as_ptr(), iova) }
    }

    /// Runs the driver's `cache_invalidate_user` on `array`, which it
    /// updates to the number of entries handled.
    pub(crate) fn cache_invalidate_user(
        &self,
        array: &mut bindings::iommu_user_data_array,
    ) -> Result {
        // SAFETY: `ops` is the driver's static table.
        let op = unsafe { self.ops().as_ref() }
            .and_then(|ops| ops.cache_invalidate_user)
            .ok_or(EOPNOTSUPP)?;
        // SAFETY: a live domain of this driver; `array` valid for the call.
        to_result(unsafe { op(self.as_ptr(), array) })
    }
}

impl Domain {
    /// Has the core pass this domain's page fault groups to `handler`.
    /// Taking `&mut self` means the domain is not attached anywhere yet
    /// (attachments share it).
    pub(crate) fn set_iopf_handler(
        &mut self,
        handler: unsafe extern "C" fn(*mut bindings::iopf_group) -> c_int,
    ) {
        // SAFETY: we own the domain (the type invariant) and, with
        // `&mut self`, nothing attached it yet.
        unsafe { (*self.as_ptr()).iopf_handler = Some(handler) }
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the domain and it is
        // attached nowhere.
        unsafe { bindings::iommu_domain_free(self.as_ptr()) }
    }
}
