// SPDX-License-Identifier: GPL-2.0

//! The event queue the fault queue and the vEVENTQ share, as upstream's
//! `iommufd_eventq`: the list of events waiting to be read, behind the lock
//! the reporting side takes; the wait queue `poll()` sleeps on; and the file
//! descriptor user space reads.
//!
//! Each kind of queue is an object ([`Eventq`]) that owns one
//! [`EventQueue`] and says how its fd reads, writes and shows itself in
//! `fdinfo`. The fd is the same for every kind ([`Fd`]): it holds the object
//! as a user, so `IOMMU_DESTROY` of it is `EBUSY` while the fd is open, and
//! the iommufd file it was made on, so the context and its objects outlive
//! it, as upstream's `iommufd_ctx_get()`. When its last reference goes it
//! tells the object ([`Eventq::release`]).
//!
//! Poll is common: readable (`EPOLLIN | EPOLLRDNORM`) while the deliver list
//! holds something, writable (`EPOLLOUT`) always for a kind that takes
//! writes (the fault queue), never for one that does not (the vEVENTQ).

use kernel::{
    bindings,
    fs::{
        file::{flags, FileDescriptorReservation},
        File,
    },
    prelude::*,
    seq_file::SeqFile,
    sync::{
        aref::ARef,
        lock::mutex::MutexGuard,
        poll::{PollCondVarBox, PollTable},
        LockClassKey, Mutex,
    },
    uaccess::UserPtr,
};

use crate::{
    object::{Object, ObjectRef},
    sys::anon_file::{self, AnonFile},
};

/// What an event queue delivers from: its kind's list of events not read
/// yet.
pub(crate) trait DeliverList: Send {
    /// Whether nothing waits to be read (the fd is then not readable).
    fn is_empty(&self) -> bool;
}

/// The deliver list and the pollers' wait queue.
///
/// The list's lock is the one the reporting side (an iopf handler, a
/// vIOMMU's report) takes to queue: nothing holds it across a copy to or
/// from user space, and nothing allocates under it.
#[pin_data]
pub(crate) struct EventQueue<L> {
    #[pin]
    deliver: Mutex<L>,
    /// Wakes pollers when something is queued. Boxed, as binder's: dropping
    /// it frees it after an RCU grace period instead of waiting for one
    /// (`synchronize_rcu()`) on every destroy.
    readable: PollCondVarBox,
}

impl<L: DeliverList> EventQueue<L> {
    /// A queue delivering from `list`; `name` and `key` are its lock's, for
    /// lockdep (each kind has its own class).
    pub(crate) fn new(
        list: L,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> Result<impl PinInit<Self, Error>> {
        let readable = PollCondVarBox::new(
            c"rust_iommufd eventq readable",
            kernel::static_lock_class!(),
        )?;
        Ok(try_pin_init!(Self {
            deliver <- Mutex::new(list, name, key),
            readable,
        }? Error))
    }

    /// Locks the deliver list.
    pub(crate) fn lock(&self) -> MutexGuard<'_, L> {
        self.deliver.lock()
    }

    /// Wakes pollers: something was queued.
    pub(crate) fn wake(&self) {
        self.readable.notify_all();
    }

    /// `poll()`: registers on the wait queue, then reports what is ready.
    fn poll(&self, file: &File, table: PollTable<'_>, writable: bool) -> u32 {
        table.register_wait(file, &self.readable);
        let mut events = if writable { bindings::POLLOUT } else { 0 };
        if !self.deliver.lock().is_empty() {
            events |= bindings::POLLIN | bindings::POLLRDNORM;
        }
        events
    }
}

/// An object kind that owns an [`EventQueue`] and is read through an fd.
pub(crate) trait Eventq: Object + Sized {
    /// The fd's name (`anon_inode:<NAME>` in `/proc/<pid>/fd`).
    const NAME: &'static CStr;
    /// Whether the fd takes writes (and is always `EPOLLOUT`); a `write()`
    /// to one that does not fails with `EINVAL`, from the VFS.
    const WRITABLE: bool;
    /// Whether [`Self::show_fdinfo`] adds lines to the fd's `fdinfo`.
    const HAS_FDINFO: bool = false;
    /// What the queue delivers from.
    type List: DeliverList;

    /// The queue.
    fn eventq(&self) -> &EventQueue<Self::List>;
    /// `read()` of `len` bytes into `buf` at file position `pos`.
    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize>;
    /// `write()` of `len` bytes from `buf` at file position `pos`; called
    /// only if [`Self::WRITABLE`].
    fn write(&self, _buf: UserPtr, _len: usize, _pos: i64) -> Result<usize> {
        Err(EINVAL)
    }
    /// The kind's lines of `/proc/<pid>/fdinfo/<fd>`; called only if
    /// [`Self::HAS_FDINFO`].
    fn show_fdinfo(&self, _m: &SeqFile) {}
    /// The fd's last reference went: nobody reads the queue any more.
    fn release(&self) {}
}

/// What the fd owns: a user of the object, and the iommufd file it was
/// made on, which stays open (with all its objects) while this does.
struct EventqFile<E: Eventq> {
    object: ObjectRef<E>,
    _ctx_file: ARef<File>,
}

impl<E: Eventq> Drop for EventqFile<E> {
    fn drop(&mut self) {
        self.object.release();
    }
}

impl<E: Eventq> AnonFile for EventqFile<E> {
    const WRITABLE: bool = E::WRITABLE;
    const HAS_FDINFO: bool = E::HAS_FDINFO;

    fn read(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        self.object.read(buf, len, pos)
    }

    fn write(&self, buf: UserPtr, len: usize, pos: i64) -> Result<usize> {
        self.object.write(buf, len, pos)
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        self.object.eventq().poll(file, table, E::WRITABLE)
    }

    fn show_fdinfo(&self, m: &SeqFile) {
        self.object.show_fdinfo(m);
    }
}

/// A new queue's fd: the file and the descriptor number reserved for it,
/// installed by [`Fd::install`] once the ioctl cannot fail any more.
/// Dropped instead, it gives the number back and then releases the file.
pub(crate) struct Fd {
    // Declared first: the number goes back before the file is released.
    number: FileDescriptorReservation,
    file: ARef<File>,
}

impl Fd {
    /// The fd of `object` (a user of it), made on the iommufd file
    /// `ctx_file`; close-on-exec, as upstream's.
    pub(crate) fn new<E: Eventq>(object: ObjectRef<E>, ctx_file: &File) -> Result<Self> {
        let data = KBox::new(
            EventqFile {
                object,
                _ctx_file: ctx_file.into(),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let file = anon_file::create(E::NAME, data)?;
        let number = FileDescriptorReservation::get_unused_fd_flags(flags::O_CLOEXEC)?;
        Ok(Self { number, file })
    }

    /// The descriptor number the fd will have.
    pub(crate) fn number(&self) -> u32 {
        self.number.reserved_fd()
    }

    /// Installs the fd: from now on user space owns it.
    pub(crate) fn install(self) {
        self.number.fd_install(self.file);
    }
}
