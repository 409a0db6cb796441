// SPDX-License-Identifier: GPL-2.0

//! Files without a path (`anon_inode_getfile()`), for the file descriptors
//! an ioctl hands out. The kernel crate has a file abstraction only for misc
//! devices; this is the same idea for anonymous files: a trait with the
//! operations, and a `file_operations` table built from it.

use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    seq_file::SeqFile,
    sync::{aref::ARef, poll::PollTable},
    uaccess::UserPtr,
};

use super::this_module;

#[expect(
    improper_ctypes,
    reason = "kernel structures behind pointers, declared as kernel::bindings declares them"
)]
extern "C" {
    /// fs/anon_inodes.c; linux/anon_inodes.h is not in `kernel::bindings`.
    fn anon_inode_getfile(
        name: *const c_char,
        fops: *const bindings::file_operations,
        private: *mut c_void,
        flags: c_int,
    ) -> *mut bindings::file;
}

/// The operations of an anonymous file. The file owns one `Self`, dropped
/// when the file is released (its last reference goes).
pub(crate) trait AnonFile: Sized + Send + Sync {
    /// Whether the file has a `write` operation. Without one the VFS fails
    /// every `write()` with `EINVAL` before calling anything.
    const WRITABLE: bool = true;
    /// Whether the file has a `show_fdinfo` operation.
    const HAS_FDINFO: bool = false;

    /// `read()` of `len` bytes into `buf` at file position `pos`.
    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize>;
    /// `write()` of `len` bytes from `buf` at file position `pos`; called
    /// only if [`Self::WRITABLE`].
    fn write(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize>;
    /// `poll()`: registers `table` on what wakes pollers, returns the
    /// `EPOLL*` events ready now.
    fn poll(&self, file: &File, table: PollTable<'_>) -> u32;
    /// Adds lines to `/proc/<pid>/fdinfo/<fd>`; called only if
    /// [`Self::HAS_FDINFO`].
    fn show_fdinfo(&self, _m: &SeqFile) {}
}

/// Creates an anonymous file named `name` (`O_RDWR`) that owns `data`.
pub(crate) fn create<T: AnonFile>(name: &'static CStr, data: KBox<T>) -> Result<ARef<File>> {
    create_with(name, data, Ops::<T>::TABLE)
}

/// [`create`] with the table `fops`, built by `Ops::<T>`.
fn create_with<T: AnonFile>(
    name: &'static CStr,
    data: KBox<T>,
    fops: &'static bindings::file_operations,
) -> Result<ARef<File>> {
    let data = KBox::into_raw(data);
    // SAFETY: `name` is NUL-terminated and static, the table is static
    // and built by `Ops::<T>` (callers pass only such tables), so on
    // success the file owns `data`, freed by its `release`.
    let file = unsafe {
        anon_inode_getfile(
            name.as_char_ptr(),
            fops,
            data.cast(),
            kernel::fs::file::flags::O_RDWR as c_int,
        )
    };
    match kernel::error::from_err_ptr(file) {
        // SAFETY: a new file, whose one reference we own.
        Ok(file) => Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast())) }),
        Err(e) => {
            // SAFETY: no file took `data`; it is ours again.
            drop(unsafe { KBox::from_raw(data) });
            Err(e)
        }
    }
}

/// The operations table of one kind of anonymous file, in a `static` of
/// its own: its address tells that kind's files from every other file,
/// as C compares `f_op` (a `const` table has no unique address).
pub(crate) struct FileOps<T>(bindings::file_operations, PhantomData<T>);

// SAFETY: a table of function pointers and the module pointer, never
// written after it is built.
unsafe impl<T> Sync for FileOps<T> {}

impl<T: AnonFile> FileOps<T> {
    /// The table of `T`'s operations.
    pub(crate) const fn new() -> Self {
        Self(Ops::<T>::FOPS, PhantomData)
    }

    /// Creates an anonymous file named `name` (`O_RDWR`) with these
    /// operations, which owns `data`.
    pub(crate) fn create(&'static self, name: &'static CStr, data: KBox<T>) -> Result<ARef<File>> {
        create_with(name, data, &self.0)
    }

    /// The `T` that `file` owns, if it is one of these files.
    pub(crate) fn data<'a>(&'static self, file: &'a LocalFile) -> Option<&'a T> {
        // SAFETY: `f_op` of a file we hold a reference to is set at open
        // and never changes.
        let fops = unsafe { (*file.as_ptr()).f_op };
        if !core::ptr::eq(fops, &self.0) {
            return None;
        }
        // SAFETY: a live file created by `create` for `T` (its table is
        // ours), held by the caller's reference for `'a`.
        Some(unsafe { Ops::<T>::data(file.as_ptr()) })
    }
}

struct Ops<T>(PhantomData<T>);

impl<T: AnonFile> Ops<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: this_module(),
        read: Some(Self::read),
        write: if T::WRITABLE { Some(Self::write) } else { None },
        poll: Some(Self::poll),
        release: Some(Self::release),
        show_fdinfo: if T::HAS_FDINFO {
            Some(Self::show_fdinfo)
        } else {
            None
        },
        ..pin_init::zeroed()
    };
    const TABLE: &'static bindings::file_operations = &Self::FOPS;

    /// The `T` a file of ours owns.
    ///
    /// # Safety
    ///
    /// `file` must be a live file created by [`create`] for `T`.
    unsafe fn data<'a>(file: *mut bindings::file) -> &'a T {
        // SAFETY: per the contract, `private_data` is the `T` the file owns
        // until release, which cannot run while an operation is in flight.
        unsafe { &*(*file).private_data.cast::<T>() }
    }

    /// Converts a result to what the VFS expects of read and write.
    fn to_ssize(result: Result<usize>) -> isize {
        match result {
            // Counts are bounded by the caller's `count`, itself at most
            // MAX_RW_COUNT, which fits.
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Only the VFS calls this, on files of ours.
    unsafe extern "C" fn read(
        file: *mut bindings::file,
        buf: *mut c_char,
        len: usize,
        pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: the VFS passes a live file of ours and a valid position.
        let (data, pos) = unsafe { (Self::data(file), *pos) };
        Self::to_ssize(data.read(UserPtr::from_ptr(buf.cast()), len, pos))
    }

    /// # Safety
    ///
    /// Only the VFS calls this, on files of ours.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        len: usize,
        pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: as in `read`.
        let (data, pos) = unsafe { (Self::data(file), *pos) };
        let buf = UserPtr::from_ptr(buf.cast_mut().cast());
        Self::to_ssize(data.write(buf, len, pos))
    }

    /// # Safety
    ///
    /// Only the VFS calls this, on files of ours.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: a live file of ours; `table` is NULL or valid for the
        // call.
        let (data, file_ref, table) = unsafe {
            (
                Self::data(file),
                File::from_raw_file(file),
                PollTable::from_raw(table),
            )
        };
        data.poll(file_ref, table)
    }

    /// # Safety
    ///
    /// Only the VFS calls this (procfs, for `/proc/<pid>/fdinfo/<fd>`), on
    /// files of ours, with a `seq_file` it owns for the call.
    unsafe extern "C" fn show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
        // SAFETY: a live file of ours (procfs holds a reference for the
        // call); the `seq_file` is valid and used by this thread alone
        // until we return.
        let (data, m) = unsafe { (Self::data(file), SeqFile::from_raw(m)) };
        data.show_fdinfo(m);
    }

    /// # Safety
    ///
    /// Only the VFS calls this, once, when the file's last reference goes.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: the file owned the `T` `create` gave it; nothing uses it
        // after release.
        drop(unsafe { KBox::from_raw((*file).private_data.cast::<T>()) });
        0
    }
}
