// SPDX-License-Identifier: GPL-2.0

//! The module's own fault attribute, `/sys/kernel/debug/fail_rust_iommufd/`
//! (lib/fault-inject.c), for the steps that do not allocate, which
//! failslab cannot reach.
//!
//! [`inject`] is checked where upstream iommufd calls
//! `iommufd_should_fail()` and this module has the same step, and where a
//! step fails only outside slab:
//!
//! - before the array of a pin run is allocated (upstream's temporary
//!   buffer, `ENOMEM`) and before each batch is pinned (upstream's user
//!   pin, `EFAULT`), in [`super::pages::PinnedPages::pin`];
//! - once each time an area is mapped into a domain (`ENOMEM`), before
//!   the run of pages that holds its middle, so that what went before is
//!   undone: when a map fills the domains and when a domain is filled with
//!   the areas. The generic page table allocates its table pages from the
//!   page allocator, which the debug kernel does not inject into.
//!
//! Like every fault attribute it honours the task's
//! `/proc/self/task/<tid>/fail-nth` as well as its own `probability`,
//! `interval` and `times`.

use kernel::prelude::*;

extern "C" {
    /// helpers.c: `fault_create_debugfs_attr()` of the attribute.
    fn rust_iommufd_fault_attr_create();
    /// helpers.c: removes the attribute's directory.
    fn rust_iommufd_fault_attr_remove();
    /// helpers.c: `should_fail()` on the attribute, size 1.
    fn rust_iommufd_should_fail() -> bool;
}

/// The attribute's debugfs directory, from module init to exit: created
/// by [`FaultAttr::create`], removed on drop. The attribute itself is a
/// static and works without the directory (without debugfs, or if
/// creating it failed), through `fail-nth` only.
///
/// # Invariants
///
/// At most one exists at a time: only the module's state holds one.
pub(crate) struct FaultAttr(());

impl FaultAttr {
    /// Creates the directory. A failure is not the module's: it loads
    /// without the directory, as upstream's does.
    pub(crate) fn create() -> Self {
        // SAFETY: called once, at module init (the type invariant), so
        // the helper's static dentry pointer has no other user.
        unsafe { rust_iommufd_fault_attr_create() };
        Self(())
    }
}

impl Drop for FaultAttr {
    fn drop(&mut self) {
        // SAFETY: the only `FaultAttr` (the type invariant) goes at module
        // exit; debugfs_remove_recursive() takes the error pointer a
        // failed creation left.
        unsafe { rust_iommufd_fault_attr_remove() };
    }
}

/// `Err(err)` when the attribute says this call is to fail.
pub(crate) fn inject(err: Error) -> Result {
    // SAFETY: should_fail() on a static attribute; callable in any context
    // that may sleep or not, and before or after the directory exists.
    if unsafe { rust_iommufd_should_fail() } {
        Err(err)
    } else {
        Ok(())
    }
}
