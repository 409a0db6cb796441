// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`, defined here: it is selftest-only, so neither crate
//! has it. Layout and values mirror include/uapi/linux/iommufd_test.h (the
//! same as upstream's drivers/iommu/iommufd/iommufd_test.h, plus
//! rust_iommufd's own ops from 0x1000); only the ops used here are spelled
//! out. A VMM with a real device needs none of this.

use std::io;
use std::mem::size_of;

use iommufd_bindings::iommufd::{
    IOMMUFD_CMD_BASE, IOMMUFD_TYPE, iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_READ as PERM_READ,
    iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_WRITE as PERM_WRITE,
};
use iommufd_ioctls::IommuFd;
use vmm_sys_util::ioctl::ioctl_with_mut_ref;
use vmm_sys_util::ioctl_io_nr;

ioctl_io_nr!(IOMMU_TEST_CMD, IOMMUFD_TYPE as u32, IOMMUFD_CMD_BASE + 32);

const OP_MOCK_DOMAIN: u32 = 2;
const OP_MOCK_DOMAIN_REPLACE: u32 = 10;
const OP_RUST_TRIGGER_IOPF_GROUP: u32 = 0x1000;
const OP_RUST_IOPF_RESPONSE: u32 = 0x1001;
const OP_RUST_DMA: u32 = 0x1002;

/// `dma.flags`: device to memory.
const MOCK_DMA_WRITE: u32 = 1 << 0;
/// The longest DMA the mock device does.
pub const MOCK_DMA_MAX_LENGTH: usize = 1 << 22;
/// The largest page request group the mock device sends.
pub const MOCK_IOPF_GROUP_MAX: u32 = 64;

/// `mock_domain`: what IOMMU_TEST_OP_MOCK_DOMAIN returns.
#[repr(C)]
#[derive(Clone, Copy)]
struct MockDomain {
    out_stdev_id: u32,
    out_hwpt_id: u32,
    out_idev_id: u32,
}

/// `mock_domain_replace`: in, the HWPT or IOAS; out, the HWPT attached.
#[repr(C)]
#[derive(Clone, Copy)]
struct MockDomainReplace {
    pt_id: u32,
}

/// `trigger_iopf_group`: one page request group from the mock device.
#[repr(C)]
#[derive(Clone, Copy)]
struct TriggerIopfGroup {
    dev_id: u32,
    pasid: u32,
    grpid: u32,
    perm: u32,
    addr: u64,
    count: u32,
}

/// `iopf_response`: the page responses the mock device received.
#[repr(C)]
#[derive(Clone, Copy)]
struct IopfResponse {
    dev_id: u32,
    grpid: u32,
    out_count: u32,
    out_code: u32,
    out_pasid: u32,
    out_total: u32,
}

/// `dma`: one DMA of the mock device through its domain's page table.
#[repr(C)]
#[derive(Clone, Copy)]
struct Dma {
    dev_id: u32,
    pasid: u32,
    iova: u64,
    uptr: u64,
    length: u32,
    flags: u32,
    timeout_ms: u32,
    out_faults: u32,
    out_requests: u32,
}

/// The per-op union, the members this example uses; `words` gives it the
/// size of the C union (its largest member, `dirty`, is 48 bytes).
#[repr(C)]
union TestData {
    mock_domain: MockDomain,
    mock_domain_replace: MockDomainReplace,
    trigger_iopf_group: TriggerIopfGroup,
    iopf_response: IopfResponse,
    dma: Dma,
    words: [u64; 6],
}

/// `struct iommu_test_cmd`.
#[repr(C)]
struct TestCmd {
    size: u32,
    op: u32,
    id: u32,
    reserved: u32,
    data: TestData,
    last: u32,
}

// The C structure is 72 bytes, the union at 16, `last` at 64.
const _: () = assert!(
    size_of::<TestCmd>() == 72
        && std::mem::offset_of!(TestCmd, data) == 16
        && std::mem::offset_of!(TestCmd, last) == 64
);

impl TestCmd {
    fn new(op: u32, id: u32, data: TestData) -> Self {
        TestCmd {
            size: size_of::<Self>() as u32,
            op,
            id,
            reserved: 0,
            data,
            last: 0,
        }
    }

    fn run(&mut self, iommufd: &IommuFd) -> io::Result<()> {
        // SAFETY: `iommufd` is an open iommufd and `self` has the layout
        // of the structure IOMMU_TEST_CMD takes, borrowed for the call.
        if unsafe { ioctl_with_mut_ref(iommufd, IOMMU_TEST_CMD(), self) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// A zeroed union: every member starts as zeros, as in C's `= {}`.
fn zeroed() -> TestData {
    TestData { words: [0; 6] }
}

/// A mock device and its bound device object.
pub struct MockDevice {
    /// The selftest object: what replace and destroy name.
    pub stdev_id: u32,
    /// The device object: `dev_id` in HWPT allocation and fault records.
    pub idev_id: u32,
}

/// IOMMU_TEST_OP_MOCK_DOMAIN: a new mock device attached to `pt_id`.
pub fn device_new(iommufd: &IommuFd, pt_id: u32) -> io::Result<MockDevice> {
    let mut cmd = TestCmd::new(OP_MOCK_DOMAIN, pt_id, zeroed());
    cmd.run(iommufd)?;
    // SAFETY: the union is plain integers, fully initialised by zeroed();
    // the kernel filled in this op's member.
    let out = unsafe { cmd.data.mock_domain };
    Ok(MockDevice {
        stdev_id: out.out_stdev_id,
        idev_id: out.out_idev_id,
    })
}

/// IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: moves the device to `pt_id`.
pub fn device_replace(iommufd: &IommuFd, stdev_id: u32, pt_id: u32) -> io::Result<()> {
    let mut data = zeroed();
    data.mock_domain_replace = MockDomainReplace { pt_id };
    TestCmd::new(OP_MOCK_DOMAIN_REPLACE, stdev_id, data).run(iommufd)
}

/// IOMMU_TEST_OP_RUST_TRIGGER_IOPF_GROUP: the device sends one group of
/// `pages` read/write requests from `addr` on, without a PASID.
pub fn send_group(
    iommufd: &IommuFd,
    idev_id: u32,
    grpid: u32,
    pages: u32,
    addr: u64,
) -> io::Result<()> {
    let mut data = zeroed();
    data.trigger_iopf_group = TriggerIopfGroup {
        dev_id: idev_id,
        pasid: 0,
        grpid,
        perm: PERM_READ | PERM_WRITE,
        addr,
        count: pages,
    };
    TestCmd::new(OP_RUST_TRIGGER_IOPF_GROUP, 0, data).run(iommufd)
}

/// IOMMU_TEST_OP_RUST_IOPF_RESPONSE: (how many responses, last code) the
/// device received for `grpid` since the last call.
pub fn responses(iommufd: &IommuFd, idev_id: u32, grpid: u32) -> io::Result<(u32, u32)> {
    let mut data = zeroed();
    data.iopf_response = IopfResponse {
        dev_id: idev_id,
        grpid,
        out_count: 0,
        out_code: 0,
        out_pasid: 0,
        out_total: 0,
    };
    let mut cmd = TestCmd::new(OP_RUST_IOPF_RESPONSE, 0, data);
    cmd.run(iommufd)?;
    // SAFETY: plain integers, fully initialised; the kernel filled this
    // op's member.
    let out = unsafe { cmd.data.iopf_response };
    Ok((out.out_count, out.out_code))
}

/// What a mock DMA did: its result, and the page request groups and
/// requests the device sent on the way (reported only when it completes;
/// zero after an error).
#[derive(Debug)]
pub struct DmaOutcome {
    /// Ok once every byte moved; the errno otherwise (EIO: answered
    /// INVALID, EFAULT: not mapped and no fault handling, ETIMEDOUT...).
    pub result: io::Result<()>,
    /// Page request groups sent.
    pub faults: u32,
    /// Page requests (4 KiB pages) in them.
    pub requests: u32,
}

/// IOMMU_TEST_OP_RUST_DMA of `len` bytes at `uptr`, without a PASID. The
/// ioctl sleeps while the device waits for answers to its page requests.
fn dma(
    iommufd: &IommuFd,
    idev_id: u32,
    iova: u64,
    uptr: u64,
    len: usize,
    flags: u32,
) -> DmaOutcome {
    let Ok(length) = u32::try_from(len) else {
        return DmaOutcome {
            result: Err(io::Error::from_raw_os_error(libc::EINVAL)),
            faults: 0,
            requests: 0,
        };
    };
    let mut data = zeroed();
    data.dma = Dma {
        dev_id: idev_id,
        pasid: 0,
        iova,
        uptr,
        length,
        flags,
        timeout_ms: 0,
        out_faults: 0,
        out_requests: 0,
    };
    let mut cmd = TestCmd::new(OP_RUST_DMA, 0, data);
    let result = cmd.run(iommufd);
    // SAFETY: plain integers, fully initialised; on success the kernel
    // filled this op's member.
    let out = unsafe { cmd.data.dma };
    DmaOutcome {
        result,
        faults: out.out_faults,
        requests: out.out_requests,
    }
}

/// A DMA write (device to memory): the device's bytes `data` land at
/// `iova`.
pub fn dma_write(iommufd: &IommuFd, idev_id: u32, iova: u64, data: &[u8]) -> DmaOutcome {
    let uptr = data.as_ptr() as u64;
    dma(iommufd, idev_id, iova, uptr, data.len(), MOCK_DMA_WRITE)
}

/// A DMA read (memory to device): the bytes at `iova` land in `out`.
pub fn dma_read(iommufd: &IommuFd, idev_id: u32, iova: u64, out: &mut [u8]) -> DmaOutcome {
    let uptr = out.as_mut_ptr() as u64;
    dma(iommufd, idev_id, iova, uptr, out.len(), 0)
}
