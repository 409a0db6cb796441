// SPDX-License-Identifier: GPL-2.0

//! The fault queue's file descriptor: `read()` delivers fault groups,
//! `write()` answers them, `poll()` tells when there is something to read.
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
    fs::File,
    prelude::*,
    sync::{aref::ARef, poll::PollTable},
    uaccess::{UserPtr, UserSlice},
};

use super::Fault;
use crate::{
    device::AttachHandle,
    object::ObjectRef,
    sys::anon_file::{self, AnonFile},
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

/// What the fd owns: a user of the fault object, and the iommufd file it
/// was made on, which stays open (with all its objects) while this does.
pub(super) struct FaultFile {
    fault: ObjectRef<Fault>,
    _ctx_file: ARef<File>,
}

impl FaultFile {
    /// The fd's file, named as upstream's.
    pub(super) fn create(fault: ObjectRef<Fault>, ctx_file: ARef<File>) -> Result<ARef<File>> {
        let data = KBox::new(
            Self {
                fault,
                _ctx_file: ctx_file,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        anon_file::create(c"[iommufd-pgfault]", data)
    }
}

impl Drop for FaultFile {
    /// The last close: nobody can answer what is pending any more.
    fn drop(&mut self) {
        self.fault.close();
    }
}

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

impl AnonFile for FaultFile {
    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RECORD != 0 {
            return Err(ESPIPE);
        }
        let fault = &*self.fault;
        let mut delivered = fault.delivered.lock();
        let mut done = 0;
        let mut result = Ok(());
        loop {
            // (Not `while let`: the guard would live through the body.)
            let next = fault.pending.lock().groups.pop_front();
            let Some(group) = next else { break };
            // The group goes back first unless it is delivered whole.
            let size = group.fault_count() * RECORD;
            if size > len - done {
                fault.pending.lock().groups.push_front(group);
                if done == 0 {
                    result = Err(EINVAL);
                }
                break;
            }
            let slot = match delivered.reserve() {
                Ok(slot) => slot,
                Err(e) => {
                    fault.pending.lock().groups.push_front(group);
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
                fault.pending.lock().groups.push_front(group);
                result = Err(e);
                break;
            }
            delivered.file(slot, group);
            done += size;
        }
        drop(delivered);
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    fn write(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        if pos != 0 || len % RESPONSE != 0 {
            return Err(ESPIPE);
        }
        let mut reader = UserSlice::new(buf, len).reader();
        let mut delivered = self.fault.delivered.lock();
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
            done += RESPONSE;
        }
        drop(delivered);
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.fault.readable);
        let mut events = bindings::POLLOUT;
        if !self.fault.pending.lock().groups.is_empty() {
            events |= bindings::POLLIN | bindings::POLLRDNORM;
        }
        events
    }
}
