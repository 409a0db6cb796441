// SPDX-License-Identifier: GPL-2.0

//! Access objects: in-kernel users of an IOAS's memory that reach it with
//! the CPU rather than by DMA (upstream's `iommufd_access`, what emulated
//! devices such as mdev drivers use). User space cannot create one with
//! an ioctl of its own; the selftest's `IOMMU_TEST_OP_CREATE_ACCESS` does,
//! for a file that owns it ([`crate::selftest`]).
//!
//! An access is attached to one IOAS at a time and holds it as a user (so
//! `IOMMU_DESTROY` of that IOAS is `EBUSY`). Through it memory can be
//! pinned ([`Access::pin_pages`], for accesses made to pin pages) or
//! copied ([`Access::rw`]). Unmapping an area an access pins calls the
//! access's [`AccessOps::unmap`], which must drop those pins before it
//! returns (see `IoPageTable::unmap`).
//!
//! An *internal* access ([`Access::new_internal`]) is the module's own,
//! with no id and no owner to ask: its pins lock the areas they are on,
//! so unmapping them is `EBUSY` until it lets go (a hardware queue's
//! memory, [`crate::hw_queue`]).
//!
//! Locks: [`Access::state`] comes before the IOAS's `iopt` lock; neither is
//! held while [`AccessOps::unmap`] runs, which takes the owner's own locks
//! and then [`Access::unpin_pages`].

use kernel::{
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    ioas::{AccessEntry, AccessNotify, Ioas},
    object::{Object, ObjectHeader, ObjectRef},
};

/// What the owner of an access does when its IOAS unmaps memory.
pub(crate) trait AccessOps: Send + Sync {
    /// `[iova, iova + length - 1]` goes: drop every pin of `access` that
    /// overlaps it (with [`Access::unpin_pages`]) before returning.
    fn unmap(&self, access: &Access, iova: u64, length: u64);
}

/// The owner of an internal access: no unmap reaches one with pins (they
/// lock their areas), and it has none when it changes IOAS.
struct NoOwner;

impl AccessOps for NoOwner {
    fn unmap(&self, _access: &Access, _iova: u64, _length: u64) {}
}

/// Which IOAS an access uses.
struct Attachment {
    /// Where pins and copies go; `None` while detached or while changing
    /// (so no new pin starts on the IOAS being left).
    ioas: Option<ObjectRef<Ioas>>,
    /// Where unpins go: the IOAS being left, until its pins are dropped.
    unpin: Option<ObjectRef<Ioas>>,
}

/// How [`Access::change_ioas`] was asked.
#[derive(PartialEq, Eq)]
enum Change {
    /// A first IOAS: `EINVAL` if attached.
    Attach,
    /// Another IOAS: `ENOENT` if not attached.
    Replace,
    /// No IOAS.
    Detach,
}

/// An access object.
#[pin_data]
pub(crate) struct Access {
    /// The object table's state.
    pub(crate) header: ObjectHeader,
    /// Made to pin pages: IOVAs must be page aligned for it.
    pins_pages: bool,
    /// The module's own: its pins lock their areas against unmap.
    internal: bool,
    /// The owner's callbacks.
    ops: Arc<dyn AccessOps>,
    /// The IOAS. Lock order: before the IOAS's `iopt`; never held across
    /// [`AccessOps::unmap`].
    #[pin]
    state: Mutex<Attachment>,
}

impl Object for Access {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl AccessNotify for Access {
    fn unmap(&self, iova: u64, length: u64) {
        self.ops.unmap(self, iova, length);
    }
}

/// Whether two attachments name the same IOAS (or none).
fn same(a: &Option<ObjectRef<Ioas>>, b: &Option<ObjectRef<Ioas>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => core::ptr::eq::<Ioas>(&**a, &**b),
        _ => false,
    }
}

impl Access {
    /// A detached access, pinning pages if `pins_pages`, whose unmaps go
    /// to `ops`.
    pub(crate) fn new(pins_pages: bool, ops: Arc<dyn AccessOps>) -> Result<Arc<Self>> {
        Self::with(pins_pages, false, ops)
    }

    /// A detached internal access, pinning pages: nothing to tell when
    /// its IOAS unmaps, since its pins keep their areas mapped.
    pub(crate) fn new_internal() -> Result<Arc<Self>> {
        Self::with(true, true, Arc::new(NoOwner, GFP_KERNEL_ACCOUNT)?)
    }

    fn with(pins_pages: bool, internal: bool, ops: Arc<dyn AccessOps>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::default(),
                pins_pages,
                internal,
                ops,
                state <- new_mutex!(Attachment {
                    ioas: None,
                    unpin: None,
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Whether the access was made to pin pages.
    pub(crate) fn pins_pages(&self) -> bool {
        self.pins_pages
    }

    /// Tells this access from others in an IOAS's list.
    fn key(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// The IOVA alignment the access needs (upstream's `iova_alignment`).
    fn alignment(&self) -> u64 {
        if self.pins_pages {
            PAGE_SIZE as u64
        } else {
            1
        }
    }

    /// Moves the access to `new` (`iommufd_access_change_ioas`): joins its
    /// list first (`EADDRINUSE` if an area is not aligned as the access
    /// needs; nothing changes then), then has the owner drop every pin on
    /// the old IOAS and leaves it. `EBUSY` while another change is under
    /// way.
    fn change_ioas(self: &Arc<Self>, new: Option<ObjectRef<Ioas>>, how: Change) -> Result {
        let mut state = self.state.lock();
        match how {
            Change::Attach if state.ioas.is_some() => return Err(EINVAL),
            Change::Replace if state.ioas.is_none() => return Err(ENOENT),
            _ => {}
        }
        if !same(&state.ioas, &state.unpin) {
            return Err(EBUSY);
        }
        if same(&state.ioas, &new) {
            return Ok(());
        }
        // No new pin on the old IOAS from here; unpins still reach it.
        let cur = state.ioas.take();
        if let Some(new) = &new {
            let notify: Arc<dyn AccessNotify> = self.clone();
            let entry = AccessEntry {
                key: self.key(),
                alignment: self.alignment(),
                notify,
            };
            let added = new.iopt.lock().add_access(entry);
            if let Err(e) = added {
                state.ioas = cur;
                return Err(e);
            }
        }
        if let Some(cur) = cur {
            drop(state);
            self.ops.unmap(self, 0, u64::MAX);
            state = self.state.lock();
            cur.iopt.lock().remove_access(self.key());
        }
        state.unpin = new.clone();
        state.ioas = new;
        Ok(())
    }

    /// Attaches the detached access to `ioas`.
    pub(crate) fn attach(self: &Arc<Self>, ioas: ObjectRef<Ioas>) -> Result {
        self.change_ioas(Some(ioas), Change::Attach)
    }

    /// Moves the attached access to `ioas` (`ENOENT` if it is detached).
    pub(crate) fn replace(self: &Arc<Self>, ioas: ObjectRef<Ioas>) -> Result {
        self.change_ioas(Some(ioas), Change::Replace)
    }

    /// Detaches the access, after its owner dropped every pin.
    pub(crate) fn detach(self: &Arc<Self>) {
        if self.change_ioas(None, Change::Detach).is_err() {
            pr_warn!("access detached while its IOAS was changing\n");
        }
    }

    /// Pins `length` bytes of memory from `iova` (for writing if `write`)
    /// and returns each page's physical address
    /// (`iommufd_access_pin_pages`). `EINVAL` for an access not made to
    /// pin pages or an empty range, `EOVERFLOW` past the IOVA space,
    /// `ENOENT` while detached; else as `IoPageTable::access_pin`.
    pub(crate) fn pin_pages(&self, iova: u64, length: u64, write: bool) -> Result<KVec<u64>> {
        if !self.pins_pages || length == 0 {
            return Err(EINVAL);
        }
        let last = iova.checked_add(length - 1).ok_or(EOVERFLOW)?;
        let state = self.state.lock();
        let ioas = state.ioas.as_ref().ok_or(ENOENT)?;
        let pinned = ioas
            .iopt
            .lock()
            .access_pin(iova, last, write, self.internal);
        pinned
    }

    /// Undoes a [`Self::pin_pages`] of the same range
    /// (`iommufd_access_unpin_pages`).
    pub(crate) fn unpin_pages(&self, iova: u64, length: u64) {
        let Some(last) = length.checked_sub(1).and_then(|len| iova.checked_add(len)) else {
            return;
        };
        let state = self.state.lock();
        if let Some(ioas) = &state.unpin {
            ioas.iopt.lock().access_unpin(iova, last, self.internal);
        }
    }

    /// Copies between `buf` and the memory from `iova` (to the memory if
    /// `write`; `iommufd_access_rw`): `EINVAL` for an empty buffer,
    /// `ENOENT` while detached; else as `IoPageTable::access_rw`. Unless
    /// `slow`, unpinned memory of the calling process is copied with
    /// `copy_{to,from}_user` after the locks are released (`EFAULT` if
    /// that fails), as upstream's fast path; `slow` takes the pinning path
    /// for it too.
    pub(crate) fn rw(&self, iova: u64, buf: &mut [u8], write: bool, slow: bool) -> Result {
        if buf.is_empty() {
            return Err(EINVAL);
        }
        let direct = {
            let state = self.state.lock();
            let ioas = state.ioas.as_ref().ok_or(ENOENT)?;
            let direct = ioas.iopt.lock().access_rw(iova, buf, write, !slow)?;
            direct
        };
        for d in direct {
            let part = buf.get_mut(d.offset..d.offset + d.len).ok_or(EINVAL)?;
            let user = UserSlice::new(UserPtr::from_addr(d.addr), d.len);
            if write {
                user.writer().write_slice(part)?;
            } else {
                user.reader().read_slice(part)?;
            }
        }
        Ok(())
    }

    /// Syzkaller's IOVA: the low 32 bits pick the nth area, the high 32
    /// are an offset into it; 0 if there is no such area or IOAS.
    pub(crate) fn syz_iova(&self, iova: u64) -> u64 {
        let (nth, offset) = (iova as u32, iova >> 32);
        let state = self.state.lock();
        let Some(ioas) = &state.ioas else {
            return 0;
        };
        let found = ioas.iopt.lock().nth_area_iova(nth);
        found.map_or(0, |start| start.wrapping_add(offset))
    }
}
