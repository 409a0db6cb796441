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

impl Fault {
    /// `read()` of the fd.
    pub(super) fn read_groups(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RECORD != 0 {
            return Err(ESPIPE);
        }
        let fault = self;
        let mut delivered = fault.delivered.lock();
        let mut done = 0;
        let mut result = Ok(());
        loop {
            // (Not `while let`: the guard would live through the body.)
            let next = fault.queue.lock().groups.pop_front();
            let Some(group) = next else { break };
            // The group goes back first unless it is delivered whole.
            let size = group.fault_count() * RECORD;
            if size > len - done {
                fault.queue.lock().groups.push_front(group);
                if done == 0 {
                    result = Err(EINVAL);
                }
                break;
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
            let mut writer = UserSlice::new(buf.wrapping_byte_add(done), size).writer();
            let copied =
                group.for_each_request(|prm| writer.write(&record(prm, dev_id, slot.cookie())));
            if let Err(e) = copied {
                delivered.cancel(slot);
                fault.queue.lock().groups.push_front(group);
                result = Err(e);
                break;
            }
            delivered.file(slot, group);
            Stats::inc(&fault.stats.delivered);
            done += size;
        }
        drop(delivered);
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// `write()` of the fd.
    pub(super) fn write_responses(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RESPONSE != 0 {
            return Err(ESPIPE);
        }
        let mut reader = UserSlice::new(buf, len).reader();
        let mut delivered = self.delivered.lock();
        let mut done = 0;
        let mut result = Ok(());
        while done < len {
            let response = match reader.read::<iommu_hwpt_page_response>() {
                Ok(response) => response,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if response.code != uapi::IOMMUFD_PAGE_RESP_SUCCESS
                && response.code != uapi::IOMMUFD_PAGE_RESP_INVALID
            {
                result = Err(EINVAL);
                break;
            }
            let Some(group) = delivered.take(response.cookie) else {
                result = Err(EINVAL);
                break;
            };
            group.respond(response.code);
            self.answered(true);
            done += RESPONSE;
        }
        drop(delivered);
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }
}
