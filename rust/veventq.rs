// SPDX-License-Identifier: GPL-2.0

//! The vEVENTQ object (`IOMMU_VEVENTQ_ALLOC`): a vIOMMU's events of one
//! type, reported by its driver and read by user space through an fd, the
//! second user of the event queue ([`crate::eventq`]) after the fault
//! queue.
//!
//! The rules (and errnos) are upstream's:
//! - A vIOMMU has at most one vEVENTQ per type (`EEXIST`); the vEVENTQ holds
//!   its vIOMMU as a user, so the vIOMMU cannot be destroyed first (`EBUSY`),
//!   and its fd holds it, so it cannot be destroyed while the fd is open.
//! - Each event gets the next sequence number, from 0 to `INT_MAX` and round
//!   again. At most `depth` events wait; one reported past that is lost, and
//!   the queue then ends with a lost-events record (a header flagged
//!   `IOMMU_VEVENTQ_FLAG_LOST_EVENTS`, no data) that takes a number too. The
//!   next event queued replaces that record; the gap in the numbers still
//!   shows the loss.
//! - `read()` never blocks. It returns whole events (header and data) while
//!   they fit, 0 when none waits, `EINVAL` for a count below one header or
//!   when the first event does not fit, and `ESPIPE` at a nonzero position.
//!   A failure after some events were read returns their bytes; the event
//!   that failed stays first.
//! - The fd cannot be written (`EINVAL`) and is readable while anything
//!   waits.
//!
//! The queue (a [`VeventQueue`]) is shared with the vIOMMU, where the
//! driver's reports find it by type ([`ViommuShared`]). The vIOMMU holds
//! only the queue, not the object, which holds the vIOMMU: dropping the
//! object takes its queue out of the vIOMMU, after which reports of its type
//! fail with `EOPNOTSUPP` again.

use kernel::{
    list::{impl_list_arc_safe, impl_list_item, List, ListArc, ListLinks},
    new_mutex,
    prelude::*,
    static_lock_class,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex, UniqueArc,
    },
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    eventq::{self, DeliverList, EventQueue, Eventq},
    object::{Object, ObjectHeader, ObjectRef, Reservation},
    uapi::{self, iommu_veventq_alloc, iommufd_vevent_header},
    ucmd::{offset_end, Command, Ucmd},
    viommu::Viommu,
};

#[cfg(doc)]
use crate::viommu::ViommuShared;

/// The largest `veventq_depth`: upstream's bound, which fits every
/// hardware queue it knows.
const MAX_DEPTH: u32 = 1 << 19;

/// Sequence numbers run from 0 to this, then start again at 0.
const SEQUENCE_MAX: u32 = i32::MAX as u32;

const HEADER: usize = size_of::<iommufd_vevent_header>();

/// One event waiting to be read.
#[pin_data]
struct Vevent {
    #[pin]
    links: ListLinks,
    /// Its number: set once, when it is queued, under the queue's lock.
    sequence: Atomic<u32>,
    /// The type-specific record.
    data: KVec<u8>,
}

impl_list_arc_safe! {
    impl ListArcSafe<0> for Vevent { untracked; }
}
impl_list_item! {
    impl ListItem<0> for Vevent { using ListLinks { self.links }; }
}

/// What [`Vevents::fetch`] takes out of the queue for a reader.
enum Fetched {
    Event(ListArc<Vevent>),
    /// The lost-events record, with its number.
    Lost(u32),
}

impl Fetched {
    fn header(&self) -> iommufd_vevent_header {
        match self {
            Self::Event(event) => iommufd_vevent_header {
                flags: 0,
                sequence: event.sequence.load(Relaxed),
            },
            Self::Lost(sequence) => iommufd_vevent_header {
                flags: uapi::IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
                sequence: *sequence,
            },
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Self::Event(event) => &event.data,
            Self::Lost(_) => &[],
        }
    }
}

/// The events waiting to be read: the event queue's deliver list.
pub(crate) struct Vevents {
    events: List<Vevent>,
    /// Events queued and not read yet, those being copied out included
    /// (upstream's `num_events`): what `depth` bounds.
    count: u32,
    depth: u32,
    /// The number the next event (or lost-events record) gets.
    next: u32,
    /// The number of the lost-events record, when one ends the queue.
    lost: Option<u32>,
}

impl DeliverList for Vevents {
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.lost.is_none()
    }
}

impl Vevents {
    fn take_sequence(&mut self) -> u32 {
        let sequence = self.next;
        self.next = if sequence == SEQUENCE_MAX {
            0
        } else {
            sequence + 1
        };
        sequence
    }

    /// Queues `event`, or the lost-events record if it is `None` or the
    /// queue is full.
    fn push(&mut self, event: Option<Pin<UniqueArc<Vevent>>>) {
        match event {
            Some(event) if self.count < self.depth => {
                // The record gives way to a later event: the gap in the
                // numbers tells the loss from now on.
                self.lost = None;
                event.sequence.store(self.take_sequence(), Relaxed);
                self.events.push_back(ListArc::from(event));
                self.count += 1;
            }
            // A dropped event is freed after the caller's lock goes.
            _ => self.lost = Some(self.take_sequence()),
        }
    }

    /// Takes the first event, or the lost-events record if only it is left.
    fn fetch(&mut self) -> Option<Fetched> {
        match self.events.pop_front() {
            Some(event) => Some(Fetched::Event(event)),
            None => self.lost.take().map(Fetched::Lost),
        }
    }

    /// Puts back what [`Self::fetch`] took and a reader could not deliver.
    fn restore(&mut self, fetched: Fetched) {
        match fetched {
            Fetched::Event(event) => self.events.push_front(event),
            // Only onto an empty queue: an event queued meanwhile made the
            // record redundant, a loss meanwhile made a newer one.
            Fetched::Lost(sequence) => {
                if self.is_empty() {
                    self.lost = Some(sequence);
                }
            }
        }
    }
}

/// A vEVENTQ's queue, which its vIOMMU's reports find by type.
#[pin_data]
pub(crate) struct VeventQueue {
    event_type: u32,
    #[pin]
    queue: EventQueue<Vevents>,
}

impl VeventQueue {
    fn new(event_type: u32, depth: u32) -> Result<Arc<Self>> {
        let events = Vevents {
            events: List::new(),
            count: 0,
            depth,
            next: 0,
            lost: None,
        };
        let queue = EventQueue::new(events, c"VeventQueue::events", static_lock_class!())?;
        Arc::pin_init(
            try_pin_init!(Self {
                event_type,
                queue <- queue,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Its events' type (`IOMMU_VEVENTQ_TYPE_*`).
    pub(crate) fn event_type(&self) -> u32 {
        self.event_type
    }

    /// Queues an event whose record is `data`: past the depth, or without
    /// memory for it (`ENOMEM`), it is lost and recorded as such.
    pub(crate) fn report(&self, data: &[u8]) -> Result {
        // Allocated before the lock, which a reader takes.
        let event = new_vevent(data);
        let result = event.as_ref().map(|_| ()).map_err(|_| ENOMEM);
        let mut events = self.queue.lock();
        events.push(event.ok());
        drop(events);
        self.queue.wake();
        result
    }
}

/// A new event with a copy of `data`, not queued yet.
fn new_vevent(data: &[u8]) -> Result<Pin<UniqueArc<Vevent>>> {
    let mut copy = KVec::with_capacity(data.len(), GFP_KERNEL_ACCOUNT)?;
    copy.extend_from_slice(data, GFP_KERNEL_ACCOUNT)?;
    UniqueArc::pin_init(
        try_pin_init!(Vevent {
            links <- ListLinks::new(),
            sequence: Atomic::new(0),
            data: copy,
        }),
        GFP_KERNEL_ACCOUNT,
    )
}

/// A vEVENTQ.
#[pin_data(PinnedDrop)]
pub(crate) struct Veventq {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    viommu: ObjectRef<Viommu>,
    queue: Arc<VeventQueue>,
    /// Serialises readers, so that events leave in order even when one
    /// reader has to put an event back. Reports do not take it.
    #[pin]
    reader: Mutex<()>,
}

impl Object for Veventq {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

#[pinned_drop]
impl PinnedDrop for Veventq {
    /// Reports of its type stop reaching it; what it still holds is freed
    /// with the queue.
    fn drop(self: Pin<&mut Self>) {
        self.viommu.shared().remove_veventq(&self.queue);
    }
}

impl Eventq for Veventq {
    const NAME: &'static CStr = c"[iommufd-viommu-event]";
    const WRITABLE: bool = false;
    type List = Vevents;

    fn eventq(&self) -> &EventQueue<Vevents> {
        &self.queue.queue
    }

    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 {
            return Err(ESPIPE);
        }
        if len < HEADER {
            return Err(EINVAL);
        }
        let queue = &self.queue.queue;
        let _reader = self.reader.lock();
        let mut done = 0;
        let mut result = Ok(());
        loop {
            // (Not `while let`: the guard would live through the body.)
            let next = queue.lock().fetch();
            let Some(fetched) = next else { break };
            let data = fetched.data();
            // A lost-events record has no data: it fits whenever a header
            // does, which the first one always does.
            if HEADER + data.len() > len - done {
                queue.lock().restore(fetched);
                // Only a first event that does not fit is an error.
                if done == 0 {
                    result = Err(EINVAL);
                }
                break;
            }
            let header = fetched.header();
            let mut writer =
                UserSlice::new(buf.wrapping_byte_add(done), HEADER + data.len()).writer();
            let copied = writer
                .write_slice(header.as_bytes())
                .and_then(|()| writer.write_slice(data));
            if let Err(e) = copied {
                queue.lock().restore(fetched);
                result = Err(e);
                break;
            }
            done += HEADER + data.len();
            if let Fetched::Event(event) = fetched {
                queue.lock().count -= 1;
                // Freed outside the lock.
                drop(event);
            }
        }
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }
}

impl Command for iommu_veventq_alloc {
    const NR: u32 = uapi::IOMMUFD_CMD_VEVENTQ_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_veventq_alloc, out_veventq_fd);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let ctx = ucmd.ctx;
        let cmd = ucmd.cmd;
        if cmd.flags != 0 || cmd.__reserved != 0 || cmd.type_ == uapi::IOMMU_VEVENTQ_TYPE_DEFAULT {
            return Err(EOPNOTSUPP);
        }
        if cmd.veventq_depth == 0 || cmd.veventq_depth > MAX_DEPTH {
            return Err(EINVAL);
        }
        let viommu = ctx.objects.lock().get::<Viommu>(cmd.viommu_id)?;
        // Any other type is accepted, as upstream: a type the driver never
        // reports only never has events.
        let queue = VeventQueue::new(cmd.type_, cmd.veventq_depth)?;
        let reservation = Reservation::new(&ctx.objects)?;
        let own = queue.clone();
        let veventq = Arc::pin_init(
            try_pin_init!(Veventq {
                header: ObjectHeader::default(),
                viommu,
                queue: own,
                reader <- new_mutex!(()),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // From here on, dropping the object takes its queue out again.
        veventq.viommu.shared().add_veventq(queue)?;
        let fd = eventq::Fd::new(reservation.user_of(&veventq), ucmd.file)?;
        ucmd.cmd.out_veventq_id = reservation.id();
        ucmd.cmd.out_veventq_fd = fd.number();
        // On failure the fd number is given back, the file released, the
        // queue taken out of the vIOMMU and the id freed, by the drops.
        ucmd.respond()?;
        reservation.finalize(veventq);
        fd.install();
        Ok(())
    }
}
