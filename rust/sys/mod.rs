// SPDX-License-Identifier: GPL-2.0

//! The one thin layer of raw FFI: what the 7.3 kernel crate has no
//! abstraction for. Everything here is small, `unsafe` inside, and safe to
//! call.

use kernel::{
    bindings,
    prelude::*,
    str::{CStr, CString},
};

pub(crate) mod account;
pub(crate) mod anon_file;
pub(crate) mod attach;
pub(crate) mod dirty;
pub(crate) mod fault_inject;
pub(crate) mod iommu;
pub(crate) mod iopf;
pub(crate) mod layout;
pub(crate) mod maple;
pub(crate) mod mm;
pub(crate) mod pages;
pub(crate) mod pt;
pub(crate) mod viommu;
pub(crate) mod vma;

/// Whether the calling task has capability `cap` (`capable()`, which
/// also marks the task as having used it).
pub(crate) fn capable(cap: u32) -> bool {
    // SAFETY: a plain query of the current task's credentials.
    unsafe { bindings::capable(cap as c_int) }
}

/// This module, for C tables whose `owner` pins it while they are in use
/// (the IOMMU core probing mock devices, open files): the `THIS_MODULE`
/// that `module!` records for the crate's module type.
pub(crate) const fn this_module() -> *mut bindings::module {
    kernel::module::this_module::<crate::LocalModule>().as_ptr()
}

extern "C" {
    /// Defined in helpers.c: the `devname` module parameter's buffer.
    fn rust_iommufd_devname() -> *const c_char;

    /// Defined in helpers.c: the `fault_queue_depth` module parameter,
    /// read once (`READ_ONCE()`).
    fn rust_iommufd_fault_queue_depth() -> c_uint;

    /// Defined in helpers.c: the `mock_idle_devices` module parameter,
    /// read once (`READ_ONCE()`).
    fn rust_iommufd_mock_idle_devices() -> c_uint;

    /// fs/namei.c; not in `kernel::bindings` (linux/namei.h is not bound).
    /// `path` is a `struct path *`, passed untyped: `improper_ctypes` walks
    /// into the structures behind it and trips on zero-sized debug fields.
    fn kern_path(name: *const c_char, flags: c_uint, path: *mut c_void) -> c_int;
}

/// The misc device name chosen with the `devname` module parameter.
pub(crate) fn devname() -> &'static CStr {
    // The module loader fills the buffer before init runs; its 0444
    // permission means nothing writes it afterwards.
    //
    // SAFETY: a NUL-terminated static buffer (module_param_string always
    // terminates it), unchanging for the module's life: 'static is sound.
    unsafe { CStr::from_char_ptr(rust_iommufd_devname()) }
}

/// The `fault_queue_depth` module parameter now: how many groups a new
/// fault queue may hold unanswered (0: no limit). Writable through sysfs,
/// so two calls may differ.
pub(crate) fn fault_queue_depth() -> u32 {
    // SAFETY: no preconditions; the helper reads the parameter with
    // READ_ONCE(), so a concurrent sysfs write is no data race.
    unsafe { rust_iommufd_fault_queue_depth() }
}

/// The `mock_idle_devices` module parameter now: how many unbound mock
/// devices to keep for reuse (0: none). Writable through sysfs.
pub(crate) fn mock_idle_devices() -> u32 {
    // SAFETY: as in `fault_queue_depth`.
    unsafe { rust_iommufd_mock_idle_devices() }
}

/// Whether a misc device of this name already exists.
///
/// `misc_register()` of a taken name fails only after sysfs has printed a
/// "duplicate filename" warning with a stack dump, so look first. This is
/// advisory (a racing registration still gets the sysfs warning), which is
/// enough to turn the common mistake into a clean error.
pub(crate) fn misc_name_taken(name: &CStr) -> Result<bool> {
    let path = CString::try_from_fmt(fmt!("/sys/class/misc/{}", name))?;

    let mut found = bindings::path {
        mnt: core::ptr::null_mut(),
        dentry: core::ptr::null_mut(),
    };
    // SAFETY: `path` is NUL-terminated and outlives the call; `found` is a
    // valid place for kern_path to store its result.
    let ret = unsafe { kern_path(path.as_char_ptr(), 0, (&raw mut found).cast()) };
    if ret == 0 {
        // SAFETY: kern_path succeeded, so `found` holds references we own.
        unsafe { bindings::path_put(&found) };
    }
    Ok(ret == 0)
}
