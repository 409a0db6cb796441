// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`: the selftest uAPI that drives the mock IOMMU
//! (include/uapi/linux/iommufd_test.h), and the selftest device object.
//!
//! `IOMMU_TEST_OP_MOCK_DOMAIN` makes three objects, with ids in this order:
//! the selftest object (`stdev_id`) that owns a new mock device, the device
//! object (`idev_id`) it is bound as, and, when attached to an IOAS, an
//! automatic HWPT (`hwpt_id`). Destroying the selftest object detaches and
//! unbinds the device, removes the device object and the mock device.

use kernel::{
    bindings,
    prelude::*,
    sync::{atomic::Relaxed, Arc, UniqueArc},
};

use crate::{
    context::Context,
    device::{attach_pt, Device},
    hwpt::{put_hwpt, HwptNested, HwptPaging, HwptRef},
    ioas::Ioas,
    mock::{
        dev::{MockDev, MockDevRegistration},
        domain::{MockNested, MockPaging},
        MockIommu,
    },
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    uapi::{self, iommu_test_cmd},
    ucmd::{offset_end, Command, Ucmd},
};

mod access;
mod dma;

/// A mock device created by `IOMMU_TEST_OP_MOCK_DOMAIN`, bound as a device.
pub(crate) struct Selftest {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    // Declared before `_registration`: unbound before it leaves the bus.
    device: ObjectRef<Device>,
    _registration: MockDevRegistration,
}

impl Object for Selftest {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }

    fn destroy(&self, ctx: &Context) {
        self.teardown(ctx);
    }
}

impl Selftest {
    /// Undoes the binding: detaches everything (destroying automatic HWPTs
    /// left without users) and removes the device object and its vDEVICE.
    pub(crate) fn teardown(&self, ctx: &Context) {
        for hwpt in self.device.unbind() {
            put_hwpt(ctx, hwpt);
        }
        // Detaching answered the groups it could; a group the core never
        // queued (it had no memory for it) is answered here.
        dma::end_stalls(self._registration.mock_dev());
        // The vDEVICE goes with its device, as upstream. Its link is taken
        // before the table lock, which comes first in the lock order.
        let link = self.device.take_vdevice();
        let mut objects = ctx.objects.lock();
        let vdevice = link.and_then(|link| objects.unlink_serial(link.id, link.serial));
        let device = objects.unlink(self.device.id(), self.device.arc());
        drop(objects);
        drop((vdevice, device));
    }
}

impl Drop for Selftest {
    fn drop(&mut self) {
        // On file close there is no teardown: the table is already empty.
        drop(self.device.unbind());
    }
}

impl Command for iommu_test_cmd {
    const NR: u32 = uapi::IOMMUFD_CMD_BASE + 32;
    const MIN_SIZE: usize = offset_end!(iommu_test_cmd, last);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        match ucmd.cmd.op {
            uapi::IOMMU_TEST_OP_MOCK_DOMAIN | uapi::IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS => {
                mock_domain(ucmd)
            }
            uapi::IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE => mock_domain_replace(ucmd),
            uapi::IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT => {
                // SAFETY: a union of plain integers.
                let limit = unsafe { ucmd.cmd.__bindgen_anon_1.memory_limit.limit };
                // Upstream's floor: one batch element.
                if (limit as usize) < size_of::<usize>() + size_of::<u32>() {
                    return Err(EINVAL);
                }
                // It bounds how many pages one pinning call asks for.
                crate::sys::pages::set_temp_memory_limit(limit as usize);
                Ok(())
            }
            uapi::IOMMU_TEST_OP_MD_CHECK_IOTLB => check_iotlb(ucmd),
            uapi::IOMMU_TEST_OP_DEV_CHECK_CACHE => check_dev_cache(ucmd),
            uapi::IOMMU_TEST_OP_ADD_RESERVED => add_reserved(ucmd),
            uapi::IOMMU_TEST_OP_MD_CHECK_MAP => check_map(ucmd),
            uapi::IOMMU_TEST_OP_MD_CHECK_REFS => check_refs(ucmd),
            uapi::IOMMU_TEST_OP_TRIGGER_IOPF => trigger_iopf(ucmd),
            uapi::IOMMU_TEST_OP_TRIGGER_VEVENT => trigger_vevent(ucmd),
            uapi::IOMMU_TEST_OP_PASID_ATTACH => pasid_attach(ucmd, false),
            uapi::IOMMU_TEST_OP_PASID_REPLACE => pasid_attach(ucmd, true),
            uapi::IOMMU_TEST_OP_PASID_DETACH => pasid_detach(ucmd),
            uapi::IOMMU_TEST_OP_PASID_CHECK_HWPT => pasid_check_hwpt(ucmd),
            uapi::IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP => trigger_iopf_group(ucmd),
            uapi::IOMMU_TEST_OP_RUST_IOPF_RESPONSE => iopf_response(ucmd),
            uapi::IOMMU_TEST_OP_CREATE_ACCESS => access::create(ucmd),
            uapi::IOMMU_TEST_OP_ACCESS_REPLACE_IOAS => access::replace_ioas(ucmd),
            uapi::IOMMU_TEST_OP_ACCESS_PAGES => access::pages(ucmd),
            uapi::IOMMU_TEST_OP_DESTROY_ACCESS_PAGES => access::destroy_pages(ucmd),
            uapi::IOMMU_TEST_OP_ACCESS_RW => access::rw(ucmd),
            uapi::IOMMU_TEST_OP_RUST_DMA => dma::dma(ucmd),
            _ => Err(EOPNOTSUPP),
        }
    }
}

fn mock_domain(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let ctx = ucmd.ctx;
    let pt_id = ucmd.cmd.id;
    let flags = if ucmd.cmd.op == uapi::IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS {
        // SAFETY: a union of plain integers.
        unsafe { ucmd.cmd.__bindgen_anon_1.mock_domain_flags.dev_flags }
    } else {
        0
    };
    let reservation = Reservation::new(&ctx.objects)?;
    // Allocated first: once the device is bound, failing is undone by
    // `teardown`, which needs the finished object.
    let slot = UniqueArc::new_uninit(GFP_KERNEL_ACCOUNT)?;
    let mock = ctx
        .test_driver()
        .downcast_ref::<MockIommu>()
        .ok_or(ENODEV)?;
    let registration = MockDevRegistration::new(mock, flags)?;
    let device = Device::bind(ctx, registration.device())?;
    let selftest: Arc<Selftest> = slot
        .write(Selftest {
            header: ObjectHeader::default(),
            device,
            _registration: registration,
        })
        .into();
    let result = attach_pt(
        ctx,
        &selftest.device,
        bindings::IOMMU_NO_PASID,
        pt_id,
        false,
    )
    .and_then(|hwpt_id| {
        // SAFETY: a union of plain integers.
        let out = unsafe { &mut ucmd.cmd.__bindgen_anon_1.mock_domain };
        out.out_stdev_id = reservation.id();
        out.out_idev_id = selftest.device.id();
        out.out_hwpt_id = hwpt_id;
        ucmd.respond()
    });
    match result {
        Ok(()) => {
            reservation.finalize(selftest);
            Ok(())
        }
        Err(e) => {
            selftest.teardown(ctx);
            Err(e)
        }
    }
}

fn mock_domain_replace(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let ctx = ucmd.ctx;
    let selftest = ctx.objects.lock().get::<Selftest>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let pt_id = unsafe { ucmd.cmd.__bindgen_anon_1.mock_domain_replace.pt_id };
    let hwpt_id = attach_pt(ctx, &selftest.device, bindings::IOMMU_NO_PASID, pt_id, true)?;
    ucmd.cmd.__bindgen_anon_1.mock_domain_replace.pt_id = hwpt_id;
    ucmd.respond()
}

fn check_iotlb(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let hwpt = ucmd.ctx.objects.lock().get::<HwptNested>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let check = unsafe { ucmd.cmd.__bindgen_anon_1.check_iotlb };
    let mock = MockNested::of(hwpt.domain()).ok_or(EINVAL)?;
    // An id past the last entry fails like a mismatch, as upstream.
    match mock.iotlb.get(check.id as usize) {
        Some(entry) if entry.load(Relaxed) == check.iotlb => Ok(()),
        _ => Err(EINVAL),
    }
}

/// Reserves a range of an IOAS (`IOMMU_TEST_OP_ADD_RESERVED`), as a
/// device's reserved region would.
fn add_reserved(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.add_reserved };
    if req.length == 0 {
        return Err(EINVAL);
    }
    let last = req.start.checked_add(req.length - 1).ok_or(EOVERFLOW)?;
    let ioas = ucmd.ctx.objects.lock().get::<Ioas>(ucmd.cmd.id)?;
    let result = ioas.iopt.lock().reserve(req.start, last, 0);
    result
}

/// Checks that each page of a mock paging domain's IOVA range translates
/// to the physical page under the matching user address, page by page of
/// the domain's smallest page size (`IOMMU_TEST_OP_MD_CHECK_MAP`).
fn check_map(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let hwpt = ucmd.ctx.objects.lock().get::<HwptPaging>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.check_map };
    let domain = hwpt.domain();
    if MockPaging::of(domain).is_none() {
        return Err(EINVAL);
    }
    let page_size = 1u64 << domain.pgsize_bitmap().trailing_zeros();
    if req.iova % page_size != 0
        || req.length % page_size != 0
        || req.uptr % page_size != 0
        || req.uptr.checked_add(req.length).is_none()
    {
        return Err(EINVAL);
    }
    let cpu_page = kernel::page::PAGE_SIZE as u64;
    let (mut iova, mut uptr) = (req.iova, req.uptr);
    for _ in 0..req.length / page_size {
        let phys = crate::sys::pages::user_page_phys(usize::try_from(uptr).map_err(|_| EINVAL)?)?;
        if domain.iova_to_phys(iova) != phys + uptr % cpu_page {
            return Err(EINVAL);
        }
        iova = iova.wrapping_add(page_size);
        uptr += page_size;
    }
    Ok(())
}

/// Checks that every page of a user range carries `refs` DMA pins: what
/// upstream's tests call after closing the file to see that no pin leaked.
/// This module pins no pages (it has no `IOMMU_IOAS_MAP`), so a range
/// passes with `refs == 0` unless something else pinned it.
fn check_refs(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.check_refs };
    let page = kernel::page::PAGE_SIZE as u64;
    if req.length % page != 0 || req.uptr % page != 0 || req.uptr.checked_add(req.length).is_none()
    {
        return Err(EINVAL);
    }
    let start = usize::try_from(req.uptr).map_err(|_| EINVAL)?;
    let length = usize::try_from(req.length).map_err(|_| EINVAL)?;
    for addr in (start..start + length).step_by(kernel::page::PAGE_SIZE) {
        // Huge pages share one count: upstream skips them too.
        if let Some(pins) = crate::sys::pages::user_page_pins(addr)? {
            if pins != req.refs {
                return Err(EIO);
            }
        }
    }
    Ok(())
}

fn check_dev_cache(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let device = ucmd.ctx.objects.lock().get::<Device>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let check = unsafe { ucmd.cmd.__bindgen_anon_1.check_dev_cache };
    let mdev = MockDev::from_device(device.kdev()).ok_or(EINVAL)?;
    match mdev.cache.get(check.id as usize) {
        Some(entry) if entry.load(Relaxed) == check.cache => Ok(()),
        _ => Err(EINVAL),
    }
}

/// A page request group as the mock device sends it.
struct FaultGroup {
    pasid: u32,
    grpid: u32,
    perm: u32,
    addr: u64,
    /// Page requests in the group; the last one closes it.
    count: u32,
}

/// Address step between the page requests of one group.
const GROUP_ADDR_STEP: u64 = 0x1000;

/// Has the mock device send `group` through the IOMMU core, as a driver's
/// page request interrupt would.
fn report_fault_group(device: &Device, group: &FaultGroup) -> Result {
    if MockDev::from_device(device.kdev()).is_none() {
        return Err(EINVAL);
    }
    let pasid_flag = if group.pasid != bindings::IOMMU_NO_PASID {
        bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID
    } else {
        0
    };
    // Attachments cannot change while the device reports (a fault racing
    // an attach change is the driver's problem, not the test's). The core
    // answers requests no handler takes and may drop a request it has no
    // memory for, as with hardware: the result is not the test's error.
    device.with_bound(|dev| {
        for index in 0..group.count {
            let last = index + 1 == group.count;
            let mut evt = bindings::iopf_fault::default();
            evt.fault.type_ = bindings::iommu_fault_type_IOMMU_FAULT_PAGE_REQ;
            evt.fault.prm = bindings::iommu_fault_page_request {
                flags: pasid_flag
                    | if last {
                        bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE
                    } else {
                        0
                    },
                pasid: group.pasid,
                grpid: group.grpid,
                perm: group.perm,
                addr: group.addr.wrapping_add(u64::from(index) * GROUP_ADDR_STEP),
                private_data: [0; 2],
            };
            let _ = crate::sys::iommu::report_device_fault(dev, &mut evt);
        }
        Ok(())
    })
}

fn trigger_iopf(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.trigger_iopf };
    let group = FaultGroup {
        pasid: req.pasid,
        grpid: req.grpid,
        perm: req.perm,
        addr: req.addr,
        count: 1,
    };
    let device = ucmd.ctx.objects.lock().get::<Device>(req.dev_id)?;
    report_fault_group(&device, &group)
}

/// The device's vIOMMU reports an event about it (see
/// [`MockDev::report_vevent`]).
fn trigger_vevent(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.trigger_vevent };
    let device = ucmd.ctx.objects.lock().get::<Device>(req.dev_id)?;
    let mdev = MockDev::from_device(device.kdev()).ok_or(EINVAL)?;
    mdev.report_vevent()
}

fn trigger_iopf_group(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.trigger_iopf_group };
    if !(1..=uapi::MOCK_IOPF_GROUP_MAX).contains(&req.count) {
        return Err(EINVAL);
    }
    let group = FaultGroup {
        pasid: req.pasid,
        grpid: req.grpid,
        perm: req.perm,
        addr: req.addr,
        count: req.count,
    };
    let device = ucmd.ctx.objects.lock().get::<Device>(req.dev_id)?;
    report_fault_group(&device, &group)
}

fn iopf_response(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.iopf_response };
    let device = ucmd.ctx.objects.lock().get::<Device>(req.dev_id)?;
    let mdev = MockDev::from_device(device.kdev()).ok_or(EINVAL)?;
    let taken = mdev.take_responses(req.grpid).ok_or(EINVAL)?;
    let mut out = req;
    out.out_count = taken.count;
    out.out_code = taken.code;
    out.out_pasid = taken.pasid;
    out.out_total = mdev.responses_total();
    out.out_dma_groups = mdev.dma_groups.load(Relaxed);
    ucmd.cmd.__bindgen_anon_1.iopf_response = out;
    ucmd.respond()
}

fn pasid_attach(ucmd: &mut Ucmd<'_, iommu_test_cmd>, replace: bool) -> Result {
    let ctx = ucmd.ctx;
    let selftest = ctx.objects.lock().get::<Selftest>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.pasid_attach };
    let hwpt_id = attach_pt(ctx, &selftest.device, req.pasid, req.pt_id, replace)?;
    ucmd.cmd.__bindgen_anon_1.pasid_attach.pt_id = hwpt_id;
    let result = ucmd.respond();
    if result.is_err() && !replace {
        if let Some(hwpt) = selftest.device.detach(req.pasid) {
            put_hwpt(ctx, hwpt);
        }
    }
    result
}

fn pasid_detach(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let ctx = ucmd.ctx;
    let selftest = ctx.objects.lock().get::<Selftest>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let pasid = unsafe { ucmd.cmd.__bindgen_anon_1.pasid_detach.pasid };
    if let Some(hwpt) = selftest.device.detach(pasid) {
        put_hwpt(ctx, hwpt);
    }
    Ok(())
}

fn pasid_check_hwpt(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    let ctx = ucmd.ctx;
    let selftest = ctx.objects.lock().get::<Selftest>(ucmd.cmd.id)?;
    // SAFETY: a union of plain integers.
    let check = unsafe { ucmd.cmd.__bindgen_anon_1.pasid_check };
    let attached = selftest.device.attached_domain(check.pasid);
    // hwpt_id 0 asks "is nothing attached?".
    if check.hwpt_id == 0 {
        return if attached.is_some() {
            Err(EINVAL)
        } else {
            Ok(())
        };
    }
    let any = ctx.objects.lock().get_any(check.hwpt_id)?;
    let hwpt = HwptRef::from_any(&any)?;
    if attached != Some(hwpt.domain().as_ptr()) {
        return Err(EINVAL);
    }
    Ok(())
}
