// SPDX-License-Identifier: GPL-2.0

//! A fault queue: the object `IOMMU_FAULT_QUEUE_ALLOC` creates and the file
//! descriptor its page requests are read from and answered on.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::time::Duration;

use iommufd_bindings::iommufd::{
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC, IOMMUFD_TYPE, iommu_fault_alloc, iommu_hwpt_page_response,
    iommu_hwpt_pgfault, iommu_hwpt_pgfault_flags_IOMMU_PGFAULT_FLAGS_LAST_PAGE as LAST_PAGE,
    iommu_hwpt_pgfault_flags_IOMMU_PGFAULT_FLAGS_PASID_VALID as PASID_VALID,
};
use iommufd_ioctls::IommuFd;
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::ioctl::ioctl_with_mut_ref;
use vmm_sys_util::ioctl_io_nr;

use crate::size_of_u32;

// Not wrapped by iommufd-ioctls 0.4.0: the number, built as the C header
// builds it, from the bindings' constants.
ioctl_io_nr!(
    IOMMU_FAULT_QUEUE_ALLOC,
    IOMMUFD_TYPE as u32,
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC
);

/// Records one `read()` asks for: four of the largest groups the mock
/// device sends (64 requests), more than the demand pager needs at once.
const READ_RECORDS: usize = 256;

/// What names a page request group: its device, PASID and group index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The device object's id (`dev_id` of the records).
    pub dev_id: u32,
    /// The PASID, for requests flagged `PASID_VALID`.
    pub pasid: Option<u32>,
    /// The PCIe page request group index.
    pub grpid: u32,
}

impl GroupKey {
    fn of(rec: &iommu_hwpt_pgfault) -> Self {
        GroupKey {
            dev_id: rec.dev_id,
            pasid: (rec.flags & PASID_VALID != 0).then_some(rec.pasid),
            grpid: rec.grpid,
        }
    }
}

/// One whole page request group: its records in arrival order, the last
/// one flagged `LAST_PAGE`.
#[derive(Clone, Debug)]
pub struct FaultGroup {
    /// Who sent it.
    pub key: GroupKey,
    /// The page requests, at least one.
    pub faults: Vec<iommu_hwpt_pgfault>,
    /// What a response to this group names (its `LAST_PAGE` record's).
    pub cookie: u32,
}

impl FaultGroup {
    /// The response that answers this group with `code`.
    pub fn response(&self, code: u32) -> Response {
        (self.cookie, code)
    }
}

/// A page response: (the group's cookie, an `IOMMUFD_PAGE_RESP_*` code).
pub type Response = (u32, u32);

/// What [`FaultQueue::serve`] did until it was stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Groups answered.
    pub groups: u64,
    /// Page requests in them.
    pub faults: u64,
}

/// A fault queue and its file descriptor, closed on drop (the object goes
/// when the iommufd is closed or it is destroyed).
///
/// # Invariants
///
/// `file` is the fault fd `IOMMU_FAULT_QUEUE_ALLOC` returned for object
/// `id`. `partial` holds the records of groups whose `LAST_PAGE` record
/// has not been read yet, each list non-empty; `records` is the read
/// buffer, `READ_RECORDS` long.
pub struct FaultQueue {
    id: u32,
    file: File,
    partial: Vec<(GroupKey, Vec<iommu_hwpt_pgfault>)>,
    records: Vec<iommu_hwpt_pgfault>,
}

impl FaultQueue {
    /// `IOMMU_FAULT_QUEUE_ALLOC` on `iommufd`.
    pub fn new(iommufd: &IommuFd) -> io::Result<Self> {
        let mut cmd = iommu_fault_alloc {
            size: size_of_u32::<iommu_fault_alloc>(),
            ..Default::default()
        };
        // SAFETY: `iommufd` is an open iommufd; `cmd` is the structure this
        // ioctl number names, borrowed mutably for the call only.
        let ret = unsafe { ioctl_with_mut_ref(iommufd, IOMMU_FAULT_QUEUE_ALLOC(), &mut cmd) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(cmd.out_fault_fd)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        Ok(FaultQueue {
            id: cmd.out_fault_id,
            // SAFETY: the kernel just installed `fd` for us; nothing else
            // owns it.
            file: unsafe { File::from_raw_fd(fd) },
            partial: Vec::new(),
            records: vec![iommu_hwpt_pgfault::default(); READ_RECORDS],
        })
    }

    /// The object id: `fault_id` of `IOMMU_HWPT_ALLOC`.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The groups queued now, oldest first; empty if none (a fault fd's
    /// `read()` never blocks). Records of a group whose `LAST_PAGE` record
    /// has not come yet are kept for the next call.
    pub fn read(&mut self) -> io::Result<Vec<FaultGroup>> {
        // SAFETY: the records are plain integers (any byte pattern is
        // valid) and the byte slice covers exactly the borrowed vector.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                self.records.as_mut_ptr().cast::<u8>(),
                size_of_val(self.records.as_slice()),
            )
        };
        let n = self.file.read(bytes)? / size_of::<iommu_hwpt_pgfault>();
        let mut groups = Vec::new();
        for rec in &self.records[..n] {
            let key = GroupKey::of(rec);
            let at = match self.partial.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    self.partial.push((key, Vec::new()));
                    self.partial.len() - 1
                }
            };
            self.partial[at].1.push(*rec);
            if rec.flags & LAST_PAGE != 0 {
                let (key, faults) = self.partial.swap_remove(at);
                groups.push(FaultGroup {
                    key,
                    faults,
                    cookie: rec.cookie,
                });
            }
        }
        Ok(groups)
    }

    /// Answers groups, all in one `write()`. The kernel takes responses in
    /// order and stops at the first it refuses; returns how many it took.
    pub fn respond(&mut self, responses: &[Response]) -> io::Result<usize> {
        let resps: Vec<iommu_hwpt_page_response> = responses
            .iter()
            .map(|&(cookie, code)| iommu_hwpt_page_response { cookie, code })
            .collect();
        // SAFETY: plain integers without padding, viewed as their bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(resps.as_ptr().cast::<u8>(), size_of_val(resps.as_slice()))
        };
        Ok(self.file.write(bytes)? / size_of::<iommu_hwpt_page_response>())
    }

    /// Whether a group is queued, waiting up to `timeout` (`None`: no
    /// limit) for one.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        Ok(poll_in(&[self.as_raw_fd()], timeout)?[0])
    }

    /// A handler loop: until `stop` is signalled, waits for groups, asks
    /// `resolve` for each one's answer and writes the answers of each
    /// `read()` in one `write()`.
    pub fn serve(
        &mut self,
        stop: &EventFd,
        mut resolve: impl FnMut(&FaultGroup) -> u32,
    ) -> io::Result<ServeStats> {
        let mut stats = ServeStats::default();
        loop {
            let [ready, stopped] = poll_in(&[self.as_raw_fd(), stop.as_raw_fd()], None)?;
            if stopped {
                return Ok(stats);
            }
            if !ready {
                continue;
            }
            let groups = self.read()?;
            let resps: Vec<Response> = groups.iter().map(|g| g.response(resolve(g))).collect();
            if self.respond(&resps)? != resps.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the kernel refused a page response",
                ));
            }
            stats.groups += groups.len() as u64;
            stats.faults += groups.iter().map(|g| g.faults.len() as u64).sum::<u64>();
        }
    }
}

/// `poll()` for input on `fds`: which of them are readable (or hung up).
fn poll_in<const N: usize>(fds: &[RawFd; N], timeout: Option<Duration>) -> io::Result<[bool; N]> {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    loop {
        // SAFETY: `pfds` is an array of N valid `pollfd`s, for the call.
        let ret = unsafe { libc::poll(pfds.as_mut_ptr(), N as libc::nfds_t, ms) };
        if ret >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(pfds.map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0))
}

impl AsFd for FaultQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for FaultQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
