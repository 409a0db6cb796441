// SPDX-License-Identifier: GPL-2.0

//! Hardware page tables (HWPTs): objects that own an `iommu_domain`
//! allocated through the device's IOMMU driver.
//!
//! - A paging HWPT lives on an IOAS (it counts as a user of it). It is
//!   either made by `IOMMU_HWPT_ALLOC`, or *automatic*: made when a device
//!   is attached to an IOAS directly, shared by later such attaches, and
//!   destroyed when its last device goes.
//! - A nested HWPT lives on a paging parent allocated with
//!   `IOMMU_HWPT_ALLOC_NEST_PARENT` (it counts as a user of it).
//! - Devices attached to a HWPT count as its users, so it cannot be
//!   destroyed while attached.
//! - A HWPT allocated with `IOMMU_HWPT_FAULT_ID_VALID` delivers its
//!   devices' page faults to a fault queue (held as a user): its domain
//!   gets the module's iopf handler.

use kernel::{bindings, prelude::*, sync::Arc, uaccess::UserPtr};

use crate::{
    context::Context,
    device::Device,
    fault::{self, Fault},
    ioas::Ioas,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    sys::{
        attach::DomainOwner,
        iommu::{self as sys, Domain, UserData},
    },
    uapi::{self, iommu_hwpt_alloc, iommu_hwpt_invalidate},
    ucmd::{offset_end, Command, Ucmd},
    viommu::Viommu,
};

/// A paging HWPT.
pub(crate) struct HwptPaging {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    domain: Domain,
    /// The IOAS it translates (held as a user).
    ioas: ObjectRef<Ioas>,
    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    nest_parent: bool,
    /// Allocated with `IOMMU_HWPT_ALLOC_PASID`.
    pasid_compat: bool,
    /// Made by an attach to the IOAS, not by `IOMMU_HWPT_ALLOC`.
    auto_domain: bool,
    /// Where its page faults go (held as a user).
    fault: Option<ObjectRef<Fault>>,
}

impl Object for HwptPaging {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl Drop for HwptPaging {
    fn drop(&mut self) {
        // Unmapped from the domain (and unpinned if it was the last) before
        // the domain is freed with the fields.
        let domain = &self.domain;
        self.ioas.iopt.lock().remove_domain(|d| d.is(domain));
    }
}

impl HwptPaging {
    /// A paging HWPT for `device` on `ioas` (`iommufd_hwpt_paging_alloc`),
    /// not published yet.
    pub(crate) fn new(
        device: &Device,
        ioas: ObjectRef<Ioas>,
        flags: u32,
        data: Option<&UserData>,
        auto_domain: bool,
    ) -> Result<Self> {
        const VALID: u32 = uapi::IOMMU_HWPT_ALLOC_NEST_PARENT
            | uapi::IOMMU_HWPT_ALLOC_DIRTY_TRACKING
            | uapi::IOMMU_HWPT_FAULT_ID_VALID
            | uapi::IOMMU_HWPT_ALLOC_PASID;
        if flags & !VALID != 0 {
            return Err(EOPNOTSUPP);
        }
        let domain = device.with_bound(|dev| {
            if flags & uapi::IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0
                && !sys::capable(dev, bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING)
            {
                return Err(EOPNOTSUPP);
            }
            if flags & uapi::IOMMU_HWPT_FAULT_ID_VALID != 0
                && flags & uapi::IOMMU_HWPT_ALLOC_NEST_PARENT != 0
            {
                return Err(EOPNOTSUPP);
            }
            Domain::alloc_paging(dev, flags & !uapi::IOMMU_HWPT_FAULT_ID_VALID, data)
        })?;
        // The IOAS's mappings go into the domain now, and its aperture
        // bounds the IOAS; `Drop` takes it out again.
        // SAFETY: removed from the table in `drop`, before the `domain`
        // field is dropped; a paging domain from `alloc_paging`.
        let mapped = unsafe { domain.mapped() };
        ioas.iopt.lock().add_domain(mapped)?;
        Ok(Self {
            header: ObjectHeader::default(),
            domain,
            ioas,
            nest_parent: flags & uapi::IOMMU_HWPT_ALLOC_NEST_PARENT != 0,
            pasid_compat: flags & uapi::IOMMU_HWPT_ALLOC_PASID != 0,
            auto_domain,
            fault: None,
        })
    }

    /// Sends the HWPT's page faults to `fault`.
    fn with_fault(mut self, fault: Option<ObjectRef<Fault>>) -> Self {
        self.fault = route_faults(&mut self.domain, fault);
        self
    }

    /// The IOMMU domain this HWPT owns.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub(crate) fn nest_parent(&self) -> bool {
        self.nest_parent
    }

    /// The IOAS it translates.
    pub(crate) fn ioas(&self) -> &Ioas {
        &self.ioas
    }

    /// Whether this is an automatic HWPT on `ioas`.
    pub(crate) fn is_auto_on(&self, ioas: &Arc<Ioas>) -> bool {
        self.auto_domain && Arc::ptr_eq(self.ioas.arc(), ioas)
    }
}

/// What a nested HWPT is nested on (held as a user).
enum NestParent {
    Hwpt(ObjectRef<HwptPaging>),
    Viommu(ObjectRef<Viommu>),
}

/// A nested HWPT.
pub(crate) struct HwptNested {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    // Dropped before the parent below: the nested domain goes first.
    domain: Domain,
    parent: NestParent,
    pasid_compat: bool,
    /// Where its page faults go (held as a user).
    fault: Option<ObjectRef<Fault>>,
}

impl Object for HwptNested {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl HwptNested {
    /// A nested HWPT for `device` on `parent` (`iommufd_hwpt_nested_alloc`),
    /// not published yet.
    fn new(
        device: &Device,
        parent: ObjectRef<HwptPaging>,
        flags: u32,
        data: &UserData,
    ) -> Result<Self> {
        if flags & !(uapi::IOMMU_HWPT_FAULT_ID_VALID | uapi::IOMMU_HWPT_ALLOC_PASID) != 0
            || data.len == 0
        {
            return Err(EOPNOTSUPP);
        }
        let domain = device.with_bound(|dev| {
            // The parent must be a nesting parent from this device's driver.
            let same_driver = sys::dev_ops_ptr(dev) == Some(parent.domain.owner());
            if parent.auto_domain || !parent.nest_parent || !same_driver {
                return Err(EINVAL);
            }
            Domain::alloc_nested(
                dev,
                &parent.domain,
                flags & !uapi::IOMMU_HWPT_FAULT_ID_VALID,
                data,
            )
        })?;
        if domain.domain_type() != bindings::IOMMU_DOMAIN_NESTED {
            return Err(EOPNOTSUPP);
        }
        Ok(Self {
            header: ObjectHeader::default(),
            domain,
            parent: NestParent::Hwpt(parent),
            pasid_compat: flags & uapi::IOMMU_HWPT_ALLOC_PASID != 0,
            fault: None,
        })
    }

    /// A nested HWPT on a vIOMMU (`iommufd_viommu_alloc_hwpt_nested`), not
    /// published yet.
    fn on_viommu(viommu: ObjectRef<Viommu>, flags: u32, data: &UserData) -> Result<Self> {
        if flags & !(uapi::IOMMU_HWPT_FAULT_ID_VALID | uapi::IOMMU_HWPT_ALLOC_PASID) != 0
            || data.len == 0
        {
            return Err(EOPNOTSUPP);
        }
        let domain = viommu.alloc_domain_nested(flags & !uapi::IOMMU_HWPT_FAULT_ID_VALID, data)?;
        Ok(Self {
            header: ObjectHeader::default(),
            domain,
            parent: NestParent::Viommu(viommu),
            pasid_compat: flags & uapi::IOMMU_HWPT_ALLOC_PASID != 0,
            fault: None,
        })
    }

    /// Sends the HWPT's page faults to `fault`.
    fn with_fault(mut self, fault: Option<ObjectRef<Fault>>) -> Self {
        self.fault = route_faults(&mut self.domain, fault);
        self
    }

    /// The IOMMU domain this HWPT owns.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// Has `domain`'s page faults delivered to `fault`, if any, which the HWPT
/// then holds.
fn route_faults(domain: &mut Domain, fault: Option<ObjectRef<Fault>>) -> Option<ObjectRef<Fault>> {
    if fault.is_some() {
        domain.set_iopf_handler(fault::iopf_handler);
    }
    fault
}

/// A counted reference to a HWPT of either kind: what an attachment holds.
pub(crate) enum HwptRef {
    /// A paging HWPT.
    Paging(ObjectRef<HwptPaging>),
    /// A nested HWPT.
    Nested(ObjectRef<HwptNested>),
}

// SAFETY: the domain is a field of the HWPT, which the reference keeps
// alive; a `HwptRef` never changes which HWPT it names.
unsafe impl DomainOwner for HwptRef {
    fn domain(&self) -> &Domain {
        HwptRef::domain(self)
    }
}

impl HwptRef {
    /// The HWPT an object reference points to: `EINVAL` for other kinds.
    pub(crate) fn from_any(any: &ObjectRef<dyn Object>) -> Result<Self> {
        if let Some(hwpt) = any.to::<HwptPaging>() {
            Ok(Self::Paging(hwpt))
        } else {
            any.to::<HwptNested>().map(Self::Nested).ok_or(EINVAL)
        }
    }

    /// The IOMMU domain of the HWPT, whichever its kind.
    pub(crate) fn domain(&self) -> &Domain {
        match self {
            Self::Paging(h) => &h.domain,
            Self::Nested(h) => &h.domain,
        }
    }

    /// The HWPT's object id, whichever its kind.
    pub(crate) fn id(&self) -> u32 {
        match self {
            Self::Paging(h) => h.id(),
            Self::Nested(h) => h.id(),
        }
    }

    /// The fault queue its page faults go to, if any.
    pub(crate) fn fault(&self) -> Option<&Arc<Fault>> {
        match self {
            Self::Paging(h) => h.fault.as_ref().map(ObjectRef::arc),
            Self::Nested(h) => h.fault.as_ref().map(ObjectRef::arc),
        }
    }

    /// May share a device with PASID attachments.
    pub(crate) fn pasid_compat(&self) -> bool {
        match self {
            Self::Paging(h) => h.pasid_compat,
            Self::Nested(h) => h.pasid_compat,
        }
    }

    /// The paging HWPT whose page table a mock device's DMA through this
    /// HWPT walks: the HWPT itself, or a nested HWPT's nesting parent. The
    /// mock IOMMU keeps no stage-1 table, so its stage 1 translates IOVAs
    /// to themselves. A plain reference, not a user: a DMA in flight does
    /// not make a destroy fail.
    pub(crate) fn dma_paging(&self) -> Arc<HwptPaging> {
        match self {
            Self::Paging(h) => h.arc().clone(),
            Self::Nested(h) => match &h.parent {
                NestParent::Hwpt(parent) => parent.arc().clone(),
                NestParent::Viommu(viommu) => viommu.parent().clone(),
            },
        }
    }

    /// Whether both refer to the same HWPT.
    pub(crate) fn same(&self, other: &HwptRef) -> bool {
        core::ptr::eq(self.domain().as_ptr(), other.domain().as_ptr())
    }
}

/// Drops an attachment's reference to a HWPT; an automatic HWPT whose last
/// user this was is destroyed. Call without holding the table lock or the
/// IOAS's automatic-HWPT lock.
pub(crate) fn put_hwpt(ctx: &Context, hwpt: HwptRef) {
    let HwptRef::Paging(paging) = hwpt else {
        return;
    };
    if !paging.auto_domain {
        return;
    }
    let (id, object) = (paging.id(), paging.arc().clone());
    drop(paging);
    let removed = ctx.objects.lock().remove_unused(id, &object);
    drop(object);
    // Torn down outside the table lock.
    drop(removed);
}

impl Command for iommu_hwpt_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_HWPT_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_hwpt_alloc, __reserved);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        if (cmd.data_type == uapi::IOMMU_HWPT_DATA_NONE) != (cmd.data_len == 0) {
            return Err(EINVAL);
        }
        let data = UserData {
            type_: cmd.data_type,
            uptr: UserPtr::from_addr(cmd.data_uptr as usize).as_mut_ptr(),
            len: cmd.data_len as usize,
        };
        let (flags, fault_id) = (cmd.flags, cmd.fault_id);
        let ctx = ucmd.ctx;
        // As upstream, looked up once the HWPT exists: its errors come first.
        let fault = || -> Result<Option<ObjectRef<Fault>>> {
            if flags & uapi::IOMMU_HWPT_FAULT_ID_VALID == 0 {
                return Ok(None);
            }
            ctx.objects.lock().get::<Fault>(fault_id).map(Some)
        };
        let device = ucmd.ctx.objects.lock().get::<Device>(cmd.dev_id)?;
        // As upstream, a bad pt_id is EINVAL, not ENOENT.
        let pt = ucmd
            .ctx
            .objects
            .lock()
            .get_any(cmd.pt_id)
            .map_err(|_| EINVAL)?;

        let reservation = Reservation::new(&ucmd.ctx.objects)?;
        let object: Arc<dyn Object> = if let Some(ioas) = pt.to::<Ioas>() {
            // Serialised with automatic HWPT creation on this IOAS.
            let _auto = ioas.auto_hwpts.lock();
            let data = (data.len != 0).then_some(&data);
            let hwpt = HwptPaging::new(&device, ioas.clone(), flags, data, false)?;
            Arc::new(hwpt.with_fault(fault()?), GFP_KERNEL_ACCOUNT)?
        } else if let Some(parent) = pt.to::<HwptPaging>() {
            let hwpt = HwptNested::new(&device, parent, flags, &data)?;
            Arc::new(hwpt.with_fault(fault()?), GFP_KERNEL_ACCOUNT)?
        } else if let Some(viommu) = pt.to::<Viommu>() {
            if !viommu.serves(&device) {
                return Err(EINVAL);
            }
            let hwpt = HwptNested::on_viommu(viommu, flags, &data)?;
            Arc::new(hwpt.with_fault(fault()?), GFP_KERNEL_ACCOUNT)?
        } else {
            return Err(EINVAL);
        };
        drop(pt);
        ucmd.cmd.out_hwpt_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize_dyn(object);
        Ok(())
    }
}

impl Command for iommu_hwpt_invalidate {
    const NR: u32 = uapi::IOMMUFD_CMD_HWPT_INVALIDATE;
    const MIN_SIZE: usize = offset_end!(iommu_hwpt_invalidate, __reserved);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let mut done = 0;
        let result = invalidate(ucmd.ctx, &ucmd.cmd, &mut done);
        // The count of handled entries goes back even on failure.
        ucmd.cmd.entry_num = done;
        ucmd.respond().map_err(|_| EFAULT)?;
        result
    }
}

/// Most entries one `IOMMU_HWPT_INVALIDATE` may carry, as upstream.
const INVALIDATE_ENTRY_NUM_MAX: u32 = 1 << 19;

fn invalidate(ctx: &Context, cmd: &iommu_hwpt_invalidate, done: &mut u32) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    if cmd.entry_num != 0
        && (cmd.data_uptr == 0
            || cmd.entry_len == 0
            || cmd.entry_len as usize > kernel::page::PAGE_SIZE
            || cmd.entry_num > INVALIDATE_ENTRY_NUM_MAX)
    {
        return Err(EINVAL);
    }
    let mut array = bindings::iommu_user_data_array {
        type_: cmd.data_type,
        uptr: UserPtr::from_addr(cmd.data_uptr as usize).as_mut_ptr(),
        entry_len: cmd.entry_len as usize,
        entry_num: cmd.entry_num,
    };
    // Looked up first: the table lock must not be held while the driver
    // reads the array from user memory.
    let target = ctx.objects.lock().get_any(cmd.hwpt_id)?;
    let result = if let Some(hwpt) = target.to::<HwptNested>() {
        hwpt.domain.cache_invalidate_user(&mut array)
    } else if let Some(viommu) = target.to::<Viommu>() {
        viommu.cache_invalidate(&mut array)
    } else {
        return Err(EINVAL);
    };
    *done = array.entry_num;
    result
}
