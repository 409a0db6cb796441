// SPDX-License-Identifier: GPL-2.0

//! Mock devices: `struct device`s on the mock IOMMU's bus.
//!
//! A mock device is reference counted by its embedded `struct device`: it is
//! freed by the release callback when the last reference goes. The
//! [`MockDevRegistration`] that created it keeps it on the bus (and probed
//! by the IOMMU core) until dropped; others hold plain device references.
//!
//! Selftest objects borrow their device through a [`MockDevLease`]: when
//! one goes, its device, unbound and back in the blocking domain, is kept
//! for the next selftest object with the same flags (up to the
//! `mock_idle_devices` module parameter, at most [`IDLE_MAX`]; see
//! [`MockIommu`]). Adding a device to the driver core and the
//! IOMMU core takes about 130 allocations, each a fault-injection point of
//! `fail-nth` runs and slow under emulation; removing one is as slow.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc, Mutex,
    },
    transmute::AsBytes,
    types::Opaque,
};

use super::{ops::CTable, stall::Stalls, MockIommu};
use crate::{
    sys::{iommu as sys, viommu::VirtualDevices},
    uapi,
};

/// The most idle mock devices the mock IOMMU keeps for reuse.
pub(crate) const IDLE_MAX: usize = 4;

/// How many it keeps now (`mock_idle_devices`).
fn idle_limit() -> usize {
    (crate::sys::mock_idle_devices() as usize).min(IDLE_MAX)
}

/// Device flags user space may ask for (`MOCK_FLAGS_DEVICE_*`).
const VALID_FLAGS: u32 = uapi::MOCK_FLAGS_DEVICE_NO_DIRTY | uapi::MOCK_FLAGS_DEVICE_PASID;

/// Entries of the mock device cache (`IOMMU_TEST_OP_DEV_CHECK_CACHE`).
pub(crate) const CACHE_NUM: usize = uapi::MOCK_DEV_CACHE_NUM as usize;

/// Group indexes with a response record (PCIe's 9-bit group index).
pub(crate) const GRPID_NUM: usize = uapi::MOCK_IOPF_GRPID_NUM as usize;

/// Page responses a mock device received for one group index since the
/// record was last taken.
pub(crate) struct ResponseRecord {
    count: Atomic<u32>,
    code: Atomic<u32>,
    pasid: Atomic<u32>,
}

impl Default for ResponseRecord {
    fn default() -> Self {
        Self {
            count: Atomic::new(0),
            code: Atomic::new(0),
            pasid: Atomic::new(0),
        }
    }
}

/// What [`MockDev::take_responses`] returns.
pub(crate) struct Responses {
    /// Responses since the last take.
    pub(crate) count: u32,
    /// Code of the last of them.
    pub(crate) code: u32,
    /// PASID of the last of them.
    pub(crate) pasid: u32,
}

extern "C" {
    /// helpers.c: sets the "pasid-num-bits" device property.
    fn rust_iommufd_set_pasid_bits(dev: *mut c_void, bits: u32) -> c_int;
}

/// The device type of mock devices: how they are recognised, and how
/// they are freed.
static DEV_TYPE: CTable<bindings::device_type> = CTable::new(bindings::device_type {
    name: kernel::str::as_char_ptr_in_const_context(c"rust_iommufd_mock"),
    release: Some(release),
    ..pin_init::zeroed()
});

/// A mock device.
///
/// # Invariants
///
/// - `dev` is a `struct device` of type [`DEV_TYPE`] on the mock IOMMU's
///   bus, and every device of that type is the `dev` of a pinned, boxed
///   `MockDev` ([`release`] frees it): `container_of` is valid for it.
#[pin_data]
pub(crate) struct MockDev {
    dev: Opaque<bindings::device>,
    flags: u32,
    /// How many attached domains want IO page faults. The core calls the
    /// attach ops under the group mutex, so this only orders with itself.
    #[pin]
    iopf_users: Mutex<u32>,
    /// The domain attached to the RID (no PASID): the one to count out of
    /// IOPF users when the next attach replaces it.
    domain: Atomic<*mut bindings::iommu_domain>,
    /// The vIOMMU of the nested domain attached to the RID, if it has one,
    /// and the device's virtual id there when attached: where
    /// [`Self::report_vevent`] reports. Set by `attach_dev`, under the
    /// core's group mutex; taken on its own otherwise.
    #[pin]
    viommu: Mutex<Option<(Arc<dyn VirtualDevices>, u64)>>,
    /// Fakes a failure of the next PASID 1024 attach (see `ops`).
    pub(crate) pasid_1024_fake_error: Atomic<bool>,
    /// Device cache entries, as upstream's selftest models them.
    pub(crate) cache: [Atomic<u32>; CACHE_NUM],
    /// Page responses received, by group index: what tests check to see
    /// that every fault group was answered exactly once.
    responses: KVec<ResponseRecord>,
    /// Every page response received.
    responses_total: Atomic<u32>,
    /// Page request groups its DMAs sent: with `responses_total`, what
    /// tells tests every group was answered exactly once.
    pub(crate) dma_groups: Atomic<u32>,
    /// Its DMAs waiting for page responses (`IOMMU_TEST_OP_RUST_DMA`).
    #[pin]
    pub(crate) stalls: Stalls,
}

/// Frees a mock device when its last reference goes.
///
/// # Safety
///
/// Only the driver core calls this, once, for a mock device.
unsafe extern "C" fn release(dev: *mut bindings::device) {
    // SAFETY: only mock devices have this release callback, and each was
    // allocated by `MockDevRegistration::new` as a pinned `KBox`.
    drop(unsafe { KBox::from_raw(MockDev::container_of(dev).cast_mut()) });
}

impl MockDev {
    /// The mock device that embeds `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be embedded in a `MockDev`.
    unsafe fn container_of(dev: *const bindings::device) -> *const Self {
        let dev = dev.cast::<Opaque<bindings::device>>();
        // SAFETY: per the contract.
        unsafe { kernel::container_of!(dev, Self, dev) }
    }

    /// The mock device behind a core `struct device`, if it is one.
    ///
    /// # Safety
    ///
    /// `dev` must be live for `'a`.
    pub(crate) unsafe fn from_raw<'a>(dev: *const bindings::device) -> Option<&'a Self> {
        // SAFETY: `dev` is live; mock devices are recognised by their
        // device type.
        let is_mock = core::ptr::eq(unsafe { (*dev).type_ }, DEV_TYPE.get());
        // SAFETY: then, by the type invariant, it is the `dev` of a live
        // `MockDev`.
        is_mock.then(|| unsafe { &*Self::container_of(dev) })
    }

    /// The mock device behind `dev`, if it is one.
    pub(crate) fn from_device(dev: &Device) -> Option<&Self> {
        // SAFETY: `dev` is live as long as the borrow.
        unsafe { Self::from_raw(sys::raw_dev(dev)) }
    }

    /// `MOCK_FLAGS_DEVICE_*` given at creation.
    pub(crate) fn flags(&self) -> u32 {
        self.flags
    }

    fn raw(&self) -> *mut bindings::device {
        self.dev.get()
    }

    fn iommu(&self) -> &MockIommu {
        // SAFETY: mock devices live on the mock IOMMU's bus, and the mock
        // IOMMU outlives them (see `MockIommu`'s drop).
        unsafe { MockIommu::from_bus((*self.raw()).bus) }
    }

    /// Turns IO page faults on for `domain` if it wants them (it has an iopf
    /// handler), counting domains so that the device stays on the iopf queue
    /// while any attached domain needs it.
    pub(crate) fn enable_iopf(&self, domain: *mut bindings::iommu_domain) -> Result {
        // SAFETY: the core passes live domains (or NULL) to attach ops.
        if domain.is_null() || unsafe { (*domain).iopf_handler }.is_none() {
            return Ok(());
        }
        let mut users = self.iopf_users.lock();
        if *users == 0 {
            // SAFETY: a live queue and device.
            kernel::error::to_result(unsafe {
                bindings::iopf_queue_add_device(self.iommu().iopf_queue, self.raw())
            })?;
        }
        *users += 1;
        Ok(())
    }

    /// Undoes [`Self::enable_iopf`] for `domain`.
    pub(crate) fn disable_iopf(&self, domain: *mut bindings::iommu_domain) {
        // SAFETY: as in `enable_iopf`.
        if domain.is_null() || unsafe { (*domain).iopf_handler }.is_none() {
            return;
        }
        let mut users = self.iopf_users.lock();
        // Every domain counted out here was counted in by `enable_iopf`
        // when the core attached it; going below zero is a bug, not
        // something to paper over.
        if kernel::warn_on!(*users == 0) {
            return;
        }
        *users -= 1;
        if *users == 0 {
            // SAFETY: the device is on this queue (it had a user).
            unsafe { bindings::iopf_queue_remove_device(self.iommu().iopf_queue, self.raw()) };
        }
    }

    /// Zeroes device cache entry `id`, or every entry for `None` (a vIOMMU
    /// cache invalidation naming this device).
    pub(crate) fn invalidate_cache(&self, id: Option<u32>) {
        for (index, entry) in self.cache.iter().enumerate() {
            if id.is_none_or(|id| id as usize == index) {
                entry.store(0, Relaxed);
            }
        }
    }

    /// Notes the vIOMMU (and virtual id) the RID is now attached through:
    /// `None` for a domain of no vIOMMU.
    pub(crate) fn set_viommu(&self, viommu: Option<(Arc<dyn VirtualDevices>, u64)>) {
        let old = core::mem::replace(&mut *self.viommu.lock(), viommu);
        // Its last reference may go after the lock.
        drop(old);
    }

    /// Has the device's vIOMMU report an event about it, as upstream's
    /// mock does for `IOMMU_TEST_OP_TRIGGER_VEVENT`: an
    /// `iommu_viommu_event_selftest` with its virtual id, to the vEVENTQ
    /// of type `IOMMU_VEVENTQ_TYPE_SELFTEST`. `ENOENT` unless the RID is
    /// attached to a nested domain of a vIOMMU, or with virtual id 0 (as
    /// upstream, which tells "none" by 0); `EOPNOTSUPP` if the vIOMMU has no
    /// such vEVENTQ.
    pub(crate) fn report_vevent(&self) -> Result {
        let target = self.viommu.lock().clone();
        let Some((viommu, virt_id)) = target.filter(|(_, id)| *id != 0) else {
            return Err(ENOENT);
        };
        let event = uapi::iommu_viommu_event_selftest {
            // The record's field is 32 bits wide, as upstream's.
            virt_id: virt_id as u32,
        };
        viommu.report_event(uapi::IOMMU_VEVENTQ_TYPE_SELFTEST, event.as_bytes())
    }

    /// Notes a page response the IOMMU core passed to the device.
    pub(crate) fn record_response(&self, pasid: u32, grpid: u32, code: u32) {
        self.responses_total.fetch_add(1, Relaxed);
        self.stalls.answer(pasid, grpid, code);
        if let Some(record) = self.responses.get(grpid as usize) {
            record.code.store(code, Relaxed);
            record.pasid.store(pasid, Relaxed);
            // Release: a taker that sees the count sees the fields above.
            record.count.fetch_add(1, Release);
        }
    }

    /// Takes the record of group index `grpid`: `None` if it has none.
    pub(crate) fn take_responses(&self, grpid: u32) -> Option<Responses> {
        let record = self.responses.get(grpid as usize)?;
        let count = record.count.xchg(0, Acquire);
        Some(Responses {
            count,
            code: record.code.load(Relaxed),
            pasid: record.pasid.load(Relaxed),
        })
    }

    /// Page responses received in all.
    pub(crate) fn responses_total(&self) -> u32 {
        self.responses_total.load(Relaxed)
    }

    /// Whether the core left nothing on the device: no domain that wants
    /// IO page faults, no vIOMMU (what a device in the blocking domain,
    /// unbound, has).
    fn is_idle(&self) -> bool {
        *self.iopf_users.lock() == 0 && self.viommu.lock().is_none()
    }

    /// Puts the test state back to a new device's: the cache entries, the
    /// PASID 1024 fake error, the response records and the DMA group
    /// count.
    fn reset(&self) {
        for entry in &self.cache {
            entry.store(uapi::IOMMU_TEST_DEV_CACHE_DEFAULT, Relaxed);
        }
        self.pasid_1024_fake_error.store(false, Relaxed);
        for record in self.responses.iter() {
            record.count.store(0, Relaxed);
            record.code.store(0, Relaxed);
            record.pasid.store(0, Relaxed);
        }
        self.responses_total.store(0, Relaxed);
        self.dma_groups.store(0, Relaxed);
    }

    /// Swaps the recorded RID domain, returning the old one.
    pub(crate) fn set_domain(
        &self,
        domain: *mut bindings::iommu_domain,
    ) -> *mut bindings::iommu_domain {
        self.domain.xchg(domain, Relaxed)
    }
}

/// A mock device on the bus, probed by the IOMMU core; unregistered on drop.
///
/// # Invariants
///
/// The pointer is a live `MockDev` added to the mock bus by
/// [`MockDevRegistration::new`], on which this value owns the initial
/// device reference; it stays on the bus until this value is dropped.
pub(crate) struct MockDevRegistration(NonNull<MockDev>);

// SAFETY: the device is reference counted and its state is locked or atomic.
unsafe impl Send for MockDevRegistration {}
// SAFETY: as above.
unsafe impl Sync for MockDevRegistration {}

impl MockDevRegistration {
    /// Creates a mock device with `flags` (`EINVAL` for unknown ones) and
    /// adds it to the bus, where the IOMMU core probes it.
    pub(crate) fn new(mock: &MockIommu, flags: u32) -> Result<Self> {
        if flags & !VALID_FLAGS != 0 {
            return Err(EINVAL);
        }
        let cache = [const { Atomic::new(uapi::IOMMU_TEST_DEV_CACHE_DEFAULT) }; CACHE_NUM];
        // Built in place: the records are too big for the stack.
        let mut responses = KVec::with_capacity(GRPID_NUM, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..GRPID_NUM {
            responses.push(ResponseRecord::default(), GFP_KERNEL_ACCOUNT)?;
        }
        let stalls = Stalls::new()?;
        let boxed = KBox::pin_init(
            try_pin_init!(MockDev {
                dev: Opaque::zeroed(),
                flags,
                iopf_users <- new_mutex!(0),
                viommu <- new_mutex!(None),
                domain: Atomic::new(core::ptr::null_mut()),
                pasid_1024_fake_error: Atomic::new(false),
                cache,
                responses,
                responses_total: Atomic::new(0),
                dma_groups: Atomic::new(0),
                stalls <- stalls,
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // SAFETY: from here on the device's refcount owns the allocation;
        // it is never moved (the release callback rebuilds the `KBox`).
        let mdev = unsafe { Pin::into_inner_unchecked(boxed) };
        let mdev = KBox::into_raw(mdev);
        // SAFETY: `mdev` is valid; after `device_initialize` every error
        // path drops the initial reference, which frees through `release`.
        unsafe {
            let dev = (*mdev).raw();
            bindings::device_initialize(dev);
            (*dev).type_ = DEV_TYPE.get();
            (*dev).bus = mock.bus();
            let number = mock.next_dev_number();
            let ret = bindings::dev_set_name(dev, c"rust_iommufd_mock%u".as_char_ptr(), number);
            let pasid_bits = if flags & uapi::MOCK_FLAGS_DEVICE_PASID != 0 {
                super::PASID_WIDTH
            } else {
                0
            };
            let ret = if ret == 0 {
                rust_iommufd_set_pasid_bits(dev.cast(), pasid_bits)
            } else {
                ret
            };
            let ret = if ret == 0 {
                sys::rust_iommufd_mock_device_add(dev, mock.iommu())
            } else {
                ret
            };
            if let Err(e) = kernel::error::to_result(ret) {
                bindings::put_device(dev);
                return Err(e);
            }
            // INVARIANT: added to the bus above; the initial reference is
            // ours.
            Ok(Self(NonNull::new_unchecked(mdev)))
        }
    }

    /// The bus the device is on: its mock IOMMU's.
    fn bus(&self) -> *const bindings::bus_type {
        // SAFETY: a live device (we hold a reference); its bus is set
        // before it is added and never changes.
        unsafe { (*self.mock_dev().raw()).bus }
    }

    /// The mock device.
    pub(crate) fn mock_dev(&self) -> &MockDev {
        // SAFETY: by the type invariant, we hold the initial reference.
        unsafe { self.0.as_ref() }
    }

    /// A counted reference to the device.
    pub(crate) fn device(&self) -> kernel::sync::aref::ARef<Device> {
        // SAFETY: the device is live (we hold a reference).
        unsafe { Device::get_device(self.mock_dev().raw()) }
    }
}

impl Drop for MockDevRegistration {
    fn drop(&mut self) {
        // Removes it from the bus (the core releases its IOMMU state) and
        // drops the initial reference.
        //
        // SAFETY: added by `new`, unregistered once.
        unsafe { bindings::device_unregister(self.mock_dev().raw()) };
    }
}

/// A mock device lent to a selftest object: an idle one of the mock IOMMU
/// if it has one with the same flags, else a new one. Dropped (after the
/// device is unbound), it goes back to the mock IOMMU.
pub(crate) struct MockDevLease(Option<MockDevRegistration>);

impl MockDevLease {
    /// A device with `flags` (`EINVAL` for unknown ones), as new.
    pub(crate) fn new(mock: &MockIommu, flags: u32) -> Result<Self> {
        if flags & !VALID_FLAGS != 0 {
            return Err(EINVAL);
        }
        if let Some(idle) = mock.take_idle(flags) {
            idle.mock_dev().reset();
            return Ok(Self(Some(idle)));
        }
        Ok(Self(Some(MockDevRegistration::new(mock, flags)?)))
    }

    /// A counted reference to the device.
    pub(crate) fn device(&self) -> Option<kernel::sync::aref::ARef<Device>> {
        self.0.as_ref().map(MockDevRegistration::device)
    }

    /// The mock device lent.
    pub(crate) fn mock_dev(&self) -> Option<&MockDev> {
        self.0.as_ref().map(MockDevRegistration::mock_dev)
    }
}

impl Drop for MockDevLease {
    fn drop(&mut self) {
        if let Some(registration) = self.0.take() {
            let bus = registration.bus();
            // SAFETY: the device is on the mock IOMMU's bus, and the mock
            // IOMMU outlives its devices (see its drop), so this call too.
            let mock = unsafe { MockIommu::from_bus(bus) };
            mock.give_back(registration);
        }
    }
}

impl MockIommu {
    /// An idle device with `flags`, if there is one and reuse is on;
    /// with reuse off, the idle devices leave the bus.
    fn take_idle(&self, flags: u32) -> Option<MockDevRegistration> {
        if idle_limit() == 0 {
            self.drain_idle();
            return None;
        }
        let mut idle = self.idle.lock();
        let index = idle.iter().position(|r| r.mock_dev().flags() == flags)?;
        idle.remove(index).ok()
    }

    /// Keeps `registration`'s device for reuse if it is idle and there is
    /// room; else removes it from the bus.
    fn give_back(&self, registration: MockDevRegistration) {
        if !registration.mock_dev().is_idle() {
            return;
        }
        let mut idle = self.idle.lock();
        let full = idle.len() >= idle_limit();
        let refused = if full {
            Some(registration)
        } else {
            // Room for `IDLE_MAX` was reserved when the list was made.
            idle.push_within_capacity(registration).err().map(|e| e.0)
        };
        drop(idle);
        // Removed from the bus, if at all, after the lock.
        drop(refused);
    }

    /// Removes the idle devices if reuse is off (`mock_idle_devices` 0).
    pub(crate) fn drain_idle_if_off(&self) {
        if idle_limit() == 0 {
            self.drain_idle();
        }
    }

    /// Removes every idle device from the bus, one at a time outside the
    /// lock; the list keeps its room.
    pub(super) fn drain_idle(&self) {
        loop {
            let Some(registration) = self.idle.lock().pop() else {
                break;
            };
            drop(registration);
        }
    }
}
