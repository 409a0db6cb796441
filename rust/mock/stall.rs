// SPDX-License-Identifier: GPL-2.0

//! A mock device's stalled DMAs: each waits for the page response to the
//! page request group it sent, by group index.
//!
//! A DMA that faults claims a slot (one group index from
//! `MOCK_DMA_GRPID_BASE` up), sends its group under that index and sleeps
//! until the response to that index and PASID arrives, the device goes
//! away, its time runs out or a signal comes. Slots are claimed in turn,
//! so that a late response to a group whose DMA gave up seldom meets a new
//! DMA on the same index; if it does, that DMA retries its translation
//! early, which is harmless.

use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, CondVarTimeoutResult, Mutex},
    time::{msecs_to_jiffies, Jiffies},
};

use crate::uapi;

/// Group indexes of DMA page requests start here.
pub(crate) const GRPID_BASE: u32 = uapi::MOCK_DMA_GRPID_BASE;
/// How many DMAs of one device can stall at once.
const SLOTS: usize = (uapi::MOCK_IOPF_GRPID_NUM - uapi::MOCK_DMA_GRPID_BASE) as usize;

/// The state of one group index.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Free,
    /// A DMA waits for the response to its group on this PASID.
    Waiting {
        pasid: u32,
    },
    /// The response came with this code.
    Answered {
        code: u32,
    },
}

/// What [`Stalls::table`] protects.
struct SlotTable {
    slots: KVec<Slot>,
    /// Where the next claim starts looking.
    next: usize,
}

/// The stalled DMAs of one mock device.
#[pin_data]
pub(crate) struct Stalls {
    #[pin]
    table: Mutex<SlotTable>,
    /// Signalled whenever a slot is answered.
    #[pin]
    answered: CondVar,
}

/// Why a stall ended without a response.
pub(crate) enum StallEnd {
    /// No response in time.
    Timeout,
    /// A signal is pending.
    Signal,
}

impl Stalls {
    /// Every slot free.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let mut slots = KVec::with_capacity(SLOTS, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..SLOTS {
            slots.push(Slot::Free, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(try_pin_init!(Self {
            table <- new_mutex!(SlotTable { slots, next: 0 }),
            answered <- new_condvar!(),
        }? Error))
    }

    /// Claims a free group index for a DMA on `pasid`: `EBUSY` if every
    /// index is taken.
    pub(crate) fn claim(&self, pasid: u32) -> Result<Stall<'_>> {
        let mut table = self.table.lock();
        let start = table.next;
        let index = (0..SLOTS)
            .map(|i| (start + i) % SLOTS)
            .find(|&i| table.slots.get(i) == Some(&Slot::Free))
            .ok_or(EBUSY)?;
        if let Some(slot) = table.slots.get_mut(index) {
            *slot = Slot::Waiting { pasid };
        }
        table.next = (index + 1) % SLOTS;
        Ok(Stall {
            stalls: self,
            index,
        })
    }

    /// Notes the response to group `grpid` on `pasid`, waking its DMA if
    /// one waits for it.
    pub(crate) fn answer(&self, pasid: u32, grpid: u32, code: u32) {
        let Some(index) = grpid.checked_sub(GRPID_BASE) else {
            return;
        };
        let mut table = self.table.lock();
        if let Some(slot) = table.slots.get_mut(index as usize) {
            if *slot == (Slot::Waiting { pasid }) {
                *slot = Slot::Answered { code };
                self.answered.notify_all();
            }
        }
    }

    /// Answers every waiting DMA with `code`: the device is going away and
    /// nothing else will.
    pub(crate) fn answer_all(&self, code: u32) {
        let mut table = self.table.lock();
        for slot in table.slots.iter_mut() {
            if matches!(slot, Slot::Waiting { .. }) {
                *slot = Slot::Answered { code };
            }
        }
        self.answered.notify_all();
    }
}

/// A claimed group index; freed when dropped.
pub(crate) struct Stall<'a> {
    stalls: &'a Stalls,
    index: usize,
}

impl Stall<'_> {
    /// The group index to send the page requests under.
    pub(crate) fn grpid(&self) -> u32 {
        GRPID_BASE + self.index as u32
    }

    /// Sleeps, interruptibly, until the group is answered, for at most
    /// `timeout_ms`: the response code.
    pub(crate) fn wait(&self, timeout_ms: u32) -> core::result::Result<u32, StallEnd> {
        let mut left: Jiffies = msecs_to_jiffies(timeout_ms);
        let mut table = self.stalls.table.lock();
        loop {
            if let Some(Slot::Answered { code }) = table.slots.get(self.index) {
                return Ok(*code);
            }
            match self
                .stalls
                .answered
                .wait_interruptible_timeout(&mut table, left)
            {
                CondVarTimeoutResult::Timeout => return Err(StallEnd::Timeout),
                CondVarTimeoutResult::Signal { .. } => return Err(StallEnd::Signal),
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        }
    }
}

impl Drop for Stall<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.stalls.table.lock().slots.get_mut(self.index) {
            *slot = Slot::Free;
        }
    }
}
