// SPDX-License-Identifier: GPL-2.0

//! The virtual device object (`IOMMU_VDEVICE_ALLOC`): a bound device as a
//! vIOMMU presents it to a guest, under the guest's id for it (a virtual
//! stream or requester id).
//!
//! Lifetimes, as upstream:
//! - A vDEVICE holds its vIOMMU as a user: the vIOMMU cannot be destroyed
//!   while it has vDEVICEs (`EBUSY`).
//! - It does not hold its device as a user. Destroying the device (its
//!   selftest object) takes the vDEVICE with it; the vDEVICE's id is then
//!   gone (`ENOENT`).
//! - A device has at most one vDEVICE, and on one vIOMMU a virtual id
//!   names at most one device (`EEXIST` for either).
//!
//! The vIOMMU's [`VirtIds`] is what its driver consults: a device attaches
//! to a nested HWPT of the vIOMMU only once it has a virtual id there
//! (`ENOENT` before), and vIOMMU cache invalidations name devices by
//! virtual id.

use kernel::{
    device::Device as KDevice,
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{aref::ARef, Arc, Mutex},
};

#[cfg(doc)]
use crate::sys::viommu::VirtualDevices;

use crate::{
    context::Context,
    device::Device,
    object::{Object, ObjectHeader, ObjectRef, Reservation, Serial},
    sys::iommu as sys,
    uapi::{self, iommu_vdevice_alloc},
    ucmd::{offset_end, Command, Ucmd},
    viommu::Viommu,
};

/// The devices of one vIOMMU, by virtual id.
///
/// Lock order: after [`Device`]'s state and the IOMMU core's group mutex
/// (the driver's `attach_dev` looks here).
#[pin_data]
pub(crate) struct VirtIds {
    #[pin]
    devices: Mutex<RBTree<u64, ARef<KDevice>>>,
}

impl VirtIds {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            devices <- new_mutex!(RBTree::new()),
        })
    }

    /// Gives `dev` the virtual id `id`: `EEXIST` if another device has it.
    fn insert(&self, id: u64, dev: ARef<KDevice>) -> Result {
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let mut devices = self.devices.lock();
        if devices.get(&id).is_some() {
            return Err(EEXIST);
        }
        devices.insert(node.into_node(id, dev));
        Ok(())
    }

    /// Takes the id away from whichever device has it.
    fn remove(&self, id: u64) {
        let removed = self.devices.lock().remove(&id);
        // The device reference goes after the lock.
        drop(removed);
    }
}

/// What the vIOMMU's driver sees of them ([`VirtualDevices`], implemented
/// by the vIOMMU's [`ViommuShared`](crate::viommu::ViommuShared)).
impl VirtIds {
    /// The id of the device whose core `struct device` is `dev`.
    pub(crate) fn virt_id_of(&self, dev: *const kernel::bindings::device) -> Option<u64> {
        let devices = self.devices.lock();
        let found = devices
            .iter()
            .find(|(_, d)| core::ptr::eq(sys::raw_dev(d), dev))
            .map(|(&id, _)| id);
        found
    }

    /// Runs `f` on the device with id `id`, under the table's lock, so the
    /// device keeps its id for the call; `false` if no device has it.
    pub(crate) fn with_device(&self, id: u64, f: &mut dyn FnMut(&KDevice)) -> bool {
        let devices = self.devices.lock();
        match devices.get(&id) {
            Some(dev) => {
                f(dev);
                true
            }
            None => false,
        }
    }
}

/// How a device finds its vDEVICE in the object table, to take it along
/// when the device goes.
#[derive(Clone, Copy)]
pub(crate) struct VdeviceLink {
    /// The vDEVICE's object id.
    pub(crate) id: u32,
    /// Its serial: the id alone may name a later object once the vDEVICE
    /// is gone, and so may its address; the serial never does.
    pub(crate) serial: Serial,
}

/// A virtual device.
pub(crate) struct Vdevice {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    viommu: ObjectRef<Viommu>,
    device: Arc<Device>,
    virt_id: u64,
}

impl Object for Vdevice {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }

    /// `IOMMU_DESTROY` of the vDEVICE: the device may take a new one.
    fn destroy(&self, _ctx: &Context) {
        self.device.forget_vdevice(self.serial());
    }
}

impl Vdevice {
    fn serial(&self) -> Serial {
        self.header.serial()
    }
}

impl Drop for Vdevice {
    fn drop(&mut self) {
        // A vDEVICE exists only once its virtual id was taken for it.
        self.viommu.virt_ids().remove(self.virt_id);
    }
}

impl Command for iommu_vdevice_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_VDEVICE_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_vdevice_alloc, virt_id);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let ctx: &Context = ucmd.ctx;
        let cmd = ucmd.cmd;
        // Upstream indexes an xarray with it.
        if cmd.virt_id > usize::MAX as u64 {
            return Err(EINVAL);
        }
        let viommu = ctx.objects.lock().get::<Viommu>(cmd.viommu_id)?;
        let device = ctx.objects.lock().get::<Device>(cmd.dev_id)?;
        if !viommu.serves(&device) {
            return Err(EINVAL);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        let id = reservation.id();
        // The device's lock covers the EEXIST check, the virtual id and the
        // link, not publication: the table lock comes before it (see
        // Documentation/design.rst).
        let vdevice = device.with_vdevice_link(|dev, link| {
            if link.is_some() {
                return Err(EEXIST);
            }
            viommu.virt_ids().insert(cmd.virt_id, dev.into())?;
            // From here on, dropping the vDEVICE gives the id back.
            let vdevice = Arc::new(
                Vdevice {
                    header: ObjectHeader::default(),
                    viommu: viommu.clone(),
                    device: device.arc().clone(),
                    virt_id: cmd.virt_id,
                },
                GFP_KERNEL_ACCOUNT,
            );
            let vdevice = match vdevice {
                Ok(vdevice) => vdevice,
                Err(e) => {
                    viommu.virt_ids().remove(cmd.virt_id);
                    return Err(e.into());
                }
            };
            *link = Some(VdeviceLink {
                id,
                serial: vdevice.serial(),
            });
            Ok(vdevice)
        })?;
        let serial = vdevice.serial();
        ucmd.cmd.out_vdevice_id = id;
        if let Err(e) = ucmd.respond() {
            device.forget_vdevice(serial);
            // Gives the virtual id back, then the reservation its id.
            drop(vdevice);
            return Err(e);
        }
        reservation.finalize(vdevice);
        // An unbind since the link was set could not find the unpublished
        // vDEVICE to take it along: take it away as that unbind would have.
        if device.with_bound(|_| Ok(())).is_err() {
            let removed = ctx.objects.lock().unlink_serial(id, serial);
            drop(removed);
        }
        Ok(())
    }
}
