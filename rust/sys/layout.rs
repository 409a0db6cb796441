// SPDX-License-Identifier: GPL-2.0

//! A check, at load, that `kernel::bindings` sees the C structures the
//! kernel crate reads field by field as the C compiler lays them out.
//!
//! bindgen can disagree with C. The case that bit us: with
//! `CONFIG_SCHEDSTATS` off, `struct sched_statistics` is empty but
//! `____cacheline_aligned`, bindgen drops the alignment of an empty struct,
//! and every `task_struct` field from `stats` on sits 48 bytes early in
//! Rust. `CurrentTask::mm()` then returns a word of the task's scheduler
//! lists as an `mm_struct *`, and reference counting it writes into the
//! task. Nothing would show it until memory was corrupted, so the module
//! refuses to load instead.

use core::mem::{offset_of, size_of};
use kernel::{bindings, prelude::*};

extern "C" {
    /// helpers.c: `sizeof(struct task_struct)`.
    fn rust_iommufd_task_struct_size() -> usize;
    /// helpers.c: `offsetof(struct task_struct, mm)`.
    fn rust_iommufd_task_struct_mm_offset() -> usize;
    /// helpers.c: `offsetof(struct task_struct, pid)`.
    fn rust_iommufd_task_struct_pid_offset() -> usize;
    /// helpers.c: `offsetof(struct task_struct, group_leader)`.
    fn rust_iommufd_task_struct_group_leader_offset() -> usize;
}

/// `EINVAL`, with a line in the log naming what differs, when Rust's and
/// C's `struct task_struct` disagree in size or in where `mm`, `pid` and
/// `group_leader` are (what the module reads through the kernel crate's
/// `Task`).
pub(crate) fn check() -> Result {
    // SAFETY: the four return constants.
    let c = unsafe {
        [
            rust_iommufd_task_struct_size(),
            rust_iommufd_task_struct_mm_offset(),
            rust_iommufd_task_struct_pid_offset(),
            rust_iommufd_task_struct_group_leader_offset(),
        ]
    };
    let rust = [
        size_of::<bindings::task_struct>(),
        offset_of!(bindings::task_struct, mm),
        offset_of!(bindings::task_struct, pid),
        offset_of!(bindings::task_struct, group_leader),
    ];
    if c == rust {
        return Ok(());
    }
    pr_err!(
        "kernel::bindings disagrees with C on struct task_struct (size, mm, pid, group_leader: C {:?}, Rust {:?}); this kernel's Rust bindings are unusable (CONFIG_SCHEDSTATS=n?)\n",
        c,
        rust
    );
    Err(EINVAL)
}
