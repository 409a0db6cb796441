// SPDX-License-Identifier: GPL-2.0

//! `VFIO_IOMMU_GET_INFO`: the page sizes of the compatibility IOAS and a
//! chain of two capabilities after the fixed part of the reply, DMA
//! available then the usable IOVA ranges, each at an 8-byte aligned
//! offset and linked by `next`.
//!
//! The reply is written as upstream writes it, piece by piece, each piece
//! only if it fits in `argsz`: a capability that does not fit whole is
//! left out (the IOVA ranges as many as fit, their header only with all
//! of them), the fixed part is cut to `argsz`, `argsz` comes back as what
//! the whole reply needs, and `cap_offset` is set only if it all fit.
//! What is reported is read under the IOAS's lock and written after it.

use kernel::{
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use super::compat_ioas;
use crate::{
    context::Context,
    uapi::{
        self, offset_end, vfio_info_cap_header, vfio_iommu_type1_info,
        vfio_iommu_type1_info_cap_iova_range, vfio_iommu_type1_info_dma_avail, vfio_iova_range,
    },
};

/// Writes `value` at byte `offset` from `base`.
fn put<T: AsBytes>(base: UserPtr, offset: usize, value: &T) -> Result {
    UserSlice::new(base.wrapping_byte_add(offset), size_of::<T>())
        .writer()
        .write(value)
}

/// A capability's header, for the end of the chain (`next` 0).
fn header(id: u32) -> vfio_info_cap_header {
    vfio_info_cap_header {
        // The ids fit 16 bits by the header's definition.
        id: id as u16,
        version: 1,
        next: 0,
    }
}

/// The DMA-available capability at `offset`, if `room` bytes hold it;
/// returns its size. iommufd's limit is memory, not a count of mappings:
/// the count is `U32_MAX`, as upstream reports it.
fn dma_avail(base: UserPtr, offset: usize, room: usize) -> Result<usize> {
    let cap = vfio_iommu_type1_info_dma_avail {
        header: header(uapi::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL),
        avail: u32::MAX,
    };
    let size = size_of_val(&cap);
    if room >= size {
        put(base, offset, &cap)?;
    }
    Ok(size)
}

/// The IOVA-range capability at `offset`, its ranges as many as `room`
/// bytes hold and its header if they all fit; returns its full size.
fn iova_ranges(base: UserPtr, offset: usize, room: usize, ranges: &[(u64, u64)]) -> Result<usize> {
    let head = size_of::<vfio_iommu_type1_info_cap_iova_range>();
    let entry = size_of::<vfio_iova_range>();
    for (index, &(start, end)) in ranges.iter().enumerate() {
        if room >= head + (index + 1) * entry {
            put(
                base,
                offset + head + index * entry,
                &vfio_iova_range { start, end },
            )?;
        }
    }
    let size = head + ranges.len() * entry;
    if room >= size {
        let cap = vfio_iommu_type1_info_cap_iova_range {
            header: header(uapi::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE),
            nr_iovas: u32::try_from(ranges.len()).map_err(|_| EOVERFLOW)?,
            ..Default::default()
        };
        put(base, offset, &cap)?;
    }
    Ok(size)
}

/// The capabilities of the reply, in their order in the chain.
#[derive(Clone, Copy)]
enum Capability {
    DmaAvail,
    IovaRanges,
}

/// `VFIO_IOMMU_GET_INFO`.
pub(super) fn get_info(ctx: &Context, user: UserPtr) -> Result<isize> {
    const MIN: usize = offset_end!(vfio_iommu_type1_info, iova_pgsizes);
    const FIXED: usize = size_of::<vfio_iommu_type1_info>();
    let mut info = vfio_iommu_type1_info::default();
    UserSlice::new(user, MIN)
        .reader()
        .read_slice(&mut info.as_bytes_mut()[..MIN])?;
    let argsz = info.argsz as usize;
    if argsz < MIN {
        return Err(EINVAL);
    }
    let ioas = compat_ioas(ctx)?;
    let (page_sizes, ranges) = {
        let iopt = ioas.iopt.lock();
        (iopt.page_sizes(), iopt.iova_ranges()?)
    };
    drop(ioas);
    info.flags = uapi::VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = page_sizes;
    info.cap_offset = 0;

    let next_field = core::mem::offset_of!(vfio_info_cap_header, next);
    let mut total = FIXED;
    let mut previous: Option<usize> = None;
    for cap in [Capability::DmaAvail, Capability::IovaRanges] {
        let room = argsz.saturating_sub(total);
        let size = match cap {
            Capability::DmaAvail => dma_avail(user, total, room)?,
            Capability::IovaRanges => iova_ranges(user, total, room, &ranges)?,
        };
        // Link the previous capability to this one if it was written.
        if let Some(previous) = previous {
            if argsz >= total {
                let next = u32::try_from(total).map_err(|_| EOVERFLOW)?;
                put(user, previous + next_field, &next)?;
            }
        }
        previous = Some(total);
        total += size.next_multiple_of(size_of::<u64>());
    }
    if argsz >= total {
        info.cap_offset = FIXED as u32;
    }
    info.argsz = u32::try_from(total).map_err(|_| EOVERFLOW)?;
    info.flags |= uapi::VFIO_IOMMU_INFO_CAPS;
    let reply = argsz.min(FIXED);
    UserSlice::new(user, reply)
        .writer()
        .write_slice(&info.as_bytes()[..reply])?;
    Ok(0)
}
