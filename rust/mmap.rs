// SPDX-License-Identifier: GPL-2.0

//! `mmap()` of the iommufd file: pages a driver lends user space on behalf
//! of an object (the mock vIOMMU's "MMIO" page), each at an offset handed
//! out when the object is made (upstream's `mt_mmap`, `iommufd_fops_mmap`).
//!
//! The rules, as upstream's:
//! - the mapping must be shared (`EINVAL`) and not executable (`EPERM`);
//! - its offset and length must be exactly those of one region (`ENXIO`);
//! - each mapping counts as a user of the region's owner, so the owner
//!   cannot be destroyed (`EBUSY`) until every mapping of it is unmapped;
//! - once the owner is destroyed its offset is gone (`ENXIO`).

use kernel::{
    mm::virt::{flags, VmaNew},
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::{
    context::Context,
    object::{Object, ObjectRef, Serial},
    sys::{
        maple::SharedMapleTreeAlloc,
        vma::{self, MapPages},
    },
};

/// One region: the lent pages and the object they belong to, named by id
/// and serial (a region must not hold its owner, which holds it).
struct Region {
    pages: MapPages,
    owner_id: u32,
    owner: Serial,
    /// Its offset, set once the tree placed it (0 until then, which no
    /// region has, so that a guess before then fails as for no region).
    start: Atomic<usize>,
}

/// The regions of one context, by offset in bytes: an allocating maple
/// tree, whose own spinlock covers lookups.
#[pin_data]
pub(crate) struct MmapTable {
    #[pin]
    regions: SharedMapleTreeAlloc<Arc<Region>>,
}

/// What a mapping keeps: a user of the region's owner.
struct Mapped {
    _owner: ObjectRef<dyn Object>,
}

impl MmapTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            regions <- SharedMapleTreeAlloc::new(),
        })
    }

    /// Lends `pages` to `mmap()` for the object `owner_id` of serial
    /// `owner`, at the lowest free offset past the first page (0 is never
    /// one, so that user space can tell it from "none"), as upstream's
    /// `_iommufd_alloc_mmap()`. `EINVAL` for no pages; `EBUSY` when the
    /// offsets run out.
    pub(crate) fn insert(&self, pages: MapPages, owner_id: u32, owner: Serial) -> Result<u64> {
        let len = pages.len();
        if len == 0 {
            return Err(EINVAL);
        }
        let region = Arc::new(
            Region {
                pages,
                owner_id,
                owner,
                start: Atomic::new(0),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let placed = region.clone();
        let offset = self
            .regions
            .alloc_range(len, region, PAGE_SIZE.., GFP_KERNEL_ACCOUNT)?;
        placed.start.store(offset, Relaxed);
        Ok(offset as u64)
    }

    /// Takes the region at `offset` back; mappings of it keep its pages.
    pub(crate) fn remove(&self, offset: u64) {
        let removed = usize::try_from(offset)
            .ok()
            .and_then(|offset| self.regions.erase(offset));
        drop(removed);
    }

    /// The region that starts at `offset`; `ENXIO` if none does (a
    /// region's inner offsets included).
    fn find(&self, offset: usize) -> Result<Arc<Region>> {
        let mut regions = self.regions.lock();
        let region = regions.load(offset).map(Arc::from).ok_or(ENXIO)?;
        drop(regions);
        Ok(region)
    }
}

/// The `mmap()` of the iommufd file of `ctx`.
pub(crate) fn mmap(ctx: &Context, vma: &VmaNew) -> Result {
    if vma.flags() & flags::SHARED == 0 {
        return Err(EINVAL);
    }
    if vma.flags() & flags::EXEC != 0 {
        return Err(EPERM);
    }
    // The page offset, back in bytes as regions are keyed (wrapping as
    // upstream's shift does).
    let pgoff = vma::pgoff(vma);
    let region = ctx.mmaps.find(pgoff << PAGE_SHIFT)?;
    // The owner, if it is still there, as a user for the mapping's life.
    let owner = ctx
        .objects
        .lock()
        .get_any(region.owner_id)
        .ok()
        .filter(|o| o.header().serial() == region.owner);
    let owner = owner.ok_or(ENXIO)?;
    // Only the exact region: a lookup finds it from any offset inside.
    if pgoff << PAGE_SHIFT != region.start.load(Relaxed) {
        return Err(ENXIO);
    }
    region.pages.map(vma)?;
    vma::keep(vma, Arc::new(Mapped { _owner: owner }, GFP_KERNEL_ACCOUNT)?);
    Ok(())
}
