// SPDX-License-Identifier: GPL-2.0

//! A device's DMA ownership and its attachments, with their contracts in
//! types: what the core attaches through a handle is detached by dropping
//! the value that owns the handle, and reading the core's handles needs a
//! borrow of that value, which only the holder of the device's lock has.

use kernel::{
    bindings,
    device::Device,
    error::to_result,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::aref::ARef,
};

use super::iommu::{
    iommu_attach_group_handle, iommu_detach_group_handle, iommu_replace_device_pasid,
    iommu_replace_group_handle, raw_dev, Domain, Group,
};

/// What keeps the domain of an attachment alive: a HWPT reference.
///
/// # Safety
///
/// [`Self::domain`] returns the same domain every time, alive for as long
/// as `self` is.
pub(crate) unsafe trait DomainOwner: Send + Sync {
    /// The domain attached.
    fn domain(&self) -> &Domain;
}

/// A driver's attach handle: the core's `struct iommu_attach_handle` and
/// what the driver keeps beside it.
///
/// # Safety
///
/// [`Self::core_handle`] returns a pointer to a `struct iommu_attach_handle`
/// inside `self`, the same every time, valid for reads and writes for as
/// long as `self` is alive and does not move.
pub(crate) unsafe trait CoreHandle: Send + Sync {
    /// The core's part of the handle.
    fn core_handle(&self) -> *mut bindings::iommu_attach_handle;
}

/// One PASID's attachment: the domain's owner and the handle the core has.
struct Attached<O, H> {
    owner: O,
    /// Boxed, so it never moves while the core has it. `None` once
    /// [`Attachments::release`] has detached it.
    handle: Option<KBox<H>>,
}

/// DMA ownership of a device, claimed for one owner, and the domains the
/// core has attached to the device's PASIDs through handles of ours.
///
/// # Invariants
///
/// - While `claimed` is set, DMA ownership of `dev`'s group is claimed (and
///   released once, by [`Self::release`]).
/// - Every entry of `by_pasid` is attached: the core has the entry owner's
///   domain at that PASID of `dev` (`IOMMU_NO_PASID`: the whole group)
///   through the entry's handle, which is `Some`. Entries exist only while
///   `claimed` is set.
/// - `dev` is the only device of `group` attached by anyone but the core
///   itself, and every attach, replace and detach of it goes through a
///   `&mut Attachments`: the core's handles for `group` change only then.
pub(crate) struct Attachments<O: DomainOwner, H: CoreHandle> {
    dev: ARef<Device>,
    group: Group,
    claimed: bool,
    by_pasid: RBTree<u32, Attached<O, H>>,
}

impl<O: DomainOwner, H: CoreHandle> Attachments<O, H> {
    /// Claims DMA ownership of `dev` for `owner` (a cookie the core only
    /// compares): its group moves to the blocking domain. `ENODEV` if no
    /// IOMMU driver probed `dev`.
    ///
    /// # Safety
    ///
    /// No other device of `dev`'s group may be attached to domains by
    /// anything but the returned value for as long as it lives.
    pub(crate) unsafe fn claim(dev: ARef<Device>, owner: *mut c_void) -> Result<Self> {
        let group = Group::of(&dev)?;
        // SAFETY: `dev` is a live device; the core only compares `owner`.
        to_result(unsafe { bindings::iommu_device_claim_dma_owner(raw_dev(&dev), owner) })?;
        // INVARIANT: claimed just now, nothing attached yet; the caller
        // promises the group is ours alone.
        Ok(Self {
            dev,
            group,
            claimed: true,
            by_pasid: RBTree::new(),
        })
    }

    /// Whether DMA ownership is still claimed (not yet released).
    pub(crate) fn is_claimed(&self) -> bool {
        self.claimed
    }

    /// The owner of the domain attached at `pasid`.
    pub(crate) fn get(&self, pasid: u32) -> Option<&O> {
        self.by_pasid.get(&pasid).map(|a| &a.owner)
    }

    /// Whether anything is attached at a PASID other than `IOMMU_NO_PASID`.
    pub(crate) fn has_pasids(&self) -> bool {
        self.by_pasid
            .keys()
            .any(|&pasid| pasid != bindings::IOMMU_NO_PASID)
    }

    /// Has the core attach `owner`'s domain at `pasid` through `handle`,
    /// or with `replace`, switch `pasid` to it. The caller checked what is
    /// there (nothing, or something for a replace).
    fn core_attach(&self, pasid: u32, owner: &O, handle: &KBox<H>, replace: bool) -> Result {
        let d = owner.domain().as_ptr();
        let g = self.group.as_ptr();
        let h = handle.core_handle();
        let dev = raw_dev(&self.dev);
        // SAFETY: live domain (`DomainOwner`), group (`Group`'s invariant)
        // and device (held by `ARef`). If this succeeds, the caller puts
        // `handle` (boxed: it never moves; `CoreHandle`) and `owner` in
        // `by_pasid`, which keeps both until the core lets go of the handle.
        to_result(unsafe {
            match (pasid == bindings::IOMMU_NO_PASID, replace) {
                (true, false) => iommu_attach_group_handle(d, g, h),
                (true, true) => iommu_replace_group_handle(g, d, h),
                (false, false) => bindings::iommu_attach_device_pasid(d, dev, pasid, h),
                (false, true) => iommu_replace_device_pasid(d, dev, pasid, h),
            }
        })
    }

    /// Has the core detach what is attached at `pasid` through `attached`.
    fn core_detach(&self, pasid: u32, attached: &Attached<O, H>) {
        let d = attached.owner.domain().as_ptr();
        // SAFETY: by the type invariant, `attached` is in the core at
        // `pasid` of `dev`; live domain, group and device, as above.
        unsafe {
            if pasid == bindings::IOMMU_NO_PASID {
                iommu_detach_group_handle(d, self.group.as_ptr());
            } else {
                bindings::iommu_detach_device_pasid(d, raw_dev(&self.dev), pasid);
            }
        }
    }

    /// Attaches `owner`'s domain at `pasid` through `handle`: `ENOENT` once
    /// released, `EBUSY` if something is attached there.
    pub(crate) fn attach(&mut self, pasid: u32, owner: O, handle: KBox<H>) -> Result {
        if !self.claimed {
            return Err(ENOENT);
        }
        if self.by_pasid.get(&pasid).is_some() {
            return Err(EBUSY);
        }
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        self.core_attach(pasid, &owner, &handle, false)?;
        // INVARIANT: attached just now through this handle.
        let attached = Attached {
            owner,
            handle: Some(handle),
        };
        self.by_pasid.insert(node.into_node(pasid, attached));
        Ok(())
    }

    /// Moves `pasid` to `owner`'s domain through `handle` without passing
    /// through the blocking domain: `EINVAL` if nothing is attached there.
    /// Returns the owner no longer needed; the old handle is freed once
    /// the core has switched to the new one.
    pub(crate) fn replace(&mut self, pasid: u32, owner: O, handle: KBox<H>) -> Result<O> {
        if self.by_pasid.get(&pasid).is_none() {
            return Err(EINVAL);
        }
        self.core_attach(pasid, &owner, &handle, true)?;
        let entry = self.by_pasid.get_mut(&pasid).ok_or(EINVAL)?;
        // INVARIANT: the core has the new domain through the new handle.
        let old = core::mem::replace(
            entry,
            Attached {
                owner,
                handle: Some(handle),
            },
        );
        Ok(old.owner)
    }

    /// Detaches what is attached at `pasid`, frees its handle and returns
    /// its owner.
    pub(crate) fn detach(&mut self, pasid: u32) -> Option<O> {
        let attached = self.by_pasid.remove(&pasid)?;
        self.core_detach(pasid, &attached);
        Some(attached.owner)
    }

    /// The domain the core has attached at `pasid` through a handle. A
    /// borrow of `self` is the witness that no detach frees the handle
    /// while it is read (the type invariant).
    pub(crate) fn attached_domain(&self, pasid: u32) -> Option<*mut bindings::iommu_domain> {
        // SAFETY: by the type invariant, the core's handles for the group
        // change only through `&mut self`, which cannot exist while we
        // hold `&self`.
        unsafe { self.group.attached_domain(pasid) }
    }

    /// Detaches everything (PASIDs first, then the device itself, each
    /// handle freed right after its detach), gives up DMA ownership and
    /// refuses further attachments. Returns the owners. Allocates nothing;
    /// idempotent.
    pub(crate) fn release(&mut self) -> Detached<O, H> {
        if !self.claimed {
            return Detached(RBTree::new());
        }
        let mut attached = core::mem::replace(&mut self.by_pasid, RBTree::new());
        for rid in [false, true] {
            for (&pasid, entry) in attached.iter_mut() {
                if (pasid == bindings::IOMMU_NO_PASID) == rid {
                    self.core_detach(pasid, entry);
                    drop(entry.handle.take());
                }
            }
        }
        // SAFETY: by the type invariant, ownership is claimed; it is
        // released once, as `claimed` is cleared below.
        unsafe { bindings::iommu_device_release_dma_owner(raw_dev(&self.dev)) };
        // INVARIANT: `by_pasid` is empty.
        self.claimed = false;
        Detached(attached)
    }
}

impl<O: DomainOwner, H: CoreHandle> Drop for Attachments<O, H> {
    fn drop(&mut self) {
        drop(self.release());
    }
}

/// The owners of what [`Attachments::release`] detached, handed back so
/// the caller can drop them after releasing its locks. Keeping the tree
/// is what lets `release` allocate nothing.
pub(crate) struct Detached<O, H>(RBTree<u32, Attached<O, H>>);

impl<O, H> Iterator for Detached<O, H> {
    type Item = O;

    fn next(&mut self) -> Option<O> {
        let pasid = *self.0.keys().next()?;
        self.0.remove(&pasid).map(|attached| attached.owner)
    }
}
