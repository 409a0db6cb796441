// SPDX-License-Identifier: GPL-2.0

//! Demand paging for DMA: a window of IOVA backed by a [`Buffer`], mapped
//! into the IOAS one page at a time, as the device faults on it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use iommufd_bindings::iommufd::{
    iommu_ioas_map, iommu_ioas_unmap,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_FIXED_IOVA as MAP_FIXED_IOVA,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_READABLE as MAP_READABLE,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_WRITEABLE as MAP_WRITEABLE,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_INVALID as RESP_INVALID,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_SUCCESS as RESP_SUCCESS,
};
use iommufd_ioctls::{IommuFd, IommufdError};

use crate::{Buffer, FaultGroup, size_of_u32};

/// The granule of a page request (PCIe's), and of what the pager maps.
pub const PAGE_SIZE: u64 = 4096;

/// Resolves page request groups of IOVAs `[iova, iova + buffer.len())` by
/// mapping the faulting pages of `buffer` there (`IOMMU_IOAS_MAP` at a
/// fixed IOVA, readable and writeable), then answering SUCCESS so the
/// device retries; a group with a page outside is answered INVALID.
/// Shareable between the handler thread and the others (`Sync`).
pub struct DemandPager<'a> {
    iommufd: &'a IommuFd,
    ioas_id: u32,
    iova: u64,
    buffer: &'a Buffer,
    pages_mapped: AtomicU64,
}

impl<'a> DemandPager<'a> {
    /// A pager for IOAS `ioas_id` of `iommufd`. EINVAL unless `iova` and
    /// the buffer's length are multiples of [`PAGE_SIZE`] and the window
    /// does not wrap.
    pub fn new(
        iommufd: &'a IommuFd,
        ioas_id: u32,
        iova: u64,
        buffer: &'a Buffer,
    ) -> io::Result<Self> {
        let len = buffer.len() as u64;
        if !iova.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
            || iova.checked_add(len).is_none()
        {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(DemandPager {
            iommufd,
            ioas_id,
            iova,
            buffer,
            pages_mapped: AtomicU64::new(0),
        })
    }

    /// The window's first IOVA.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// Whether `addr` lies in the window.
    pub fn contains(&self, addr: u64) -> bool {
        addr.checked_sub(self.iova)
            .is_some_and(|off| off < self.buffer.len() as u64)
    }

    /// Maps the page holding `addr`; Ok(false) if it was mapped already.
    pub fn map_page(&self, addr: u64) -> Result<bool, IommufdError> {
        let iova = addr & !(PAGE_SIZE - 1);
        let map = iommu_ioas_map {
            size: size_of_u32::<iommu_ioas_map>(),
            flags: MAP_FIXED_IOVA | MAP_READABLE | MAP_WRITEABLE,
            ioas_id: self.ioas_id,
            user_va: self.buffer.addr() + (iova - self.iova),
            length: PAGE_SIZE,
            iova,
            ..Default::default()
        };
        match self.iommufd.map_iommu_ioas(&map) {
            Ok(()) => {
                self.pages_mapped.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            // Another group of the same DMA (or an earlier one) got it.
            Err(IommufdError::IommuIoasMap(e)) if e.errno() == libc::EEXIST => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The answer to `group`: SUCCESS once each of its pages is mapped,
    /// INVALID if one is outside the window or cannot be mapped.
    pub fn resolve(&self, group: &FaultGroup) -> u32 {
        if !group.faults.iter().all(|f| self.contains(f.addr)) {
            return RESP_INVALID;
        }
        for f in &group.faults {
            if self.map_page(f.addr).is_err() {
                return RESP_INVALID;
            }
        }
        RESP_SUCCESS
    }

    /// Pages this pager mapped so far (the maps that found one mapped
    /// already not counted).
    pub fn pages_mapped(&self) -> u64 {
        self.pages_mapped.load(Ordering::Relaxed)
    }

    /// `IOMMU_IOAS_UNMAP` of the whole window: every page goes, pins are
    /// dropped, and the device faults again on its next DMA. Returns the
    /// bytes unmapped.
    pub fn unmap_all(&self) -> Result<u64, IommufdError> {
        let mut unmap = iommu_ioas_unmap {
            size: size_of_u32::<iommu_ioas_unmap>(),
            ioas_id: self.ioas_id,
            iova: self.iova,
            length: self.buffer.len() as u64,
        };
        self.iommufd.unmap_iommu_ioas(&mut unmap)?;
        Ok(unmap.length)
    }
}
