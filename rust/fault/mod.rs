// SPDX-License-Identifier: GPL-2.0

//! The fault queue object (`IOMMU_FAULT_QUEUE_ALLOC`): IO page faults of
//! fault-capable HWPTs, delivered to user space through a file descriptor.
//!
//! How a fault travels (see Documentation/design.rst):
//! 1. The IOMMU driver reports a page request with
//!    `iommu_report_device_fault()`. The core finds the attach handle of the
//!    faulting (device, PASID), gathers the request's group, and calls the
//!    domain's `iopf_handler`: [`iopf_handler`] for every HWPT allocated with
//!    `IOMMU_HWPT_FAULT_ID_VALID`.
//! 2. The handler takes the group from the core and queues it on the fault
//!    queue the attach handle names, then wakes pollers.
//! 3. `read()` moves whole groups from that queue to the delivered map,
//!    under a new cookie each ([`delivered`]).
//! 4. `write()` of a response takes the group by cookie and answers it; the
//!    core passes the answer to the driver (`page_response`).
//!
//! Every group is answered exactly once: by user space, or `INVALID` when
//! its attachment goes away (detach or replace, [`Fault::answer_handle`]),
//! when the fd is released, or when the object is dropped
//! ([`crate::sys::iopf::IopfGroup`] answers itself when dropped).
//!
//! The queue of groups not read yet is an [`EventQueue`] (shared with the
//! vEVENTQ, as upstream's `iommufd_eventq`), and so is the fd.
//!
//! Locks: `reader`, then `delivered`, then the queue's lock (`pending`).
//! The handler takes only `pending`; neither `delivered` nor `pending` is
//! held across a copy to or from user space, so a reader or writer whose
//! user page stalls holds back neither a fault nor the automatic answer of
//! a detach, replace or unbind (which takes `delivered` inside
//! `Device::state`).

use core::ptr::NonNull;
use kernel::{
    bindings, new_mutex,
    prelude::*,
    seq_file::SeqFile,
    seq_print, static_lock_class,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    uaccess::UserPtr,
};

use crate::{
    device::AttachHandle,
    eventq::{self, DeliverList, EventQueue, Eventq},
    object::{Object, ObjectHeader, Reservation},
    sys::iopf::{GroupList, IopfGroup},
    uapi::{self, iommu_fault_alloc},
    ucmd::{offset_end, Command, Ucmd},
};

mod delivered;
mod file;

use delivered::Delivered;

/// Groups queued by the handler, not read yet: the event queue's deliver
/// list (`pending`).
pub(crate) struct Pending {
    groups: GroupList,
    /// Cleared when the fd is released: nobody can read any more, so new
    /// groups are answered on arrival.
    open: bool,
}

impl DeliverList for Pending {
    fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// What a fault queue counts, in groups, for its fd's `fdinfo`. Each
/// counter only goes up.
struct Stats {
    /// Taken into the queue for user space.
    queued: Atomic<u64>,
    /// Read by user space.
    delivered: Atomic<u64>,
    /// Answered by user space (`write()`).
    answered_by_user: Atomic<u64>,
    /// Answered `INVALID` for user space: its attachment ended, or the fd
    /// was closed (before or after the group came).
    answered_auto: Atomic<u64>,
    /// Answered `INVALID` on arrival because the queue held `depth`
    /// groups; never queued.
    dropped: Atomic<u64>,
}

impl Stats {
    fn new() -> Self {
        Self {
            queued: Atomic::new(0),
            delivered: Atomic::new(0),
            answered_by_user: Atomic::new(0),
            answered_auto: Atomic::new(0),
            dropped: Atomic::new(0),
        }
    }

    fn inc(counter: &Atomic<u64>) {
        counter.add(1u64, Relaxed);
    }
}

/// A fault queue.
#[pin_data]
pub(crate) struct Fault {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// Serialises readers; held across their copies to user space, and
    /// taken by nothing else (before `delivered`).
    #[pin]
    reader: Mutex<()>,
    /// Groups read and awaiting a response. Never held across a copy to or
    /// from user space: readers, writers and automatic responses take it
    /// only to move groups.
    #[pin]
    delivered: Mutex<Delivered>,
    /// Groups not read yet (`pending`), and the pollers' wait queue.
    #[pin]
    queue: EventQueue<Pending>,
    /// How many groups the queue holds unanswered (queued or delivered)
    /// before it answers new ones at once; 0 for no limit. The
    /// `fault_queue_depth` module parameter when the queue was made.
    depth: u32,
    /// Groups it holds unanswered: raised only by the handler under
    /// `pending`, which checks it against `depth` there, so it never
    /// exceeds it; lowered wherever a group is answered.
    held: Atomic<u32>,
    stats: Stats,
}

impl Object for Fault {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl Eventq for Fault {
    const NAME: &'static CStr = c"[iommufd-pgfault]";
    const WRITABLE: bool = true;
    type List = Pending;

    fn eventq(&self) -> &EventQueue<Pending> {
        &self.queue
    }

    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        self.read_groups(buf, len, pos)
    }

    fn write(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        self.write_responses(buf, len, pos)
    }

    /// The last close: nobody can answer what is pending any more.
    fn release(&self) {
        self.close();
    }

    const HAS_FDINFO: bool = true;

    /// The queue's depth, the groups it holds, and its counters.
    fn show_fdinfo(&self, m: &SeqFile) {
        let s = &self.stats;
        seq_print!(m, "depth:\t{}\n", self.depth);
        seq_print!(m, "held:\t{}\n", self.held.load(Relaxed));
        seq_print!(m, "queued:\t{}\n", s.queued.load(Relaxed));
        seq_print!(m, "delivered:\t{}\n", s.delivered.load(Relaxed));
        seq_print!(
            m,
            "answered_by_user:\t{}\n",
            s.answered_by_user.load(Relaxed)
        );
        seq_print!(m, "answered_auto:\t{}\n", s.answered_auto.load(Relaxed));
        seq_print!(m, "dropped:\t{}\n", s.dropped.load(Relaxed));
    }
}

impl Fault {
    fn new() -> Result<Arc<Self>> {
        let delivered = Delivered::new()?;
        let groups = GroupList::new()?;
        let queue = EventQueue::new(
            Pending { groups, open: true },
            c"Fault::pending",
            static_lock_class!(),
        )?;
        Arc::pin_init(
            try_pin_init!(Self {
                header: ObjectHeader::default(),
                reader <- new_mutex!(()),
                delivered <- new_mutex!(delivered),
                queue <- queue,
                depth: crate::sys::fault_queue_depth(),
                held: Atomic::new(0),
                stats: Stats::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Queues a group for user space, or answers it `INVALID` at once if
    /// the fd is gone or the queue holds `depth` groups already.
    fn queue(&self, group: IopfGroup) {
        let mut pending = self.queue.lock();
        if !pending.open {
            drop(pending);
            Stats::inc(&self.stats.answered_auto);
            // Nobody will read it: the device must not wait for it.
            drop(group);
            return;
        }
        if self.depth != 0 && self.held.load(Relaxed) >= self.depth {
            drop(pending);
            Stats::inc(&self.stats.dropped);
            // User space is behind: the device must not wait for it, nor
            // retry into a full queue.
            drop(group);
            return;
        }
        self.held.add(1u32, Relaxed);
        pending.groups.push_back(group);
        drop(pending);
        Stats::inc(&self.stats.queued);
        self.queue.wake();
    }

    /// Counts a group the queue held as answered, by user space or not.
    fn answered(&self, by_user: bool) {
        self.held.fetch_sub(1u32, Relaxed);
        Stats::inc(if by_user {
            &self.stats.answered_by_user
        } else {
            &self.stats.answered_auto
        });
    }

    /// Answers `INVALID`, for user space, a group the queue held.
    fn answer_auto(&self, group: IopfGroup) {
        drop(group);
        self.answered(false);
    }

    /// Answers `INVALID` every group, queued or delivered, that came
    /// through `handle`: called when that attachment is over (after the
    /// core stopped using the handle, before the handle is freed).
    pub(crate) fn answer_handle(&self, handle: *mut bindings::iommu_attach_handle) {
        let mut delivered = self.delivered.lock();
        // Queued groups first, then delivered ones, as upstream.
        self.queue
            .lock()
            .groups
            .take_each(|g| g.attach_handle() == handle, |g| self.answer_auto(g));
        delivered.take_each(|g| g.attach_handle() == handle, |g| self.answer_auto(g));
    }

    /// The fd was released: answers every group `INVALID`, now and on
    /// arrival.
    fn close(&self) {
        let mut delivered = self.delivered.lock();
        let mut pending = self.queue.lock();
        pending.open = false;
        pending.groups.take_each(|_| true, |g| self.answer_auto(g));
        drop(pending);
        delivered.take_each(|_| true, |g| self.answer_auto(g));
    }
}

/// The `iopf_handler` of every HWPT allocated with a fault queue.
///
/// # Safety
///
/// Only the IOMMU core calls this, with a group whose attach handle is one
/// of ours ([`AttachHandle`]), live for the call.
pub(crate) unsafe extern "C" fn iopf_handler(group: *mut bindings::iopf_group) -> c_int {
    let Some(raw) = NonNull::new(group) else {
        return EINVAL.to_errno();
    };
    // SAFETY: a live group whose handle is one of ours (the contract).
    let handle = unsafe { AttachHandle::from_core((*group).attach_handle) };
    // Only handles of HWPTs with a fault queue lead here; refusing makes
    // the core answer the group itself.
    let Some(fault) = handle.fault() else {
        return ENODEV.to_errno();
    };
    // SAFETY: returning 0 below gives us the group.
    let group = unsafe { IopfGroup::from_raw(raw) };
    group.dequeue();
    fault.queue(group);
    0
}

impl Command for iommu_fault_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_FAULT_QUEUE_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_fault_alloc, out_fault_fd);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        if ucmd.cmd.flags != 0 {
            return Err(EOPNOTSUPP);
        }
        let ctx = ucmd.ctx;
        let reservation = Reservation::new(&ctx.objects)?;
        let fault = Fault::new()?;
        // The fd counts as a user of the object (destroy is EBUSY while it
        // is open) and keeps this iommufd file open, as upstream's does.
        let fd = eventq::Fd::new(reservation.user_of(&fault), ucmd.file)?;
        ucmd.cmd.out_fault_id = reservation.id();
        ucmd.cmd.out_fault_fd = fd.number();
        // On failure the fd number is given back, the file released and the
        // id freed, in that order, by the drops.
        ucmd.respond()?;
        reservation.finalize(fault);
        fd.install();
        Ok(())
    }
}
