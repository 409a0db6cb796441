// SPDX-License-Identifier: GPL-2.0

//! An IO page fault handler on the crates Rust VMMs use for iommufd:
//! `iommufd-ioctls` (safe wrappers) and `iommufd-bindings` (the uAPI
//! structures), unchanged, against rust_iommufd.ko.
//!
//! The flow is tools/demo's: an IOAS, a mock device, a fault queue, a
//! fault-capable HWPT, the device attached to it; the device sends page
//! request groups, the handler polls, reads them and answers, and the mock
//! device confirms what it received. Output is TAP, one line per step.
//!
//!   iommufd-rust-example [/dev/iommu]
//!
//! What the crates lack is done here with their structures and a raw
//! ioctl, and says so: `IOMMU_FAULT_QUEUE_ALLOC` (iommufd-ioctls 0.4.0 wraps
//! no fault queue ioctl) and the selftest-only `IOMMU_TEST_CMD` (not in the
//! published header at all), in [`mock`].

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::ExitCode;

use iommufd_bindings::iommufd::{
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC, IOMMUFD_TYPE, iommu_fault_alloc, iommu_hwpt_alloc,
    iommu_hwpt_page_response, iommu_hwpt_pgfault,
    iommu_hwpt_pgfault_flags_IOMMU_PGFAULT_FLAGS_LAST_PAGE as LAST_PAGE, iommu_ioas_alloc,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_FAULT_ID_VALID as FAULT_ID_VALID,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_INVALID as RESP_INVALID,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_SUCCESS as RESP_SUCCESS,
};
use iommufd_ioctls::IommuFd;
use vmm_sys_util::ioctl::ioctl_with_mut_ref;
use vmm_sys_util::ioctl_io_nr;

mod mock;

// Not wrapped by iommufd-ioctls 0.4.0: the number, built as the C header
// builds it, from the bindings' constants.
ioctl_io_nr!(
    IOMMU_FAULT_QUEUE_ALLOC,
    IOMMUFD_TYPE as u32,
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC
);

/// A `size` field: the structure's size, as every iommufd ioctl wants.
fn size_of_u32<T>() -> u32 {
    u32::try_from(size_of::<T>()).expect("uAPI structures are small")
}

/// IOMMU_FAULT_QUEUE_ALLOC with the bindings' structure: the queue's object
/// id and its file descriptor, owned.
fn fault_queue_alloc(iommufd: &IommuFd) -> io::Result<(u32, File)> {
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
    let fd =
        i32::try_from(cmd.out_fault_fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: the kernel just installed `fd` for us; nothing else owns it.
    Ok((cmd.out_fault_id, unsafe { File::from_raw_fd(fd) }))
}

/// `poll()` events of `file` right now.
fn poll_now(file: &File) -> io::Result<i16> {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, for the duration of the call.
    if unsafe { libc::poll(&mut pfd, 1, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pfd.revents)
}

/// Reads whole groups into `recs`; returns how many records came.
fn read_records(file: &mut File, recs: &mut [iommu_hwpt_pgfault]) -> io::Result<usize> {
    // SAFETY: the records are plain integers (any byte pattern is valid)
    // and the byte slice covers exactly the borrowed array.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(recs.as_mut_ptr().cast::<u8>(), size_of_val(recs))
    };
    Ok(file.read(bytes)? / size_of::<iommu_hwpt_pgfault>())
}

/// Writes `resps`; returns how many the kernel took.
fn write_responses(file: &mut File, resps: &[iommu_hwpt_page_response]) -> io::Result<usize> {
    // SAFETY: plain integers without padding, viewed as their bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts(resps.as_ptr().cast::<u8>(), size_of_val(resps)) };
    Ok(file.write(bytes)? / size_of::<iommu_hwpt_page_response>())
}

/// TAP output: numbered results against a plan.
struct Tap {
    n: u32,
    failed: u32,
}

impl Tap {
    fn new(plan: u32) -> Self {
        println!("TAP version 13\n1..{plan}");
        Tap { n: 0, failed: 0 }
    }

    fn check(&mut self, ok: bool, what: &str) -> bool {
        self.n += 1;
        if !ok {
            self.failed += 1;
        }
        println!("{}ok {} {what}", if ok { "" } else { "not " }, self.n);
        ok
    }

    /// Records a step that must work for the next ones to make sense.
    fn step<T, E: std::fmt::Display>(&mut self, res: Result<T, E>, what: &str) -> Option<T> {
        match res {
            Ok(v) => {
                self.check(true, what);
                Some(v)
            }
            Err(e) => {
                self.check(false, what);
                println!("# {e}");
                None
            }
        }
    }
}

/// The groups the device sends: (grpid, pages, address, the answer).
const GROUPS: [(u32, u32, u64, u32); 2] = [
    (1, 3, 0x20_0000, RESP_SUCCESS),
    (2, 1, 0x8000_0000, RESP_INVALID),
];

fn run(path: &str, tap: &mut Tap) -> Option<()> {
    let file = OpenOptions::new().read(true).write(true).open(path);
    let iommufd = IommuFd::new_from_fd(tap.step(file, &format!("open {path}"))?);

    let mut ioas = iommu_ioas_alloc {
        size: size_of_u32::<iommu_ioas_alloc>(),
        ..Default::default()
    };
    tap.step(
        iommufd.alloc_iommu_ioas(&mut ioas),
        "IOAS: IommuFd::alloc_iommu_ioas",
    )?;

    let dev = tap.step(
        mock::device_new(&iommufd, ioas.out_ioas_id),
        "mock device on the IOAS (local IOMMU_TEST_CMD)",
    )?;

    let (fault_id, mut fault_fd) = tap.step(
        fault_queue_alloc(&iommufd),
        "fault queue: raw IOMMU_FAULT_QUEUE_ALLOC, bindings' struct",
    )?;

    let mut hwpt = iommu_hwpt_alloc {
        size: size_of_u32::<iommu_hwpt_alloc>(),
        flags: FAULT_ID_VALID,
        dev_id: dev.idev_id,
        pt_id: ioas.out_ioas_id,
        fault_id,
        ..Default::default()
    };
    tap.step(
        iommufd.alloc_iommu_hwpt(&mut hwpt),
        "fault-capable HWPT: IommuFd::alloc_iommu_hwpt",
    )?;
    tap.step(
        mock::device_replace(&iommufd, dev.stdev_id, hwpt.out_hwpt_id),
        "device attached to the HWPT",
    )?;

    for &(grpid, pages, addr, _) in &GROUPS {
        tap.step(
            mock::send_group(&iommufd, dev.idev_id, grpid, pages, addr),
            &format!("device sends group {grpid}"),
        )?;
    }
    let events = poll_now(&fault_fd).unwrap_or(0);
    tap.check(
        events & libc::POLLIN != 0,
        "poll(): the fault fd is readable",
    );

    // One read for everything: whole groups, oldest first.
    let mut recs = [iommu_hwpt_pgfault::default(); 8];
    let n = tap.step(read_records(&mut fault_fd, &mut recs), "read() the records")?;
    let expected: u32 = GROUPS.iter().map(|g| g.1).sum();
    tap.check(
        n == expected as usize,
        &format!("{n} records, {expected} expected"),
    );

    // One response per group, on its last record, by its cookie.
    let mut resps = Vec::new();
    for rec in &recs[..n] {
        println!(
            "# record: dev {} grpid {} addr {:#x} cookie {} flags {:#x}",
            rec.dev_id, rec.grpid, rec.addr, rec.cookie, rec.flags
        );
        if rec.flags & LAST_PAGE != 0 {
            let code = GROUPS
                .iter()
                .find(|g| g.0 == rec.grpid)
                .map_or(RESP_INVALID, |g| g.3);
            resps.push(iommu_hwpt_page_response {
                cookie: rec.cookie,
                code,
            });
        }
    }
    let shape_ok = resps.len() == GROUPS.len() && recs[..n].iter().all(|r| r.dev_id == dev.idev_id);
    tap.check(
        shape_ok,
        "one LAST_PAGE record per group, all from the device",
    );
    let taken = write_responses(&mut fault_fd, &resps);
    tap.check(
        matches!(taken, Ok(k) if k == resps.len()),
        "write() the responses: all taken",
    );

    for &(grpid, _, _, code) in &GROUPS {
        let got = mock::responses(&iommufd, dev.idev_id, grpid);
        tap.check(
            matches!(got, Ok((1, c)) if c == code),
            &format!("the device got one response to group {grpid}, code {code}"),
        );
    }
    tap.check(
        poll_now(&fault_fd).is_ok_and(|e| e & libc::POLLIN == 0),
        "poll(): nothing left to read",
    );

    // IOMMU_DESTROY through the crate: the HWPT is busy while attached.
    let busy = iommufd.destroy_iommu_object(hwpt.out_hwpt_id);
    tap.check(
        matches!(&busy, Err(iommufd_ioctls::IommufdError::IommuDestroy(e)) if e.errno() == libc::EBUSY),
        "IommuFd::destroy_iommu_object of the attached HWPT: EBUSY",
    );
    Some(())
}

/// Steps `run` reports when everything goes.
const PLAN: u32 = 17;

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/dev/iommu".into());
    let mut tap = Tap::new(PLAN);
    if run(&path, &mut tap).is_none() {
        println!("Bail out! a step the rest depends on failed");
    }
    if tap.failed == 0 && tap.n == PLAN {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
