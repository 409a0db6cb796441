// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU: a hardware stand-in registered with the kernel's IOMMU
//! core, so that selftests drive the real attach, replace and page fault
//! paths (drivers/iommu/iommu.c, io-pgfault.c) without hardware.
//!
//! - [`MockIommu`] owns the registration: a bus of its own, an
//!   `iommu_device` registered on that bus with `iommu_device_register_bus()`
//!   (the core then probes every device added to the bus), a faux device as
//!   its sysfs parent, and an iopf queue.
//! - [`dev::MockDev`]s are real `struct device`s on that bus.
//! - [`ops`] is the driver: `iommu_ops` and `iommu_domain_ops`.
//! - [`domain`] holds the driver's domain kinds.
//!
//! Names differ from upstream's C selftest ("rust_iommufd_mock" rather than
//! "iommufd_mock") so both can be loaded in the same boot.

use kernel::{
    bindings, faux,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    types::Opaque,
};

use crate::sys::iommu as sys;

pub(crate) mod dev;
pub(crate) mod domain;
pub(crate) mod ops;
pub(crate) mod stall;
mod viommu;

/// PASID width of the mock IOMMU and of PASID-capable mock devices.
pub(crate) const PASID_WIDTH: u32 = crate::uapi::MOCK_PASID_WIDTH;

/// The registered mock IOMMU. Lives in the module; pinned because the core
/// links the bus, the notifier block and the `iommu_device` into its lists.
///
/// # Invariants
///
/// Once `new` has succeeded and until drop: `bus` is registered and `iommu`
/// registered on it with the mock ops, `nb` is the bus notifier the core
/// holds, and `iopf_queue` is a live queue the core owns; every one of
/// them is embedded here, so the core's pointers to them are ours.
#[pin_data(PinnedDrop)]
pub(crate) struct MockIommu {
    #[pin]
    bus: Opaque<bindings::bus_type>,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    #[pin]
    iommu: Opaque<bindings::iommu_device>,
    /// Parent of the IOMMU's sysfs device (`/sys/class/iommu/...`).
    parent: faux::Registration,
    /// Where the core queues page requests of mock devices with IOPF on.
    iopf_queue: *mut bindings::iopf_queue,
    /// Numbers mock device names.
    next_dev: Atomic<u32>,
}

// SAFETY: the raw fields are registered with the core, which locks them
// itself; `iopf_queue` is set once at init and only passed to the core.
unsafe impl Send for MockIommu {}
// SAFETY: as above.
unsafe impl Sync for MockIommu {}

const NAME: &CStr = c"rust_iommufd_mock_iommu";

/// The iopf queue's name. The core names the queue's workqueue
/// `iopf_queue/<name>`, which must fit `WQ_NAME_LEN` (32 bytes with its
/// NUL) or the workqueue code truncates it with a warning at every load.
const IOPF_QUEUE_NAME: &CStr = c"rust_iommufd-iopfq";
const _: () = assert!(b"iopf_queue/".len() + IOPF_QUEUE_NAME.to_bytes().len() < 32);

impl MockIommu {
    /// Registers the bus, the IOMMU and its iopf queue, in that order;
    /// undone by drop (see there), or here in reverse on failure.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        // On failure everything registered so far is unregistered before
        // returning.
        // SAFETY: on success every field is initialised; on failure the
        // slot is left as uninitialised memory.
        unsafe {
            pin_init::pin_init_from_closure(move |slot: *mut Self| {
                let parent = faux::Registration::new(NAME, None)?;
                let bus = Opaque::cast_into(&raw const (*slot).bus);
                let nb = Opaque::cast_into(&raw const (*slot).nb);
                let iommu = Opaque::cast_into(&raw const (*slot).iommu);

                bus.write(bindings::bus_type {
                    name: c"rust_iommufd_mock".as_char_ptr(),
                    ..Default::default()
                });
                nb.write(Default::default());
                iommu.write(Default::default());
                (*iommu).max_pasids = 1 << PASID_WIDTH;

                kernel::error::to_result(bindings::bus_register(bus))?;
                let parent_dev = sys::raw_dev::<kernel::device::Bound>(parent.as_ref().as_ref());
                let ret = bindings::iommu_device_sysfs_add(
                    iommu,
                    parent_dev,
                    core::ptr::null_mut(),
                    c"%s".as_char_ptr(),
                    NAME.as_char_ptr(),
                );
                if let Err(e) = kernel::error::to_result(ret) {
                    bindings::bus_unregister(bus);
                    return Err(e);
                }
                let ret = sys::iommu_device_register_bus(iommu, ops::ops(), bus, nb);
                if let Err(e) = kernel::error::to_result(ret) {
                    bindings::iommu_device_sysfs_remove(iommu);
                    bindings::bus_unregister(bus);
                    return Err(e);
                }
                let queue = bindings::iopf_queue_alloc(IOPF_QUEUE_NAME.as_char_ptr());
                if queue.is_null() {
                    sys::iommu_device_unregister_bus(iommu, bus, nb);
                    bindings::iommu_device_sysfs_remove(iommu);
                    bindings::bus_unregister(bus);
                    return Err(ENOMEM);
                }
                (&raw mut (*slot).parent).write(parent);
                (&raw mut (*slot).iopf_queue).write(queue);
                (&raw mut (*slot).next_dev).write(Atomic::new(0));
                Ok(())
            })
        }
    }

    /// The bus mock devices are added to.
    fn bus(&self) -> *mut bindings::bus_type {
        self.bus.get()
    }

    /// The `iommu_device` that probes mock devices.
    fn iommu(&self) -> *mut bindings::iommu_device {
        self.iommu.get()
    }

    /// The mock IOMMU a bus pointer belongs to.
    ///
    /// # Safety
    ///
    /// `bus` must be the bus of a live [`MockIommu`].
    unsafe fn from_bus<'a>(bus: *const bindings::bus_type) -> &'a Self {
        let bus = bus.cast::<Opaque<bindings::bus_type>>();
        // SAFETY: per the contract, `bus` is the `bus` field of a live
        // `MockIommu`, which is pinned and outlives its devices.
        unsafe { &*kernel::container_of!(bus, Self, bus) }
    }

    fn next_dev_number(&self) -> u32 {
        self.next_dev.fetch_add(1, Relaxed)
    }
}

#[pinned_drop]
impl PinnedDrop for MockIommu {
    fn drop(self: Pin<&mut Self>) {
        // No mock device exists any more: each is owned by an object of an
        // open file, and the module cannot go while a file is open.
        //
        // The order is upstream's: the queue, the sysfs device, then the
        // IOMMU and the bus.
        // SAFETY: everything below was registered by `new` and is
        // unregistered once.
        unsafe {
            bindings::iopf_queue_free(self.iopf_queue);
            bindings::iommu_device_sysfs_remove(self.iommu());
            sys::iommu_device_unregister_bus(self.iommu(), self.bus(), self.nb.get());
            bindings::bus_unregister(self.bus());
        }
    }
}
