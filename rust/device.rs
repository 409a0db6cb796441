// SPDX-License-Identifier: GPL-2.0

//! The device object: a device bound to this context, and what it is
//! attached to, per PASID.
//!
//! Binding claims DMA ownership of the device's IOMMU group, which puts it
//! in the blocking domain. Attaching gives the core an *attach handle*
//! ([`AttachHandle`]) that names the device and the fault queue of the
//! HWPT: the core keeps it in the group's PASID array, so a fault group
//! reported for (device, PASID) leads to the right queue. Each attachment
//! holds its HWPT as a user.
//!
//! Lock order: `Ioas::auto_hwpts`, then the table lock (briefly, for
//! lookups), then [`Device`]'s `state`; the core's group mutex, the mock
//! driver's locks and a fault queue's locks (automatic responses, the iopf
//! handler) nest inside `state`.

use kernel::{
    bindings,
    device::Device as KDevice,
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    context::Context,
    fault::Fault,
    hwpt::{put_hwpt, HwptPaging, HwptRef},
    ioas::Ioas,
    object::{Object, ObjectHeader, ObjectRef, Reservation, Serial},
    sys::{
        attach::{self, Attachments, CoreHandle},
        iommu::{self as sys, ProbedDevice},
    },
    uapi::{self, iommu_hw_info},
    ucmd::{offset_end, Command, Ucmd},
    vdevice::VdeviceLink,
};

/// What the core keeps for an attachment; `handle` must be first, so the
/// core's pointer to it is a pointer to this.
///
/// # Invariants
///
/// `dev_id` and `fault` never change. ([`Attachments`] keeps the handle
/// boxed and unmoved while the core has it.)
#[repr(C)]
pub(crate) struct AttachHandle {
    handle: Opaque<bindings::iommu_attach_handle>,
    /// Id of the device object, for fault records.
    dev_id: u32,
    /// Where faults through this attachment go: the HWPT's fault queue.
    fault: Option<Arc<Fault>>,
}

// SAFETY: the core reads `handle` under its own locks; the rest is
// immutable.
unsafe impl Send for AttachHandle {}
// SAFETY: as above.
unsafe impl Sync for AttachHandle {}

// SAFETY: `handle` is a field of `self`; `Opaque::get` returns the same
// pointer to it every time, valid for as long as `self` is and stays put.
unsafe impl CoreHandle for AttachHandle {
    fn core_handle(&self) -> *mut bindings::iommu_attach_handle {
        self.handle.get()
    }
}

impl AttachHandle {
    /// The handle of ours that the core passes back.
    ///
    /// # Safety
    ///
    /// `handle` must be the `handle` of a live [`AttachHandle`], live for
    /// `'a`.
    pub(crate) unsafe fn from_core<'a>(handle: *mut bindings::iommu_attach_handle) -> &'a Self {
        // SAFETY: per the contract; `handle` is the first field of a
        // `repr(C)` struct, so the pointers are the same.
        unsafe { &*handle.cast::<Self>() }
    }

    /// Id of the device object the attachment belongs to.
    pub(crate) fn dev_id(&self) -> u32 {
        self.dev_id
    }

    /// The fault queue of the attached HWPT, if it has one.
    pub(crate) fn fault(&self) -> Option<&Arc<Fault>> {
        self.fault.as_ref()
    }
}

impl Drop for AttachHandle {
    /// A handle is freed only once the core no longer routes faults
    /// through it: whatever came through it and is still pending is
    /// answered `INVALID` first (upstream's automatic response).
    fn drop(&mut self) {
        if let Some(fault) = &self.fault {
            fault.answer_handle(self.handle.get());
        }
    }
}

/// The HWPT references [`Device::unbind`] detached: the caller puts them
/// after releasing every lock.
pub(crate) type Detached = attach::Detached<HwptRef, AttachHandle>;

/// What [`Device::state`] protects.
///
/// # Invariants
///
/// While `attached` is claimed (until [`Device::unbind`]), the device is
/// on its bus and probed: its owner takes it off only after unbinding.
struct DeviceState {
    /// DMA ownership of the device for this context, and its attachments
    /// by PASID (`IOMMU_NO_PASID` for the whole device). Released by
    /// [`Device::unbind`]: the device takes no more attachments.
    attached: Attachments<HwptRef, AttachHandle>,
    /// The device's vDEVICE, if it has one.
    vdevice: Option<VdeviceLink>,
}

/// A bound device.
#[pin_data(PinnedDrop)]
pub(crate) struct Device {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// The object's id, which fault records name.
    id: u32,
    dev: ARef<KDevice>,
    #[pin]
    state: Mutex<DeviceState>,
}

impl Object for Device {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl Device {
    /// Binds `dev` to `ctx` under a reserved id and publishes it
    /// (`iommufd_device_bind`); returns a user of it.
    pub(crate) fn bind(ctx: &Context, dev: ARef<KDevice>) -> Result<ObjectRef<Device>> {
        // iommufd always asks for coherent DMA: there is no way for user
        // space to keep caches in step otherwise.
        if !sys::capable(&dev, bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY) {
            return Err(EINVAL);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        let id = reservation.id();
        // SAFETY: devices reach `bind` only as selftest mock devices, each
        // alone in its group (`iommu_mock_device_add`), and their groups
        // are attached only through their `DeviceState`.
        let attached = unsafe { Attachments::claim(dev.clone(), ctx.dma_owner())? };
        // On failure, dropping `attached` releases DMA ownership.
        let device = Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::default(),
                id,
                dev,
                state <- new_mutex!(DeviceState {
                    attached,
                    vdevice: None,
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        let user = reservation.user_of(&device);
        reservation.finalize(device);
        Ok(user)
    }

    /// The device's `struct device`. (The memory is ours for as long as we
    /// live; its IOMMU state is not: see [`Self::with_bound`].)
    pub(crate) fn kdev(&self) -> &KDevice {
        &self.dev
    }

    /// Runs `f` on the device while it is bound (`ENOENT` once unbound).
    /// The core's per-device IOMMU state lives until the device leaves its
    /// bus, which its owner does only after unbinding, and unbinding waits
    /// for `f`.
    pub(crate) fn with_bound<R>(&self, f: impl FnOnce(&ProbedDevice) -> Result<R>) -> Result<R> {
        let state = self.state.lock();
        if !state.attached.is_claimed() {
            return Err(ENOENT);
        }
        // SAFETY: `bind` found the device's IOMMU group, so a driver probed
        // it; by the invariant of `DeviceState`, while it is claimed the
        // device is on its bus, and it leaves only after `unbind`, which
        // waits for `state`, held until `f` returns.
        let dev = unsafe { ProbedDevice::from_device(&self.dev) };
        let result = f(dev);
        drop(state);
        result
    }

    /// Runs `f` with the device's vDEVICE link while it is bound (`ENOENT`
    /// once unbound), under the device's lock.
    pub(crate) fn with_vdevice_link<R>(
        &self,
        f: impl FnOnce(&KDevice, &mut Option<VdeviceLink>) -> Result<R>,
    ) -> Result<R> {
        let mut state = self.state.lock();
        if !state.attached.is_claimed() {
            return Err(ENOENT);
        }
        f(&self.dev, &mut state.vdevice)
    }

    /// Forgets the vDEVICE with serial `serial` (destroyed by user space),
    /// if it is still this device's.
    pub(crate) fn forget_vdevice(&self, serial: Serial) {
        let mut state = self.state.lock();
        if state.vdevice.is_some_and(|link| link.serial == serial) {
            state.vdevice = None;
        }
    }

    /// Takes the vDEVICE link, for the unbind that takes the vDEVICE along.
    pub(crate) fn take_vdevice(&self) -> Option<VdeviceLink> {
        self.state.lock().vdevice.take()
    }

    /// Checks upstream's PASID compatibility rule for putting `hwpt` at
    /// `pasid`: a HWPT shared with PASID attachments must have been
    /// allocated with `IOMMU_HWPT_ALLOC_PASID`, on either side.
    fn check_pasid_compat(state: &DeviceState, hwpt: &HwptRef, pasid: u32) -> Result {
        if pasid == bindings::IOMMU_NO_PASID {
            if !hwpt.pasid_compat() && state.attached.has_pasids() {
                return Err(EINVAL);
            }
        } else {
            if !hwpt.pasid_compat() {
                return Err(EINVAL);
            }
            if let Some(rid) = state.attached.get(bindings::IOMMU_NO_PASID) {
                if !rid.pasid_compat() {
                    return Err(EINVAL);
                }
            }
        }
        Ok(())
    }

    /// A new attach handle for `hwpt` on this device.
    fn new_handle(&self, hwpt: &HwptRef) -> Result<KBox<AttachHandle>> {
        let handle = AttachHandle {
            handle: Opaque::zeroed(),
            dev_id: self.id,
            fault: hwpt.fault().cloned(),
        };
        Ok(KBox::new(handle, GFP_KERNEL_ACCOUNT)?)
    }

    /// Attaches `hwpt` at `pasid`: `EBUSY` if something is attached there.
    pub(crate) fn attach(&self, pasid: u32, hwpt: HwptRef) -> Result {
        let mut state = self.state.lock();
        if !state.attached.is_claimed() {
            return Err(ENOENT);
        }
        if state.attached.get(pasid).is_some() {
            return Err(EBUSY);
        }
        Self::check_pasid_compat(&state, &hwpt, pasid)?;
        let handle = self.new_handle(&hwpt)?;
        state.attached.attach(pasid, hwpt, handle)
    }

    /// Moves `pasid` to `hwpt` without passing through the blocking domain:
    /// `EINVAL` if nothing is attached there. Returns the reference no
    /// longer needed (the old HWPT's, or `hwpt` if it was already there).
    pub(crate) fn replace(&self, pasid: u32, hwpt: HwptRef) -> Result<HwptRef> {
        let mut state = self.state.lock();
        if !state.attached.is_claimed() {
            return Err(ENOENT);
        }
        match state.attached.get(pasid) {
            None => return Err(EINVAL),
            Some(old) if old.same(&hwpt) => return Ok(hwpt),
            Some(_) => {}
        }
        Self::check_pasid_compat(&state, &hwpt, pasid)?;
        let handle = self.new_handle(&hwpt)?;
        state.attached.replace(pasid, hwpt, handle)
    }

    /// Detaches whatever is at `pasid`, returning its HWPT reference.
    pub(crate) fn detach(&self, pasid: u32) -> Option<HwptRef> {
        self.state.lock().attached.detach(pasid)
    }

    /// Detaches everything (PASIDs first, then the device itself), gives up
    /// DMA ownership and refuses further attachments. Returns the HWPT
    /// references the attachments held. Idempotent; allocates nothing.
    pub(crate) fn unbind(&self) -> Detached {
        self.state.lock().attached.release()
    }

    /// What a DMA of the device on `pasid` goes through now: the paging
    /// HWPT whose table translates it (see [`HwptRef::dma_paging`]) and
    /// whether the attached HWPT takes IO page faults. `None` if nothing
    /// is attached there.
    pub(crate) fn dma_target(&self, pasid: u32) -> Option<(Arc<HwptPaging>, bool)> {
        let state = self.state.lock();
        let hwpt = state.attached.get(pasid)?;
        Some((hwpt.dma_paging(), hwpt.fault().is_some()))
    }

    /// The domain the core has attached at `pasid` through a handle.
    pub(crate) fn attached_domain(&self, pasid: u32) -> Option<*mut bindings::iommu_domain> {
        self.state.lock().attached.attached_domain(pasid)
    }
}

#[pinned_drop]
impl PinnedDrop for Device {
    fn drop(self: Pin<&mut Self>) {
        // Normally unbound by its owner first; this covers the rest.
        drop(self.unbind());
    }
}

/// Attaches (or with `replace`, moves) `pasid` of `device` to the object
/// `pt_id` names: a HWPT, or an IOAS, for which an automatic HWPT is found
/// or made (`iommufd_device_change_pt`). Returns the id of the HWPT now
/// attached.
pub(crate) fn attach_pt(
    ctx: &Context,
    device: &Device,
    pasid: u32,
    pt_id: u32,
    replace: bool,
) -> Result<u32> {
    let pt = ctx.objects.lock().get_any(pt_id)?;
    let (id, put) = if let Some(ioas) = pt.to::<Ioas>() {
        attach_auto(ctx, device, pasid, &ioas, replace)?
    } else {
        let hwpt = HwptRef::from_any(&pt)?;
        let id = hwpt.id();
        (id, change(device, pasid, hwpt, replace)?)
    };
    // After every lock is dropped: this may destroy an automatic HWPT.
    if let Some(put) = put {
        put_hwpt(ctx, put);
    }
    Ok(id)
}

/// Attach or replace; returns a reference the caller must put.
fn change(device: &Device, pasid: u32, hwpt: HwptRef, replace: bool) -> Result<Option<HwptRef>> {
    if replace {
        device.replace(pasid, hwpt).map(Some)
    } else {
        device.attach(pasid, hwpt).map(|()| None)
    }
}

/// The automatic-HWPT half of [`attach_pt`]
/// (`iommufd_device_auto_get_domain`): any automatic HWPT on the IOAS that
/// the device accepts will do; otherwise a new one is made.
fn attach_auto(
    ctx: &Context,
    device: &Device,
    pasid: u32,
    ioas: &ObjectRef<Ioas>,
    replace: bool,
) -> Result<(u32, Option<HwptRef>)> {
    let mut auto = ioas.auto_hwpts.lock();
    let mut i = 0;
    while i < auto.len() {
        let id = auto[i];
        let found = ctx.objects.lock().get::<HwptPaging>(id);
        let hwpt = match found {
            Ok(hwpt) if hwpt.is_auto_on(ioas.arc()) => hwpt,
            // Gone (or the id was reused): prune.
            _ => {
                auto.remove(i)?;
                continue;
            }
        };
        i += 1;
        match change(device, pasid, HwptRef::Paging(hwpt), replace) {
            Ok(put) => return Ok((id, put)),
            // The device does not accept this one; try the next.
            Err(e) if e == EINVAL => continue,
            Err(e) => return Err(e),
        }
    }

    let reservation = Reservation::new(&ctx.objects)?;
    let hwpt = Arc::new(
        HwptPaging::new(device, ioas.clone(), 0, None, true)?,
        GFP_KERNEL_ACCOUNT,
    )?;
    let id = reservation.id();
    auto.push(id, GFP_KERNEL_ACCOUNT)?;
    let user = HwptRef::Paging(reservation.user_of(&hwpt));
    let put = match change(device, pasid, user, replace) {
        Ok(put) => put,
        Err(e) => {
            auto.pop();
            return Err(e);
        }
    };
    reservation.finalize(hwpt);
    Ok((id, put))
}

impl Command for iommu_hw_info {
    const NR: u32 = uapi::IOMMUFD_CMD_GET_HW_INFO;
    const MIN_SIZE: usize = offset_end!(iommu_hw_info, __reserved);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &mut ucmd.cmd;
        if cmd.flags & !uapi::IOMMU_HW_INFO_FLAG_INPUT_TYPE != 0 {
            return Err(EOPNOTSUPP);
        }
        if cmd.__reserved.iter().any(|&b| b != 0) {
            return Err(EOPNOTSUPP);
        }
        // Drivers get no type they were not asked for.
        if cmd.flags & uapi::IOMMU_HW_INFO_FLAG_INPUT_TYPE == 0 {
            cmd.__bindgen_anon_1.in_data_type = uapi::IOMMU_HW_INFO_TYPE_DEFAULT;
        }
        let device = ucmd.ctx.objects.lock().get::<Device>(cmd.dev_id)?;
        let user = UserPtr::from_addr(cmd.data_uptr as usize);
        let user_len = cmd.data_len as usize;
        // SAFETY: a union of two `u32`s.
        let data_type = unsafe { cmd.__bindgen_anon_1.in_data_type };
        // Only the driver's calls need the device bound; the copy to user
        // space comes after the lock, so a stalled copy (a userfaultfd
        // page) holds up nothing else the device does.
        let (info, capabilities, max_pasids) = device.with_bound(|dev| {
            let info = sys::hw_info(dev, data_type)?;
            let mut capabilities = 0;
            if sys::capable(dev, bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING) {
                capabilities |= u64::from(uapi::IOMMU_HW_CAP_DIRTY_TRACKING);
            }
            if !sys::capable(dev, bindings::iommu_cap_IOMMU_CAP_PCI_ATS_SUPPORTED) {
                capabilities |= u64::from(uapi::IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
            }
            Ok((info, capabilities, sys::max_pasids(dev)))
        })?;
        drop(device);
        // What fits, then zeroes to the end of the caller's buffer.
        let data = info.bytes();
        let copy = data.len().min(user_len);
        let mut writer = UserSlice::new(user, user_len).writer();
        writer.write_slice(&data[..copy])?;
        let zeroes = [0u8; 64];
        let mut left = user_len - copy;
        while left > 0 {
            let n = left.min(zeroes.len());
            writer.write_slice(&zeroes[..n])?;
            left -= n;
        }
        cmd.__bindgen_anon_1.out_data_type = info.data_type();
        // The size we have, which may exceed the caller's buffer.
        cmd.data_len = data.len() as u32;
        cmd.out_capabilities = capabilities;
        cmd.out_max_pasid_log2 = if max_pasids != 0 {
            max_pasids.ilog2() as u8
        } else {
            0
        };
        drop(info);
        ucmd.respond()
    }
}
