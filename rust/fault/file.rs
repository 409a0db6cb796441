// SPDX-License-Identifier: GPL-2.0

//! The fault queue's file descriptor (an [`crate::eventq`] fd): `read()`
//! delivers fault groups, `write()` answers them; `poll()` is the event
//! queue's.
//!
//! The rules (and errnos) are upstream's:
//! - Both directions move whole records; a count that is not a multiple of
//!   the record size, or a nonzero file position, is `ESPIPE`.
//! - `read()` never blocks. It returns whole groups while they fit, 0 when
//!   none is queued, and `EINVAL` when the first queued group alone does not
//!   fit. A failure after some groups were delivered returns their bytes;
//!   the group that failed stays queued, first.
//! - `write()` answers groups in order. An unknown cookie or a code other
//!   than `IOMMUFD_PAGE_RESP_SUCCESS`/`_INVALID` stops it with `EINVAL`,
//!   after the bytes of the responses already taken, if any.
//! - Readable (`EPOLLIN | EPOLLRDNORM`) while a group is queued; always
//!   writable (`EPOLLOUT`).

use core::mem::size_of;
use kernel::{
    bindings,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use super::{Fault, Stats};
use crate::{
    device::AttachHandle,
    uapi::{self, iommu_hwpt_page_response, iommu_hwpt_pgfault},
};

const RECORD: usize = size_of::<iommu_hwpt_pgfault>();
const RESPONSE: usize = size_of::<iommu_hwpt_page_response>();

// The codes user space writes are the core's own.
const _: () = assert!(
    uapi::IOMMUFD_PAGE_RESP_SUCCESS == bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS
        && uapi::IOMMUFD_PAGE_RESP_INVALID
            == bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID
);
// So are the request flags and permissions records carry.
const _: () = assert!(
    uapi::IOMMU_PGFAULT_FLAGS_PASID_VALID == bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID
        && uapi::IOMMU_PGFAULT_FLAGS_LAST_PAGE == bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE
        && uapi::IOMMU_PGFAULT_PERM_READ == bindings::IOMMU_FAULT_PERM_READ
        && uapi::IOMMU_PGFAULT_PERM_WRITE == bindings::IOMMU_FAULT_PERM_WRITE
        && uapi::IOMMU_PGFAULT_PERM_EXEC == bindings::IOMMU_FAULT_PERM_EXEC
        && uapi::IOMMU_PGFAULT_PERM_PRIV == bindings::IOMMU_FAULT_PERM_PRIV
);

/// Request flags the uAPI defines; the core's others stay inside.
const RECORD_FLAGS: u32 =
    uapi::IOMMU_PGFAULT_FLAGS_PASID_VALID | uapi::IOMMU_PGFAULT_FLAGS_LAST_PAGE;

/// The record of one page request of a group delivered under `cookie`.
fn record(
    prm: &bindings::iommu_fault_page_request,
    dev_id: u32,
    cookie: u32,
) -> iommu_hwpt_pgfault {
    iommu_hwpt_pgfault {
        flags: prm.flags & RECORD_FLAGS,
        dev_id,
        pasid: prm.pasid,
        grpid: prm.grpid,
        perm: prm.perm,
        __reserved: 0,
        addr: prm.addr,
        // The core's requests carry no length hint.
        length: 0,
        cookie,
    }
}

/// How many records a reader has room for before its first group asks for
/// more: the size of most groups.
const RECORDS_AT_FIRST: usize = 16;

/// How many responses a writer reads in before it applies them: at most
/// this much memory (4 KiB) per write, however long.
const RESPONSES_PER_BATCH: usize = 512;

impl Fault {
    /// `read()` of the fd.
    ///
    /// Each group is taken from the queue and filed under its cookie with
    /// `delivered` held, and its records are composed into a kernel buffer
    /// there; the copy to user space is made with no lock held, so that an
    /// automatic answer of the group (its attachment ending) meanwhile does
    /// not wait for a stalled user page. See [`super::delivered`] for the
    /// group in flight.
    pub(super) fn read_groups(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RECORD != 0 {
            return Err(ESPIPE);
        }
        let fault = self;
        // Readers one at a time: a failed group goes back first, and its
        // cookie is not handed out meanwhile.
        let _reader = fault.reader.lock();
        let mut records = KVec::<iommu_hwpt_pgfault>::with_capacity(
            RECORDS_AT_FIRST.min(len / RECORD),
            GFP_KERNEL_ACCOUNT,
        )?;
        let mut done = 0;
        let mut result = Ok(());
        loop {
            let mut delivered = fault.delivered.lock();
            // (Not `while let`: the guard would live through the body.)
            let next = fault.queue.lock().groups.pop_front();
            let Some(group) = next else { break };
            // The group goes back first unless it is delivered whole.
            let count = group.fault_count();
            let size = count * RECORD;
            if size > len - done {
                fault.queue.lock().groups.push_front(group);
                if done == 0 {
                    result = Err(EINVAL);
                }
                break;
            }
            if count > records.capacity() {
                // Room for its records is made without the lock (bounded
                // by `len`, which they fit in); then the first group again.
                fault.queue.lock().groups.push_front(group);
                drop(delivered);
                records.clear();
                if let Err(e) = records.reserve(count, GFP_KERNEL_ACCOUNT) {
                    result = Err(e.into());
                    break;
                }
                continue;
            }
            let slot = match delivered.reserve() {
                Ok(slot) => slot,
                Err(e) => {
                    fault.queue.lock().groups.push_front(group);
                    result = Err(e);
                    break;
                }
            };
            // A queued group's handle lives until its groups are answered:
            // its drop runs `Fault::answer_handle` first.
            // SAFETY: and that waits for the `delivered` lock we hold.
            let dev_id = unsafe { AttachHandle::from_core(group.attach_handle()) }.dev_id();
            records.clear();
            // Within the capacity checked above.
            let composed = group.for_each_request(|prm| {
                records
                    .push_within_capacity(record(prm, dev_id, slot.cookie()))
                    .map_err(|_| ENOMEM)
            });
            if let Err(e) = composed {
                delivered.cancel(slot);
                fault.queue.lock().groups.push_front(group);
                result = Err(e);
                break;
            }
            // From here the group may be answered for user space while its
            // records are copied; the records are ours.
            let cookie = delivered.file(slot, group);
            drop(delivered);
            let copied = UserSlice::new(buf.wrapping_byte_add(done), size)
                .writer()
                .write_slice(records.as_bytes());
            let mut delivered = fault.delivered.lock();
            if let Err(e) = copied {
                // Back first, unless it was answered meanwhile.
                if let Some(group) = delivered.unfile(cookie) {
                    fault.queue.lock().groups.push_front(group);
                }
                result = Err(e);
                break;
            }
            delivered.confirm(cookie);
            drop(delivered);
            Stats::inc(&fault.stats.delivered);
            done += size;
        }
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// `write()` of the fd.
    ///
    /// The responses are read from user space into a kernel buffer, a batch
    /// at a time, with no lock held; each batch is then applied with
    /// `delivered` held, in order, as if read one by one.
    pub(super) fn write_responses(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RESPONSE != 0 {
            return Err(ESPIPE);
        }
        let mut responses = KVec::<iommu_hwpt_page_response>::with_capacity(
            RESPONSES_PER_BATCH.min(len / RESPONSE),
            GFP_KERNEL_ACCOUNT,
        )?;
        let mut reader = UserSlice::new(buf, len).reader();
        let mut done = 0;
        let mut result = Ok(());
        while done < len && result.is_ok() {
            let batch = RESPONSES_PER_BATCH.min((len - done) / RESPONSE);
            // The first response that cannot be read ends the write, after
            // those before it are applied.
            let mut read = Ok(());
            responses.clear();
            while responses.len() < batch {
                match reader.read::<iommu_hwpt_page_response>() {
                    // Within the capacity: `batch` is at most that.
                    Ok(response) => {
                        if responses.push_within_capacity(response).is_err() {
                            read = Err(ENOMEM);
                            break;
                        }
                    }
                    Err(e) => {
                        read = Err(e);
                        break;
                    }
                }
            }
            let mut delivered = self.delivered.lock();
            for response in responses.iter() {
                if response.code != uapi::IOMMUFD_PAGE_RESP_SUCCESS
                    && response.code != uapi::IOMMUFD_PAGE_RESP_INVALID
                {
                    result = Err(EINVAL);
                    break;
                }
                // Unknown, answered already, or not given to user space yet.
                let Some(group) = delivered.take(response.cookie) else {
                    result = Err(EINVAL);
                    break;
                };
                group.respond(response.code);
                self.answered(true);
                done += RESPONSE;
            }
            drop(delivered);
            if result.is_ok() {
                result = read;
            }
        }
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }
}
