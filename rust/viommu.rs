// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU object: a slice of a physical IOMMU handed to a VM, built on
//! a nesting-parent paging HWPT (held as a user). Nested HWPTs can be
//! allocated on it.
//!
//! The driver side is a [`ViommuDriver`] (the core's own interface,
//! `iommu_ops.viommu_init`, works on C iommufd's `struct iommufd_viommu`):
//! only the mock IOMMU has one, of type `IOMMU_VIOMMU_TYPE_SELFTEST`. What
//! the driver sees of the vIOMMU is its [`ViommuShared`], as
//! [`VirtualDevices`]: its virtual devices ([`crate::vdevice`]), listed in
//! [`VirtIds`], and its vEVENTQs ([`crate::veventq`]), where the driver
//! reports events.

use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::UserPtr,
};

use crate::{
    context::Context,
    device::Device,
    hwpt::HwptPaging,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    sys::{
        iommu::{self as sys, Domain},
        viommu::{ViommuDriver, VirtualDevices},
    },
    uapi::{self, iommu_viommu_alloc},
    ucmd::{offset_end, Command, Ucmd},
    vdevice::VirtIds,
    veventq::VeventQueue,
};

/// What a vIOMMU shares with its driver: an `Arc` held by the vIOMMU, by
/// each nested domain allocated on it, and by the mock device attached to
/// one of those (to report events). It holds nothing that holds the vIOMMU.
///
/// Lock order: `veventqs` before a queue's own lock; `VirtIds` is taken on
/// its own.
#[pin_data]
pub(crate) struct ViommuShared {
    /// Its devices by virtual id.
    #[pin]
    virt_ids: VirtIds,
    /// The queues of its vEVENTQs, at most one per event type. Each
    /// `Veventq` puts its queue here when made and takes it out when
    /// dropped.
    #[pin]
    veventqs: Mutex<KVec<Arc<VeventQueue>>>,
}

impl ViommuShared {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                virt_ids <- VirtIds::new(),
                veventqs <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Adds a vEVENTQ's queue: `EEXIST` if one of its type is there.
    pub(crate) fn add_veventq(&self, queue: Arc<VeventQueue>) -> Result {
        let mut queues = self.veventqs.lock();
        if queues.iter().any(|q| q.event_type() == queue.event_type()) {
            return Err(EEXIST);
        }
        queues.push(queue, GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Takes `queue` out, if it is there.
    pub(crate) fn remove_veventq(&self, queue: &Arc<VeventQueue>) {
        self.veventqs.lock().retain(|q| !Arc::ptr_eq(q, queue));
    }
}

impl VirtualDevices for ViommuShared {
    fn virt_id_of(&self, dev: *const bindings::device) -> Option<u64> {
        self.virt_ids.virt_id_of(dev)
    }

    fn with_device(&self, id: u64, f: &mut dyn FnMut(&kernel::device::Device)) -> bool {
        self.virt_ids.with_device(id, f)
    }

    /// Under `veventqs`, so that a vEVENTQ that is gone gets no more events
    /// once its drop returned, as upstream's `veventqs_rwsem`.
    fn report_event(&self, event_type: u32, data: &[u8]) -> Result {
        if data.is_empty() {
            return Err(EINVAL);
        }
        let queues = self.veventqs.lock();
        let queue = queues
            .iter()
            .find(|q| q.event_type() == event_type)
            .ok_or(EOPNOTSUPP)?;
        queue.report(data)
    }
}

/// A vIOMMU.
pub(crate) struct Viommu {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// The nesting parent it translates through.
    hwpt: ObjectRef<HwptPaging>,
    /// The physical IOMMU's driver (its ops), which devices using nested
    /// HWPTs of this vIOMMU must be behind.
    ops: *const kernel::bindings::iommu_ops,
    /// The driver's vIOMMU side.
    driver: &'static dyn ViommuDriver,
    /// What its driver sees of it; shared with its nested domains.
    shared: Arc<ViommuShared>,
}

impl Object for Viommu {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

// SAFETY: `ops` points at a driver's static table and is only compared;
// `driver` is `Sync` and static.
unsafe impl Send for Viommu {}
// SAFETY: as above.
unsafe impl Sync for Viommu {}

impl Viommu {
    /// The nesting parent it translates through.
    pub(crate) fn parent(&self) -> &Arc<HwptPaging> {
        self.hwpt.arc()
    }

    /// Whether `device` sits behind this vIOMMU's physical IOMMU.
    pub(crate) fn serves(&self, device: &Device) -> bool {
        device
            .with_bound(|dev| Ok(sys::dev_ops_ptr(dev) == Some(self.ops)))
            .unwrap_or(false)
    }

    /// Its devices by virtual id.
    pub(crate) fn virt_ids(&self) -> &VirtIds {
        &self.shared.virt_ids
    }

    /// What its driver sees of it, its vEVENTQs' queues included.
    pub(crate) fn shared(&self) -> &ViommuShared {
        &self.shared
    }

    /// A nested domain for this vIOMMU (`alloc_domain_nested`).
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &sys::UserData) -> Result<Domain> {
        self.driver
            .alloc_domain_nested(flags, data, self.shared.clone())
    }

    /// Invalidates device caches named by virtual device id
    /// (`IOMMU_HWPT_INVALIDATE` on a vIOMMU), through the driver.
    /// `array.entry_num` comes back as the number of entries handled.
    pub(crate) fn cache_invalidate(
        &self,
        array: &mut kernel::bindings::iommu_user_data_array,
    ) -> Result {
        self.driver.cache_invalidate(&*self.shared, array)
    }
}

impl Command for iommu_viommu_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_VIOMMU_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_viommu_alloc, out_viommu_id);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let ctx: &Context = ucmd.ctx;
        let cmd = ucmd.cmd;
        if cmd.flags != 0 || cmd.type_ == uapi::IOMMU_VIOMMU_TYPE_DEFAULT {
            return Err(EOPNOTSUPP);
        }
        let device = ctx.objects.lock().get::<Device>(cmd.dev_id)?;
        let driver = ctx.viommu_driver();
        if !driver.supports(device.kdev(), cmd.type_) {
            return Err(EOPNOTSUPP);
        }
        let ops = device.with_bound(|dev| sys::dev_ops_ptr(dev).ok_or(EOPNOTSUPP))?;
        let hwpt = ctx.objects.lock().get::<HwptPaging>(cmd.hwpt_id)?;
        if !hwpt.nest_parent() {
            return Err(EINVAL);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        if cmd.data_len != 0 {
            let user = UserPtr::from_addr(cmd.data_uptr as usize);
            driver.init_data(cmd.type_, user, cmd.data_len as usize)?;
        }
        let viommu = Arc::new(
            Viommu {
                header: ObjectHeader::default(),
                hwpt,
                ops,
                driver,
                shared: ViommuShared::new()?,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        ucmd.cmd.out_viommu_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize(viommu);
        Ok(())
    }
}
