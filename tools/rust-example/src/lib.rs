// SPDX-License-Identifier: GPL-2.0

//! IO page fault handling for iommufd in user space, on the crates Rust
//! VMMs use: `iommufd-ioctls` (safe wrappers) and `iommufd-bindings` (the
//! uAPI structures), unchanged.
//!
//! - [`FaultQueue`] owns a fault queue's file descriptor
//!   (`IOMMU_FAULT_QUEUE_ALLOC`): [`FaultQueue::read`] returns whole page
//!   request groups, [`FaultQueue::respond`] answers many in one `write()`,
//!   and it is an [`AsFd`](std::os::fd::AsFd) for any poll loop;
//!   [`FaultQueue::serve`] is such a loop.
//! - [`DemandPager`] resolves groups by mapping the faulting pages of a
//!   [`Buffer`] into an IOAS (`IOMMU_IOAS_MAP` through `iommufd-ioctls`),
//!   the way a VMM maps guest memory on demand.
//! - [`mock`] drives rust_iommufd's mock device (`IOMMU_TEST_CMD`,
//!   selftest-only): a device that raises groups, reports the answers it
//!   got, and does DMA through its domain. A real device needs none of it.

mod buffer;
mod demand_pager;
mod fault_queue;
pub mod mock;

pub use buffer::Buffer;
pub use demand_pager::{DemandPager, PAGE_SIZE};
pub use fault_queue::{FaultGroup, FaultQueue, GroupKey, Response, ServeStats};

/// A `size` field: the structure's size, as every iommufd ioctl wants.
pub const fn size_of_u32<T>() -> u32 {
    const { assert!(size_of::<T>() <= u32::MAX as usize) };
    size_of::<T>() as u32
}
