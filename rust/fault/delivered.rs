// SPDX-License-Identifier: GPL-2.0

//! Fault groups user space has read and not answered yet, by cookie.
//!
//! A cookie names a group from the `read()` that delivers it until the
//! `write()` that answers it (or until the group is answered for user
//! space). Cookies are the lowest free number from 1, as upstream's
//! `xa_alloc()` into an `XA_FLAGS_ALLOC1` array hands them out, so a
//! cookie is reused once its group is answered.
//!
//! A reader files a group before it copies the group's records out, with
//! no lock held, so that an automatic answer (detach, replace, unbind) finds
//! it meanwhile; until the copy is known to be done ([`Delivered::confirm`])
//! the group is in flight: its cookie is unknown to [`Delivered::take`], as
//! user space has not been given it, and a failed copy takes it back
//! ([`Delivered::unfile`]) if nothing answered it in the meantime. Readers
//! are serialised, so at most one group is in flight, and its cookie cannot
//! be handed out again before the reader is back.
//!
//! The tree's nodes are recycled: a node freed by an answer is kept (up to
//! [`SPARE_NODES`]) for the next group delivered, so a steady stream of
//! read/answer pairs allocates nothing per group.

use kernel::{
    id_pool::IdPool,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
};

use crate::{counters::GROUPS_DELIVERED, sys::iopf::IopfGroup};

/// How many freed tree nodes a queue keeps for reuse: a batch of this
/// many groups, read and answered, costs no allocation after the first.
const SPARE_NODES: usize = 64;

/// A tree node; `None` only between taking its group out and recycling it.
type Node = RBTreeNodeReservation<u32, Option<IopfGroup>>;

/// Groups awaiting a response, counted in [`GROUPS_DELIVERED`]. Dropping
/// this answers them all `INVALID`.
pub(super) struct Delivered {
    cookies: IdPool,
    /// Every filed node holds `Some`.
    groups: RBTree<u32, Option<IopfGroup>>,
    /// Nodes of answered groups, for the next ones delivered.
    spare: KVec<Node>,
    /// The cookie of the group a reader is copying out, if any.
    in_flight: Option<u32>,
}

/// A cookie and the memory to file a group under it, taken before the
/// group is copied out so that filing it cannot fail afterwards.
pub(super) struct Slot {
    cookie: u32,
    node: Node,
}

impl Slot {
    /// The cookie the group will be filed under.
    pub(super) fn cookie(&self) -> u32 {
        self.cookie
    }
}

impl Delivered {
    /// An empty map: no group delivered, every cookie free.
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            cookies: IdPool::with_capacity(64, GFP_KERNEL_ACCOUNT)?,
            groups: RBTree::new(),
            spare: KVec::with_capacity(SPARE_NODES, GFP_KERNEL_ACCOUNT)?,
            in_flight: None,
        })
    }

    /// Takes the lowest free cookie and a tree node; give it back with
    /// [`Self::cancel`] or use it with [`Self::file`].
    pub(super) fn reserve(&mut self) -> Result<Slot> {
        let node = match self.spare.pop() {
            Some(node) => node,
            None => RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?,
        };
        let cookie = loop {
            if let Some(unused) = self.cookies.find_unused_id(1) {
                // A cookie is a `__u32`; upstream's limit, as xa_alloc()
                // reports it.
                if unused.as_usize() > u32::MAX as usize {
                    return Err(EBUSY);
                }
                break unused.acquire();
            }
            let resizer = self
                .cookies
                .grow_request()
                .ok_or(EBUSY)?
                .realloc(GFP_KERNEL_ACCOUNT)?;
            self.cookies.grow(resizer);
        };
        Ok(Slot {
            // Checked above.
            cookie: cookie as u32,
            node,
        })
    }

    /// Gives back a slot that was not used.
    pub(super) fn cancel(&mut self, slot: Slot) {
        self.cookies.release_id(slot.cookie as usize);
        recycle(&mut self.spare, slot.node);
    }

    /// Files `group` under the slot's cookie, in flight until
    /// [`Self::confirm`] or [`Self::unfile`]; returns the cookie.
    pub(super) fn file(&mut self, slot: Slot, group: IopfGroup) -> u32 {
        // The cookie was free, so this replaces nothing.
        self.groups
            .insert(slot.node.into_node(slot.cookie, Some(group)));
        GROUPS_DELIVERED.inc();
        self.in_flight = Some(slot.cookie);
        slot.cookie
    }

    /// The in-flight group's records reached user space: its cookie is
    /// user space's now (if the group was not answered meanwhile).
    pub(super) fn confirm(&mut self, cookie: u32) {
        debug_assert_eq!(self.in_flight, Some(cookie));
        self.in_flight = None;
    }

    /// The in-flight group's records did not reach user space: takes it
    /// back, unless it was answered meanwhile (then `None`).
    pub(super) fn unfile(&mut self, cookie: u32) -> Option<IopfGroup> {
        debug_assert_eq!(self.in_flight, Some(cookie));
        self.in_flight = None;
        // Nothing filed a group under the cookie since: only readers file,
        // and the one that filed it is the one here.
        self.remove(cookie)
    }

    /// Takes the group user space knows by `cookie`, freeing the cookie; an
    /// in-flight group is not known by its cookie yet.
    pub(super) fn take(&mut self, cookie: u32) -> Option<IopfGroup> {
        if self.in_flight == Some(cookie) {
            return None;
        }
        self.remove(cookie)
    }

    /// Takes the group filed under `cookie`, freeing the cookie.
    fn remove(&mut self, cookie: u32) -> Option<IopfGroup> {
        let mut entry = self.groups.find_mut(&cookie)?;
        let group = entry.get_mut().take();
        let node = entry.remove_node().into_reservation();
        recycle(&mut self.spare, node);
        self.cookies.release_id(cookie as usize);
        GROUPS_DELIVERED.dec();
        group
    }

    /// Takes every group for which `pred` holds and passes each to `f`.
    pub(super) fn take_each(
        &mut self,
        mut pred: impl FnMut(&IopfGroup) -> bool,
        mut f: impl FnMut(IopfGroup),
    ) {
        let mut cursor = self.groups.cursor_front_mut();
        while let Some(mut current) = cursor {
            let chosen = match current.current().1 {
                Some(group) => pred(group),
                None => false,
            };
            if !chosen {
                cursor = current.move_next();
                continue;
            }
            let (&cookie, slot) = current.current_mut();
            let group = slot.take();
            // The cursor moves to the next node (or a previous one, which
            // `pred` already refused, when this was the last).
            let (next, node) = current.remove_current();
            recycle(&mut self.spare, node.into_reservation());
            self.cookies.release_id(cookie as usize);
            GROUPS_DELIVERED.dec();
            if let Some(group) = group {
                f(group);
            }
            cursor = next;
        }
    }
}

/// Keeps a freed node for reuse, or frees it when enough are kept.
fn recycle(spare: &mut KVec<Node>, node: Node) {
    // Within the capacity taken in `Delivered::new`, so this never
    // allocates; a node that does not fit drops with the error, freed.
    let _ = spare.push_within_capacity(node);
}

impl Drop for Delivered {
    fn drop(&mut self) {
        // The tree answers its groups as it drops them.
        GROUPS_DELIVERED.sub(self.groups.iter().count());
    }
}
