// SPDX-License-Identifier: GPL-2.0

//! IO page fault groups, as the core's io-pgfault layer
//! (drivers/iommu/io-pgfault.c) hands them to a domain's `iopf_handler`.
//!
//! A handler that accepts a group owns it: it must answer it exactly once
//! (`iopf_group_response()`) and then free it (`iopf_free_group()`).
//! [`IopfGroup`] is that ownership. [`IopfGroup::respond`] does both, and
//! dropping a group that was never answered answers it `INVALID`, so a group
//! can be neither lost nor answered twice. [`GroupList`] queues owned groups
//! on the list node the core reserves in each group for its handler, so
//! queueing never allocates.

use core::{mem::ManuallyDrop, ptr::NonNull};
use kernel::{bindings, prelude::*, types::Opaque};

use crate::counters::{GROUPS_OWNED, GROUPS_QUEUED};

/// `IOMMU_PAGE_RESP_INVALID`: the request cannot be satisfied; the device
/// must not retry it.
pub(crate) const RESP_INVALID: u32 = bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID;

extern "C" {
    /// helpers.c: `list_add()`.
    fn rust_iommufd_list_add(new: *mut bindings::list_head, head: *mut bindings::list_head);
    /// helpers.c: `list_del_init()`.
    fn rust_iommufd_list_del_init(entry: *mut bindings::list_head);
}

/// A page request group the core handed to a fault handler, owned until
/// answered.
///
/// # Invariants
///
/// The pointer is a live group that the core handed to an `iopf_handler`
/// which returned 0, not yet answered or freed, and owned by this value
/// alone (or, while it sits on a [`GroupList`], by that list). Its
/// `attach_handle`, `fault_count` and `faults` are fixed for its life.
pub(crate) struct IopfGroup(NonNull<bindings::iopf_group>);

// SAFETY: a group may be answered and freed from any thread; what it shares
// with the core (the device's pending list) the core locks itself.
unsafe impl Send for IopfGroup {}

impl IopfGroup {
    /// Takes ownership of a group.
    ///
    /// # Safety
    ///
    /// `group` must be a group the core passed to an `iopf_handler` that
    /// then returned 0, not yet answered or freed, and not owned elsewhere.
    pub(crate) unsafe fn from_raw(group: NonNull<bindings::iopf_group>) -> Self {
        GROUPS_OWNED.inc();
        // INVARIANT: the caller's promise.
        Self(group)
    }

    fn as_ptr(&self) -> *mut bindings::iopf_group {
        self.0.as_ptr()
    }

    /// The attach handle the core routed the faults through.
    pub(crate) fn attach_handle(&self) -> *mut bindings::iommu_attach_handle {
        // SAFETY: by the type invariant, a live group whose handle is fixed.
        unsafe { (*self.as_ptr()).attach_handle }
    }

    /// Takes the group off the device's list of pending groups, which the
    /// core answers itself when the device leaves its iopf queue: from now
    /// on only the owner answers it.
    pub(crate) fn dequeue(&self) {
        // SAFETY: a live group with a live fault parameter.
        unsafe { bindings::iopf_group_dequeue(self.as_ptr()) }
    }

    /// How many page requests the group holds (at least one).
    pub(crate) fn fault_count(&self) -> usize {
        // SAFETY: by the type invariant, a live group whose count is fixed.
        unsafe { (*self.as_ptr()).fault_count }
    }

    /// Calls `f` on each page request, in the order the device sent them:
    /// the one flagged as the last of the group comes last. Stops at the
    /// first error.
    pub(crate) fn for_each_request(
        &self,
        mut f: impl FnMut(&bindings::iommu_fault_page_request) -> Result,
    ) -> Result {
        // The `faults` list is built before the handler is called and is
        // not changed while the group lives.
        // SAFETY: we own the group; each entry is a live `iopf_fault`'s `list`.
        unsafe {
            let head = &raw mut (*self.as_ptr()).faults;
            let mut node = (*head).next;
            while node != head {
                let fault = kernel::container_of!(node, bindings::iopf_fault, list);
                f(&(*fault).fault.prm)?;
                node = (*node).next;
            }
        }
        Ok(())
    }

    /// Sends the device `code` for the whole group and frees the group.
    pub(crate) fn respond(self, code: u32) {
        let group = ManuallyDrop::new(self);
        // SAFETY: we own the group and give it up here.
        unsafe { finish(group.as_ptr(), code) }
    }

    /// The group's list node, for [`GroupList`].
    fn node(&self) -> *mut bindings::list_head {
        // SAFETY: a live group; `node` is reserved for the handler's lists.
        unsafe { &raw mut (*self.as_ptr()).node }
    }

    /// The group whose list node is `node`.
    ///
    /// # Safety
    ///
    /// `node` must be the `node` of a group owned by the caller's list.
    unsafe fn from_node(node: *mut bindings::list_head) -> Self {
        // SAFETY: per the contract, `node` is embedded in a live group.
        let group = unsafe { kernel::container_of!(node, bindings::iopf_group, node) };
        // SAFETY: container_of of a non-NULL member pointer is non-NULL.
        Self(unsafe { NonNull::new_unchecked(group) })
    }
}

impl Drop for IopfGroup {
    /// A group nobody answered: the device must not retry the access.
    fn drop(&mut self) {
        // SAFETY: we own the group; nothing uses it after drop.
        unsafe { finish(self.as_ptr(), RESP_INVALID) }
    }
}

/// Answers and frees `group`.
///
/// # Safety
///
/// The caller owns `group` and does not use it afterwards.
unsafe fn finish(group: *mut bindings::iopf_group, code: u32) {
    // SAFETY: per the contract. The device's fault parameter, and with it
    // the device's IOMMU driver, is kept alive by the group itself.
    unsafe {
        bindings::iopf_group_response(group, code);
        bindings::iopf_free_group(group);
    }
    GROUPS_OWNED.dec();
}

/// A FIFO of owned groups, linked through each group's `node`. Dropping the
/// list answers every group still on it `INVALID`.
///
/// # Invariants
///
/// `head` is an initialised list head that never moves; every node on it
/// but the head is the `node` of an [`IopfGroup`] the list owns, and there
/// are `len` of them.
pub(crate) struct GroupList {
    /// The list head, boxed so that it never moves while groups point at
    /// it.
    head: KBox<Opaque<bindings::list_head>>,
    len: usize,
}

// SAFETY: the list owns its groups, which are `Send`.
unsafe impl Send for GroupList {}

impl GroupList {
    /// An empty list; its length also counts in [`GROUPS_QUEUED`].
    pub(crate) fn new() -> Result<Self> {
        let head = KBox::new(Opaque::uninit(), GFP_KERNEL_ACCOUNT)?;
        // SAFETY: a fresh, unshared list head.
        unsafe { bindings::INIT_LIST_HEAD(head.get()) };
        Ok(Self { head, len: 0 })
    }

    /// Whether no group is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `group` last.
    pub(crate) fn push_back(&mut self, group: IopfGroup) {
        let group = ManuallyDrop::new(group);
        // SAFETY: the group's node is on no list (it was owned alone) and
        // the head is live; the list now owns the group.
        unsafe { bindings::list_add_tail(group.node(), self.head.get()) };
        self.len += 1;
        GROUPS_QUEUED.inc();
    }

    /// Puts `group` back first, as the next to be taken.
    pub(crate) fn push_front(&mut self, group: IopfGroup) {
        let group = ManuallyDrop::new(group);
        // SAFETY: as in `push_back`.
        unsafe { rust_iommufd_list_add(group.node(), self.head.get()) };
        self.len += 1;
        GROUPS_QUEUED.inc();
    }

    /// Takes the first group.
    pub(crate) fn pop_front(&mut self) -> Option<IopfGroup> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: the list is not empty, so `next` is the node of a group
        // it owns; unlinking it hands that ownership to the caller.
        unsafe {
            let node = (*self.head.get()).next;
            rust_iommufd_list_del_init(node);
            self.len -= 1;
            GROUPS_QUEUED.dec();
            Some(IopfGroup::from_node(node))
        }
    }

    /// Takes every group for which `pred` holds out of the list, in order,
    /// and passes each to `f`.
    pub(crate) fn take_each(
        &mut self,
        mut pred: impl FnMut(&IopfGroup) -> bool,
        mut f: impl FnMut(IopfGroup),
    ) {
        let head = self.head.get();
        // `next` is read before a node is unlinked, so the walk goes on
        // over live nodes only.
        // SAFETY: every node but the head belongs to a group the list owns.
        unsafe {
            let mut node = (*head).next;
            while node != head {
                let next = (*node).next;
                // Borrowed, not owned, until unlinked below.
                let group = ManuallyDrop::new(IopfGroup::from_node(node));
                if pred(&group) {
                    rust_iommufd_list_del_init(node);
                    self.len -= 1;
                    GROUPS_QUEUED.dec();
                    f(ManuallyDrop::into_inner(group));
                }
                node = next;
            }
        }
    }
}

impl Drop for GroupList {
    fn drop(&mut self) {
        while let Some(group) = self.pop_front() {
            drop(group);
        }
    }
}
