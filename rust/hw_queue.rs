// SPDX-License-Identifier: GPL-2.0

//! The hardware queue object (`IOMMU_HW_QUEUE_ALLOC`): a queue of a
//! vIOMMU's hardware that reads a guest's queue memory by physical
//! address, such as a command queue.
//!
//! The memory is a range of the nesting parent's IOAS. Since the hardware
//! reads it behind the IOMMU's back, it is pinned through an internal
//! access ([`Access::new_internal`]) for as long as the queue exists:
//! unmapping any of it is `EBUSY` until then, and its pages must be
//! physically contiguous (`EFAULT`). The driver checks the index and may
//! make a queue depend on another ([`ViommuState::hw_queue_init`]).
//!
//! Lifetimes, as upstream: a queue holds its vIOMMU as a user, and the
//! queue it depends on (both `EBUSY` on destroy until it goes). Its
//! teardown gives the driver its index back first, then the queue it
//! depended on, then its memory, then the vIOMMU.

use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

#[cfg(doc)]
use crate::sys::viommu::ViommuState;

use crate::{
    access::Access,
    context::Context,
    ioas::Ioas,
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    uapi::{self, iommu_hw_queue_alloc},
    ucmd::{offset_end, Command, Ucmd},
    viommu::{QueueLink, Viommu},
};

const PAGE: u64 = PAGE_SIZE as u64;

/// A queue's memory, pinned: whole pages from `iova`, `length` bytes.
struct QueueMemory {
    access: Arc<Access>,
    iova: u64,
    length: u64,
}

impl QueueMemory {
    /// Pins the pages under `[iova, iova + length - 1]` of `ioas`
    /// (`iommufd_hw_queue_alloc_phys`) and returns them with the physical
    /// address of `iova`. `ERANGE` if the rounded-up range overflows; as
    /// [`Access::pin_pages`] for what is not mapped (`ENOENT`) or not
    /// readable; `EFAULT` if the pages are not contiguous.
    fn pin(ioas: &ObjectRef<Ioas>, iova: u64, length: u64) -> Result<(Self, u64)> {
        let offset = iova % PAGE;
        let pages = offset
            .checked_add(length)
            .and_then(|end| end.checked_add(PAGE - 1))
            .ok_or(ERANGE)?
            / PAGE;
        let (iova, length) = (iova - offset, pages * PAGE);
        let access = Access::new_internal()?;
        access.attach(ioas.clone())?;
        let phys = match access.pin_pages(iova, length, false) {
            Ok(phys) => phys,
            Err(e) => {
                access.detach();
                return Err(e);
            }
        };
        // From here dropping `memory` unpins and detaches.
        let memory = Self {
            access,
            iova,
            length,
        };
        if phys.windows(2).any(|w| w[1] != w[0] + PAGE) {
            return Err(EFAULT);
        }
        let base = phys.first().ok_or(EFAULT)? + offset;
        Ok((memory, base))
    }
}

impl Drop for QueueMemory {
    fn drop(&mut self) {
        self.access.unpin_pages(self.iova, self.length);
        self.access.detach();
    }
}

/// A hardware queue.
pub(crate) struct HwQueue {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// Its index on the vIOMMU, the driver's.
    index: u32,
    /// The queue the driver made it depend on (held as a user).
    _prev: Option<ObjectRef<HwQueue>>,
    /// Its memory, pinned.
    _memory: QueueMemory,
    /// Its vIOMMU (held as a user).
    viommu: ObjectRef<Viommu>,
}

impl Object for HwQueue {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl Drop for HwQueue {
    fn drop(&mut self) {
        // The driver's index goes first; the fields follow in order.
        self.viommu.remove_hw_queue(self.header.serial());
        self.viommu.state().hw_queue_destroy(self.index);
    }
}

/// The queue `index` of `viommu` as a user, if it is still in the table.
fn user_of(ctx: &Context, viommu: &Viommu, index: u32) -> Option<ObjectRef<HwQueue>> {
    let link = viommu.hw_queue(index)?;
    let queue = ctx.objects.lock().get::<HwQueue>(link.id).ok()?;
    (queue.header.serial() == link.serial).then_some(queue)
}

impl Command for iommu_hw_queue_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_HW_QUEUE_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_hw_queue_alloc, length);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let ctx: &Context = ucmd.ctx;
        let cmd = ucmd.cmd;
        if cmd.flags != 0 || cmd.type_ == uapi::IOMMU_HW_QUEUE_TYPE_DEFAULT {
            return Err(EOPNOTSUPP);
        }
        if cmd.length == 0 {
            return Err(EINVAL);
        }
        cmd.nesting_parent_iova
            .checked_add(cmd.length - 1)
            .ok_or(EOVERFLOW)?;
        let viommu = ctx.objects.lock().get::<Viommu>(cmd.viommu_id)?;
        if !viommu.state().supports_hw_queue(cmd.type_) {
            return Err(EOPNOTSUPP);
        }
        let reservation = Reservation::new(&ctx.objects)?;
        let (memory, base_pa) =
            QueueMemory::pin(viommu.hwpt().ioas(), cmd.nesting_parent_iova, cmd.length)?;
        let parent = viommu.hwpt().domain();
        let prev =
            viommu
                .state()
                .hw_queue_init(parent, cmd.index, cmd.nesting_parent_iova, base_pa)?;
        // The driver took the index: from here dropping the queue gives
        // it back (a failed `Arc::new` drops it too). A queue it depends on
        // that is being destroyed counts as gone already.
        let mut prev_gone = false;
        let prev = prev.and_then(|index| {
            let user = user_of(ctx, &viommu, index);
            prev_gone = user.is_none();
            user
        });
        let queue = Arc::new(
            HwQueue {
                header: ObjectHeader::default(),
                index: cmd.index,
                _prev: prev,
                _memory: memory,
                viommu: viommu.clone(),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        if prev_gone {
            return Err(EIO);
        }
        viommu.add_hw_queue(QueueLink {
            index: cmd.index,
            id: reservation.id(),
            serial: queue.header.serial(),
        })?;
        ucmd.cmd.out_hw_queue_id = reservation.id();
        ucmd.respond()?;
        reservation.finalize(queue);
        Ok(())
    }
}
