// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_OP_RUST_DMA`: a mock device's DMA, and the IO page fault
//! loop a device with PRI goes through when its DMA meets an IOVA that is
//! not mapped.
//!
//! The device walks the range in pieces no larger than the domain's
//! smallest page or a CPU page, translating each through the page table of
//! the domain attached at its PASID. A piece that translates is copied to
//! or from the page it translates to. One that does not, on a HWPT that
//! takes faults, makes the device send one page request group for the run
//! of untranslated 4 KiB pages from there (at most `MOCK_IOPF_GROUP_MAX`)
//! and sleep until the group is answered: SUCCESS retries the piece,
//! anything else fails the DMA. Nothing is held while the device sleeps
//! but its own reference, so that whatever ends the attachment (detach,
//! replace, closing the fault queue, destroying the device) answers the
//! group and ends the stall.

use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::Relaxed,
    uaccess::{UserPtr, UserSlice},
};

use super::{report_fault_group, FaultGroup};
use crate::{
    device::Device,
    mock::{dev::MockDev, stall::StallEnd},
    sys::{iopf::RESP_INVALID, pages::PageRef},
    uapi::{self, iommu_test_cmd},
    ucmd::Ucmd,
};

/// The page request granule: PRI asks for 4 KiB pages.
const REQUEST_PAGE: u64 = 0x1000;

/// The direction and permission of one DMA.
#[derive(Clone, Copy)]
struct Access {
    /// Device to memory.
    write: bool,
}

impl Access {
    /// The IOMMU permission the DMA needs.
    fn prot(self) -> u32 {
        if self.write {
            bindings::IOMMU_WRITE
        } else {
            bindings::IOMMU_READ
        }
    }

    /// The permission its page requests ask for.
    fn fault_perm(self) -> u32 {
        if self.write {
            bindings::IOMMU_FAULT_PERM_WRITE
        } else {
            bindings::IOMMU_FAULT_PERM_READ
        }
    }
}

/// What the device finds at one IOVA.
enum Translation {
    /// Mapped with the permission needed: the page, the offset of the
    /// IOVA's byte in it, and how many bytes from there on translate
    /// contiguously within it.
    Mapped(PageRef, usize, usize),
    /// Not mapped (or without the permission); whether the attached HWPT
    /// takes IO page faults.
    Missing { faults: bool },
    /// Nothing attached: DMA is blocked.
    Blocked,
}

/// Translates `iova` for a DMA of `device` on `pasid`.
fn translate(device: &Device, pasid: u32, iova: u64, access: Access) -> Translation {
    let Some((paging, faults)) = device.dma_target(pasid) else {
        return Translation::Blocked;
    };
    let domain = paging.domain();
    // A piece ends at the domain's next page boundary, and within a CPU
    // page, so that it is physically contiguous in one page.
    let granule = (1u64 << domain.pgsize_bitmap().trailing_zeros()).min(PAGE_SIZE as u64);
    let contiguous = (granule - iova % granule) as usize;
    let page = paging
        .ioas()
        .iopt
        .lock()
        .dma_page(domain, iova, access.prot());
    // The HWPT goes after the table's lock: its last reference may be ours.
    drop(paging);
    match page {
        Some((page, in_page)) => Translation::Mapped(page, in_page, contiguous),
        None => Translation::Missing { faults },
    }
}

/// A DMA in progress.
struct Dma<'a> {
    device: &'a Device,
    mdev: &'a MockDev,
    pasid: u32,
    iova: u64,
    length: usize,
    access: Access,
    timeout_ms: u32,
    /// Groups and page requests sent.
    faults: u32,
    requests: u32,
}

impl Dma<'_> {
    /// How many 4 KiB pages from `first` (the faulting one) on are missing
    /// too, up to the end of the DMA and the size of a group.
    fn missing_run(&self, first: u64) -> u32 {
        let end = self.iova + self.length as u64;
        let mut count = 1;
        while count < uapi::MOCK_IOPF_GROUP_MAX {
            let next = first + u64::from(count) * REQUEST_PAGE;
            if next >= end
                || !matches!(
                    translate(self.device, self.pasid, next, self.access),
                    Translation::Missing { faults: true }
                )
            {
                break;
            }
            count += 1;
        }
        count
    }

    /// Sends a page request group for the pages missing from `iova` on and
    /// waits for its answer: `Ok` after SUCCESS.
    fn fault(&mut self, iova: u64) -> Result {
        let first = iova & !(REQUEST_PAGE - 1);
        let count = self.missing_run(first);
        let stall = self.mdev.stalls.claim(self.pasid)?;
        let group = FaultGroup {
            pasid: self.pasid,
            grpid: stall.grpid(),
            perm: self.access.fault_perm(),
            addr: first,
            count,
        };
        report_fault_group(self.device, &group)?;
        self.mdev.dma_groups.fetch_add(1, Relaxed);
        self.faults += 1;
        self.requests += count;
        match stall.wait(self.timeout_ms) {
            Ok(code) if code == bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS => {
                Ok(())
            }
            Ok(_) => Err(EIO),
            Err(StallEnd::Timeout) => Err(ETIMEDOUT),
            Err(StallEnd::Signal) => Err(EINTR),
        }
    }

    /// Runs the DMA to its end.
    fn run(&mut self, user: &mut Transfer) -> Result {
        let (mut done, mut retries) = (0usize, 0u32);
        while done < self.length {
            let iova = self.iova + done as u64;
            match translate(self.device, self.pasid, iova, self.access) {
                Translation::Mapped(page, in_page, contiguous) => {
                    let len = contiguous.min(self.length - done);
                    user.copy(&page, in_page, len)?;
                    done += len;
                    retries = 0;
                }
                Translation::Missing { faults: false } => return Err(EFAULT),
                Translation::Missing { faults: true } => {
                    if retries == uapi::MOCK_DMA_MAX_RETRIES {
                        return Err(EFAULT);
                    }
                    retries += 1;
                    self.fault(iova)?;
                }
                Translation::Blocked => return Err(ENXIO),
            }
        }
        Ok(())
    }
}

/// The user side of a DMA.
enum Transfer {
    /// The bytes a DMA write puts in memory.
    Write(kernel::uaccess::UserSliceReader),
    /// Where a DMA read's bytes go, through a bounce page.
    Read(kernel::uaccess::UserSliceWriter, KVec<u8>),
}

impl Transfer {
    /// Moves the next `len` bytes of the DMA between the user buffer and
    /// `page`, from byte `in_page` of it.
    fn copy(&mut self, page: &PageRef, in_page: usize, len: usize) -> Result {
        let page = page.page();
        match self {
            // The page is a device's view of memory that user space may
            // touch at the same time, as it may with a real device.
            // SAFETY: the page is user memory a domain maps for DMA (the
            // reference keeps it); no Rust code owns or borrows it.
            Transfer::Write(reader) => unsafe {
                page.copy_from_user_slice_raw(reader, in_page, len)
            },
            Transfer::Read(writer, bounce) => {
                let buf = bounce.get_mut(..len).ok_or(EINVAL)?;
                // SAFETY: `buf` is ours and `len` bytes long; the page is
                // as above.
                unsafe { page.read_raw(buf.as_mut_ptr(), in_page, len)? };
                writer.write_slice(buf)
            }
        }
    }
}

/// `IOMMU_TEST_OP_RUST_DMA`.
pub(super) fn dma(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.dma };
    if req.flags & !uapi::MOCK_DMA_WRITE != 0
        || req.length == 0
        || req.length > uapi::MOCK_DMA_MAX_LENGTH
        || req.timeout_ms > uapi::MOCK_DMA_TIMEOUT_MAX_MS
    {
        return Err(EINVAL);
    }
    req.iova
        .checked_add(u64::from(req.length) - 1)
        .ok_or(EOVERFLOW)?;
    let device = ucmd.ctx.objects.lock().get::<Device>(req.dev_id)?;
    let mdev = MockDev::from_device(device.kdev()).ok_or(EINVAL)?;
    let access = Access {
        write: req.flags & uapi::MOCK_DMA_WRITE != 0,
    };
    let length = req.length as usize;
    let user = UserSlice::new(UserPtr::from_addr(req.uptr as usize), length);
    let mut transfer = if access.write {
        Transfer::Write(user.reader())
    } else {
        let mut bounce = KVec::new();
        bounce.resize(PAGE_SIZE, 0u8, GFP_KERNEL_ACCOUNT)?;
        Transfer::Read(user.writer(), bounce)
    };
    let mut dma = Dma {
        device: &device,
        mdev,
        pasid: req.pasid,
        iova: req.iova,
        length,
        access,
        timeout_ms: if req.timeout_ms == 0 {
            uapi::MOCK_DMA_TIMEOUT_DEFAULT_MS
        } else {
            req.timeout_ms
        },
        faults: 0,
        requests: 0,
    };
    dma.run(&mut transfer)?;
    let mut out = req;
    out.out_faults = dma.faults;
    out.out_requests = dma.requests;
    ucmd.cmd.__bindgen_anon_1.dma = out;
    ucmd.respond()
}

/// What a device going away does to its stalled DMAs: answers them
/// INVALID, as the IOMMU core answers the groups of a removed device.
pub(super) fn end_stalls(mdev: &MockDev) {
    mdev.stalls.answer_all(RESP_INVALID);
}
