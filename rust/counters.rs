// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters of what user space holds, in debugfs
//! (`/sys/kernel/debug/rust_iommufd/`), for leak checks in tests: each must
//! be back to zero once every file of the device is closed (see
//! Documentation/reliability.rst).
//!
//! Counting is one relaxed atomic add per event and takes no lock, so a
//! hook can sit anywhere in the lock order. A reader sees each counter
//! exact once the module is idle; while faults are in flight the five are
//! not read at one instant.

use core::fmt;
use kernel::{
    debugfs::Scope,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// A gauge: goes up and down, shown in decimal.
pub(crate) struct Gauge(Atomic<i64>);

impl Gauge {
    const fn new() -> Self {
        Self(Atomic::new(0))
    }

    pub(crate) fn inc(&self) {
        self.0.add(1, Relaxed);
    }

    pub(crate) fn dec(&self) {
        self.0.add(-1, Relaxed);
    }

    /// Moves the gauge by `n` up.
    pub(crate) fn add(&self, n: usize) {
        // A count of things in memory fits an i64.
        self.0.add(n as i64, Relaxed);
    }

    /// Moves the gauge by `n` down.
    pub(crate) fn sub(&self, n: usize) {
        // A count of things in memory fits an i64.
        self.0.add(-(n as i64), Relaxed);
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.load(Relaxed), f)
    }
}

/// Objects of every kind (`ObjectHeader`s) in memory, in every file,
/// whether published, being built or only kept alive by a reference.
pub(crate) static OBJECTS: Gauge = Gauge::new();
/// Fault groups queued on a fault queue, not read yet.
pub(crate) static GROUPS_QUEUED: Gauge = Gauge::new();
/// Fault groups read by user space and awaiting its response.
pub(crate) static GROUPS_DELIVERED: Gauge = Gauge::new();
/// Fault groups the handler took from the IOMMU core and has not answered
/// yet: queued, delivered, or in between (being copied out).
pub(crate) static GROUPS_OWNED: Gauge = Gauge::new();

/// User pages pinned for DMA (`FOLL_LONGTERM` pins held by IO page
/// tables), counted once per pin.
pub(crate) static PAGES_PINNED: Gauge = Gauge::new();

/// The debugfs directory; removed when dropped.
pub(crate) type Debugfs = Scope<()>;

/// Creates `rust_iommufd/` in debugfs with one read-only file per counter.
/// Without debugfs this is empty and the module works the same.
pub(crate) fn debugfs() -> impl PinInit<Debugfs> {
    Scope::dir((), c"rust_iommufd", |(), dir| {
        dir.read_only_file(c"objects", &OBJECTS);
        dir.read_only_file(c"groups_queued", &GROUPS_QUEUED);
        dir.read_only_file(c"groups_delivered", &GROUPS_DELIVERED);
        dir.read_only_file(c"groups_owned", &GROUPS_OWNED);
        dir.read_only_file(c"pages_pinned", &PAGES_PINNED);
    })
}
