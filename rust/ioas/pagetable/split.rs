// SPDX-License-Identifier: GPL-2.0

//! Cutting one area in two (`iopt_cut_iova`, `iopt_area_split`), so that
//! an unmap may take part of a mapping: what VFIO type1 (not type1v2)
//! promises. The halves share the memory and keep the pins the area held;
//! the domains are not touched, which is only sound if they map the area
//! a page at a time: a cut is refused (`EINVAL`) where a domain might
//! hold a large page.

use kernel::{page::PAGE_SIZE, prelude::*, rbtree::RBTreeNodeReservation};

use super::{Area, IoPageTable};

impl IoPageTable {
    /// Cuts the area holding `iova` after `iova`, so that `iova` ends one
    /// area and `iova + 1` starts the next; nothing if no area holds it
    /// or it already ends or starts one. Errnos as upstream's, in its
    /// order: `EBUSY` for an area an unmap is draining of accesses,
    /// `EINVAL` for a cut off the IOVA alignment, `ENOMEM`, `EINVAL` for
    /// an area an access pins or one a domain may map with large pages.
    pub(crate) fn cut(&mut self, iova: u64) -> Result {
        let Some(key) = self.first_area(iova, iova) else {
            return Ok(());
        };
        let alignment = self.iova_alignment;
        let large = !self.no_large_pages && !self.domains.is_empty();
        let area = self.areas.get_mut(&key).ok_or(ENOENT)?;
        if iova == area.iova || iova == area.last {
            return Ok(());
        }
        if area.prevent_access {
            return Err(EBUSY);
        }
        let new_start = iova + 1;
        let offset = new_start - area.iova;
        let start_byte = area.start_byte + offset as usize;
        if new_start & (alignment - 1) != 0 || start_byte as u64 & (alignment - 1) != 0 {
            return Err(EINVAL);
        }
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        // A hardware queue's lock is an access too, upstream.
        if area.access_users != 0 || area.locks != 0 || large {
            return Err(EINVAL);
        }
        // The pins held are the pages from the area's first one; the right
        // half's start from the page `start_byte` is in.
        let pins = match area.pins.as_mut() {
            Some(pins) => {
                // Pinned means mapped into a domain page by page (checked
                // above), so the IOVA alignment is at least a page and the
                // cut falls between pages.
                if start_byte % PAGE_SIZE != 0 {
                    return Err(EINVAL);
                }
                let head = start_byte / PAGE_SIZE - area.start_byte / PAGE_SIZE;
                Some(pins.split_off(head)?)
            }
            None => None,
        };
        let right = Area {
            iova: new_start,
            last: area.last,
            pages: area.pages.clone(),
            start_byte,
            prot: area.prot,
            pins,
            access_users: 0,
            prevent_access: false,
            locks: 0,
        };
        area.last = iova;
        self.areas.insert(node.into_node(new_start, right));
        Ok(())
    }
}
