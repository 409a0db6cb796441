// SPDX-License-Identifier: GPL-2.0

//! The 7.3 kernel crate's allocating maple tree, shareable between
//! threads: the crate does not say it is `Send` or `Sync` (its raw C
//! structure is neither), though every operation it offers runs under the
//! tree's own spinlock.

use core::ops::Deref;
use kernel::{maple_tree::MapleTreeAlloc, prelude::*, types::ForeignOwnable};

/// A [`MapleTreeAlloc`] that may be shared between threads.
///
/// # Invariants
///
/// Only the wrapped tree's own methods reach it, each of which takes the
/// tree's spinlock (`mtree_alloc_range()`, `mtree_erase()`, `mtree_lock()`
/// for a `MapleGuard`), so no two threads touch the C structure at once.
#[pin_data]
pub(crate) struct SharedMapleTreeAlloc<T: ForeignOwnable> {
    #[pin]
    tree: MapleTreeAlloc<T>,
}

impl<T: ForeignOwnable> SharedMapleTreeAlloc<T> {
    /// An empty tree.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            tree <- MapleTreeAlloc::new(),
        })
    }
}

impl<T: ForeignOwnable> Deref for SharedMapleTreeAlloc<T> {
    type Target = MapleTreeAlloc<T>;

    fn deref(&self) -> &MapleTreeAlloc<T> {
        &self.tree
    }
}

// SAFETY: the tree owns its `T`s, so moving it to another thread moves
// them; its C structure is not tied to a thread.
unsafe impl<T: ForeignOwnable + Send> Send for SharedMapleTreeAlloc<T> {}
// SAFETY: by the type invariant every access to the C structure is under
// its spinlock; entries are handed out by reference to threads sharing
// the tree, hence `T: Sync`, and may be dropped on any of them (`erase`),
// hence `T: Send`.
unsafe impl<T: ForeignOwnable + Send + Sync> Sync for SharedMapleTreeAlloc<T> {}
