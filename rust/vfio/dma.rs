// SPDX-License-Identifier: GPL-2.0

//! `VFIO_IOMMU_MAP_DMA` and `VFIO_IOMMU_UNMAP_DMA` on the compatibility
//! IOAS.
//!
//! A map is an `IOMMU_IOAS_MAP` at a fixed IOVA, charged as the context
//! charges every pin. An unmap takes every mapping inside the range and
//! fails (`ENOENT`) at one the range covers in part, as type1v2 promises;
//! with the IOAS's large pages off (type1, or `IOMMU_OPTION_HUGE_PAGES` 0)
//! the mappings across the range's ends are first cut there, so that part
//! of a mapping can go, as type1 promises. The bytes unmapped are written
//! back in `size`, on failure too.

use kernel::{
    bindings,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use super::compat_ioas;
use crate::{
    context::Context,
    ioas::Pages,
    uapi::{self, offset_end, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap, UapiStruct},
};

/// Reads the first `len` bytes of a `T` (the rest stay zero): VFIO
/// structures are read up to their last mandatory field, whatever `argsz`
/// says.
fn read_head<T: UapiStruct>(user: UserPtr, len: usize) -> Result<T> {
    let mut value = T::default();
    UserSlice::new(user, len)
        .reader()
        .read_slice(&mut value.as_bytes_mut()[..len])?;
    Ok(value)
}

/// `VFIO_IOMMU_MAP_DMA`.
pub(super) fn map(ctx: &Context, user: UserPtr) -> Result<isize> {
    const MIN: usize = offset_end!(vfio_iommu_type1_dma_map, size);
    const FLAGS: u32 = uapi::VFIO_DMA_MAP_FLAG_READ | uapi::VFIO_DMA_MAP_FLAG_WRITE;
    let map: vfio_iommu_type1_dma_map = read_head(user, MIN)?;
    if (map.argsz as usize) < MIN || map.flags & !FLAGS != 0 {
        return Err(EINVAL);
    }
    // Unlike IOMMU_IOAS_MAP, neither permission is required.
    let mut prot = bindings::IOMMU_CACHE;
    if map.flags & uapi::VFIO_DMA_MAP_FLAG_READ != 0 {
        prot |= bindings::IOMMU_READ;
    }
    if map.flags & uapi::VFIO_DMA_MAP_FLAG_WRITE != 0 {
        prot |= bindings::IOMMU_WRITE;
    }
    let ioas = compat_ioas(ctx)?;
    let writable = prot & bindings::IOMMU_WRITE != 0;
    let (pages, start_byte) = Pages::user(
        map.vaddr,
        map.size,
        writable,
        &ctx.pin_ledger,
        ctx.account_mm(),
    )?;
    let result = ioas
        .iopt
        .lock()
        .map(pages, start_byte, map.size, Some(map.iova), prot);
    result.map(|_| 0)
}

/// `VFIO_IOMMU_UNMAP_DMA`.
pub(super) fn unmap(ctx: &Context, user: UserPtr) -> Result<isize> {
    const MIN: usize = offset_end!(vfio_iommu_type1_dma_unmap, size);
    // The dirty-bitmap flag belongs to VFIO's own dirty tracking, which
    // iommufd replaces; the VADDR flag is refused as for map.
    const FLAGS: u32 = uapi::VFIO_DMA_UNMAP_FLAG_ALL;
    let mut unmap: vfio_iommu_type1_dma_unmap = read_head(user, MIN)?;
    if (unmap.argsz as usize) < MIN || unmap.flags & !FLAGS != 0 {
        return Err(EINVAL);
    }
    let ioas = compat_ioas(ctx)?;
    let mut unmapped = 0;
    let result = if unmap.flags & uapi::VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        if unmap.iova != 0 || unmap.size != 0 {
            return Err(EINVAL);
        }
        ioas.unmap_counted(0, u64::MAX, &mut unmapped)
    } else {
        // Upstream computes the ends in unsigned long arithmetic: a range
        // past the end wraps here and fails in the overflow check below.
        let last = unmap.iova.wrapping_add(unmap.size).wrapping_sub(1);
        {
            let mut iopt = ioas.iopt.lock();
            if !iopt.large_pages() {
                iopt.cut(last)?;
                if unmap.iova != 0 {
                    iopt.cut(unmap.iova - 1)?;
                }
            }
        }
        if unmap.size == 0 {
            Err(EINVAL)
        } else {
            match unmap.iova.checked_add(unmap.size - 1) {
                Some(last) => ioas.unmap_counted(unmap.iova, last, &mut unmapped),
                None => Err(EOVERFLOW),
            }
        }
    };
    unmap.size = unmapped;
    UserSlice::new(user, MIN)
        .writer()
        .write_slice(&unmap.as_bytes()[..MIN])?;
    result.map(|()| 0)
}
