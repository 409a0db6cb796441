// SPDX-License-Identifier: GPL-2.0

//! An IO page fault handler and demand-paged DMA on the crates Rust VMMs
//! use for iommufd, `iommufd-ioctls` and `iommufd-bindings`, unchanged,
//! against rust_iommufd.ko, through this crate's library (`iommufd_fault`:
//! [`FaultQueue`], [`DemandPager`], [`mock`]).
//!
//! Part 1 is tools/demo's flow: an IOAS, a mock device, a fault queue, a
//! fault-capable HWPT, the device attached to it; the device sends page
//! request groups, the handler polls, reads them and answers in one write,
//! and the mock device confirms what it received.
//!
//! Part 2, demand paging: a second mock device on an IOAS with nothing
//! mapped does DMA writes into a [`Buffer`]; a handler thread
//! ([`FaultQueue::serve`]) maps each faulting page (IOMMU_IOAS_MAP through
//! `IommuFd::map_iommu_ioas`) and answers SUCCESS; the DMA completes, only
//! the touched pages are pinned, and after an unmap the DMA faults again.
//!
//! Output is TAP, one line per step.
//!
//!   iommufd-rust-example [/dev/iommu]

use std::fs::OpenOptions;
use std::io;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use iommufd_bindings::iommufd::{
    iommu_hwpt_alloc, iommu_ioas_alloc,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_FAULT_ID_VALID as FAULT_ID_VALID,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_INVALID as RESP_INVALID,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_SUCCESS as RESP_SUCCESS,
};
use iommufd_fault::mock::{self, MockDevice};
use iommufd_fault::{Buffer, DemandPager, FaultQueue, PAGE_SIZE, size_of_u32};
use iommufd_ioctls::IommuFd;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

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

/// The groups the device sends in part 1: (grpid, pages, address, the
/// answer).
const GROUPS: [(u32, u32, u64, u32); 2] = [
    (1, 3, 0x20_0000, RESP_SUCCESS),
    (2, 1, 0x8000_0000, RESP_INVALID),
];

/// A fault-capable HWPT on `pt_id` for `dev`, its faults to `queue`, and
/// the device attached to it. Returns the HWPT's id.
fn fault_hwpt(
    iommufd: &IommuFd,
    dev: &MockDevice,
    pt_id: u32,
    queue: &FaultQueue,
) -> io::Result<u32> {
    let mut hwpt = iommu_hwpt_alloc {
        size: size_of_u32::<iommu_hwpt_alloc>(),
        flags: FAULT_ID_VALID,
        dev_id: dev.idev_id,
        pt_id,
        fault_id: queue.id(),
        ..Default::default()
    };
    iommufd
        .alloc_iommu_hwpt(&mut hwpt)
        .map_err(io::Error::other)?;
    mock::device_replace(iommufd, dev.stdev_id, hwpt.out_hwpt_id)?;
    Ok(hwpt.out_hwpt_id)
}

/// A new IOAS through `IommuFd::alloc_iommu_ioas`.
fn ioas_alloc(iommufd: &IommuFd) -> io::Result<u32> {
    let mut ioas = iommu_ioas_alloc {
        size: size_of_u32::<iommu_ioas_alloc>(),
        ..Default::default()
    };
    iommufd
        .alloc_iommu_ioas(&mut ioas)
        .map_err(io::Error::other)?;
    Ok(ioas.out_ioas_id)
}

/// Part 1: groups raised by the mock device, read and answered by hand.
fn part1(iommufd: &IommuFd, queue: &mut FaultQueue, tap: &mut Tap) -> Option<()> {
    let ioas = tap.step(ioas_alloc(iommufd), "IOAS: IommuFd::alloc_iommu_ioas")?;
    let dev = tap.step(
        mock::device_new(iommufd, ioas),
        "mock device on the IOAS (local IOMMU_TEST_CMD)",
    )?;
    let hwpt = tap.step(
        fault_hwpt(iommufd, &dev, ioas, queue),
        "fault-capable HWPT (IommuFd::alloc_iommu_hwpt), device attached",
    )?;

    for &(grpid, pages, addr, _) in &GROUPS {
        tap.step(
            mock::send_group(iommufd, dev.idev_id, grpid, pages, addr),
            &format!("device sends group {grpid}"),
        )?;
    }
    tap.check(
        queue.wait_readable(Some(Duration::ZERO)).unwrap_or(false),
        "poll(): the fault fd is readable",
    );

    // One read for everything: whole groups, oldest first.
    let groups = tap.step(queue.read(), "FaultQueue::read: whole groups")?;
    for g in &groups {
        println!(
            "# group: dev {} grpid {} cookie {}, {} record(s) from {:#x}",
            g.key.dev_id,
            g.key.grpid,
            g.cookie,
            g.faults.len(),
            g.faults.first().map_or(0, |f| f.addr)
        );
    }
    let shape_ok = groups.len() == GROUPS.len()
        && groups.iter().zip(&GROUPS).all(|(g, want)| {
            g.key.dev_id == dev.idev_id
                && g.key.grpid == want.0
                && g.faults.len() == want.1 as usize
        });
    tap.check(shape_ok, "2 groups of 3 and 1 records, from the device");

    // Both answers in one write.
    let resps: Vec<_> = groups
        .iter()
        .map(|g| {
            let code = GROUPS
                .iter()
                .find(|w| w.0 == g.key.grpid)
                .map_or(RESP_INVALID, |w| w.3);
            g.response(code)
        })
        .collect();
    let taken = queue.respond(&resps);
    tap.check(
        matches!(taken, Ok(k) if k == resps.len()),
        "FaultQueue::respond: one write, all taken",
    );
    for &(grpid, _, _, code) in &GROUPS {
        let got = mock::responses(iommufd, dev.idev_id, grpid);
        tap.check(
            matches!(got, Ok((1, c)) if c == code),
            &format!("the device got one response to group {grpid}, code {code}"),
        );
    }
    tap.check(
        queue.wait_readable(Some(Duration::ZERO)).is_ok_and(|r| !r),
        "poll(): nothing left to read",
    );

    // IOMMU_DESTROY through the crate: the HWPT is busy while attached.
    let busy = iommufd.destroy_iommu_object(hwpt);
    tap.check(
        matches!(&busy, Err(iommufd_ioctls::IommufdError::IommuDestroy(e)) if e.errno() == libc::EBUSY),
        "IommuFd::destroy_iommu_object of the attached HWPT: EBUSY",
    );
    Some(())
}

/// Part 2's window: `DMA_PAGES` pages of [`Buffer`] at IOVA `DMA_IOVA`.
const DMA_IOVA: u64 = 0x1000_0000;
const DMA_PAGES: u64 = 256;

/// Part 2's DMA writes: (first page, pages, groups the device sends). 100
/// pages is more than a group holds (64): two groups.
const WRITES: [(u64, u64, u32); 2] = [(0, 16, 1), (128, 100, 2)];

/// The byte a write of round `seed` puts at buffer offset `off`: never 0.
fn pattern(off: u64, seed: u8) -> u8 {
    ((off + u64::from(seed) * 17) % 251) as u8 + 1
}

/// VmPin of this process, in kB: the memory the IOAS pinned.
fn vm_pin_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPin:"))?;
    line["VmPin:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// VmPin grew by `pages` pages over `base` kB (checked where readable).
fn check_pinned(tap: &mut Tap, base: Option<u64>, pages: u64, when: &str) {
    let now = vm_pin_kb();
    println!("# VmPin {when}: {now:?} kB (before any DMA: {base:?} kB)");
    let ok = match (base, now) {
        (Some(b), Some(n)) => n.checked_sub(b) == Some(pages * PAGE_SIZE / 1024),
        _ => true,
    };
    tap.check(ok, &format!("{when}: {pages} page(s) pinned"));
}

/// A DMA write of `pages` pages from page `page` of the window; checks it
/// completed with `groups` page request groups, one request per page.
fn dma_write(
    tap: &mut Tap,
    iommufd: &IommuFd,
    dev: &MockDevice,
    (page, pages, groups): (u64, u64, u32),
    seed: u8,
) {
    let off = page * PAGE_SIZE;
    let data: Vec<u8> = (off..off + pages * PAGE_SIZE)
        .map(|o| pattern(o, seed))
        .collect();
    let out = mock::dma_write(iommufd, dev.idev_id, DMA_IOVA + off, &data);
    println!(
        "# DMA write of {pages} pages at {:#x}: {:?}, {} group(s), {} request(s)",
        DMA_IOVA + off,
        out.result,
        out.faults,
        out.requests
    );
    tap.check(
        out.result.is_ok() && out.faults == groups && u64::from(out.requests) == pages,
        &format!("DMA write of {pages} unmapped pages: done after {groups} fault group(s)"),
    );
}

/// The buffer holds what `writes` (first page, pages, seed) put there, a
/// later one over an earlier one, and zeros elsewhere.
fn buffer_holds(buffer: &Buffer, writes: &[(u64, u64, u8)]) -> bool {
    let mut bytes = vec![0u8; buffer.len()];
    if !buffer.read(0, &mut bytes) {
        return false;
    }
    bytes.iter().enumerate().all(|(o, &b)| {
        let o = o as u64;
        let want = writes
            .iter()
            .rev()
            .find(|&&(p, n, _)| o >= p * PAGE_SIZE && o < (p + n) * PAGE_SIZE)
            .map_or(0, |&(_, _, seed)| pattern(o, seed));
        b == want
    })
}

/// Part 2: demand-paged DMA, a handler thread mapping what faults.
fn part2(iommufd: &IommuFd, queue: &mut FaultQueue, tap: &mut Tap) -> Option<()> {
    let ioas = tap.step(ioas_alloc(iommufd), "part 2: an empty IOAS")?;
    let buffer = tap.step(
        Buffer::new((DMA_PAGES * PAGE_SIZE) as usize),
        "a 1 MiB buffer, nothing of it mapped",
    )?;
    let dev = tap.step(mock::device_new(iommufd, ioas), "second mock device")?;
    tap.step(
        fault_hwpt(iommufd, &dev, ioas, queue),
        "its fault-capable HWPT on the same queue, attached",
    )?;
    let stop = tap.step(EventFd::new(EFD_NONBLOCK), "the handler's stop eventfd")?;
    let pager = tap.step(
        DemandPager::new(iommufd, ioas, DMA_IOVA, &buffer),
        "DemandPager for the buffer at IOVA 0x10000000",
    )?;
    let base = vm_pin_kb();
    let touched: u64 = WRITES.iter().map(|w| w.1).sum();

    let served = thread::scope(|s| {
        let handler = s.spawn(|| queue.serve(&stop, |g| pager.resolve(g)));

        for &w in &WRITES {
            dma_write(tap, iommufd, &dev, w, 0);
        }
        let written: Vec<_> = WRITES.iter().map(|&(p, n, _)| (p, n, 0)).collect();
        tap.check(
            buffer_holds(&buffer, &written),
            "the buffer holds the bytes written, zeros elsewhere",
        );
        check_pinned(tap, base, touched, "after the writes");

        // Mapped now: a read of the same pages faults nowhere.
        let (page, pages, _) = WRITES[1];
        let mut back = vec![0u8; (pages * PAGE_SIZE) as usize];
        let out = mock::dma_read(iommufd, dev.idev_id, DMA_IOVA + page * PAGE_SIZE, &mut back);
        let same = back
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(page * PAGE_SIZE + i as u64, 0));
        tap.check(
            out.result.is_ok() && out.faults == 0 && same,
            "DMA read of mapped pages: no fault, the same bytes",
        );

        // The unmap unpins; the next DMA faults again.
        let unmapped = pager.unmap_all();
        tap.check(
            matches!(unmapped, Ok(n) if n == touched * PAGE_SIZE),
            &format!("DemandPager::unmap_all (IommuFd::unmap_iommu_ioas): {unmapped:?} bytes"),
        );
        check_pinned(tap, base, 0, "after the unmap");
        dma_write(tap, iommufd, &dev, WRITES[0], 1);
        let mut rewritten = written.clone();
        rewritten.push((WRITES[0].0, WRITES[0].1, 1));
        tap.check(
            buffer_holds(&buffer, &rewritten),
            "after the unmap: the new bytes landed, the rest kept",
        );
        check_pinned(tap, base, WRITES[0].1, "after faulting them back");

        let stopped = stop.write(1);
        match (stopped, handler.join()) {
            (Ok(()), Ok(served)) => served,
            (Err(e), _) => Err(e),
            (_, Err(_)) => Err(io::Error::other("the handler thread panicked")),
        }
    });
    let stats = tap.step(served, "the handler thread stopped")?;
    println!(
        "# handler: {} group(s), {} request(s); {} page(s) mapped",
        stats.groups,
        stats.faults,
        pager.pages_mapped()
    );
    tap.check(
        stats.groups == 4 && stats.faults == touched + WRITES[0].1,
        "the handler answered 4 groups, one request per page touched",
    );
    Some(())
}

fn run(path: &str, tap: &mut Tap) -> Option<()> {
    let file = OpenOptions::new().read(true).write(true).open(path);
    let iommufd = IommuFd::new_from_fd(tap.step(file, &format!("open {path}"))?);
    let mut queue = tap.step(
        FaultQueue::new(&iommufd),
        "FaultQueue::new (IOMMU_FAULT_QUEUE_ALLOC)",
    )?;
    part1(&iommufd, &mut queue, tap)?;
    part2(&iommufd, &mut queue, tap)
}

/// Steps `run` reports when everything goes.
const PLAN: u32 = 33;

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
