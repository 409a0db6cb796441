// SPDX-License-Identifier: GPL-2.0

//! The object table of one open /dev/iommu: ids, typed lookup, dependency
//! counts and destroy.
//!
//! Lifetimes (see Documentation/design.rst):
//! - An object is created in two steps. [`ObjectTable::reserve`] takes an id
//!   (lowest free, from 1) that lookups cannot see yet; the ioctl then builds
//!   the object, copies its id out to user space, and only then
//!   [`Reservation::finalize`]s it. Dropping a reservation gives the id back,
//!   so a failed ioctl leaves no trace.
//! - Objects are reference counted ([`Arc`]); the table holds one reference.
//! - Every lookup returns an [`ObjectRef`], which counts as a *user* of the
//!   object for as long as it lives: an ioctl holds one for its duration, an
//!   object that depends on another holds one for its own lifetime. As
//!   upstream, `IOMMU_DESTROY` of an object with users fails with `EBUSY`.
//!   Users are counted under the table lock, so a destroy and a new user
//!   cannot race past each other.
//! - Destroy unlinks the object and drops the table's reference; since it had
//!   no users, that is normally the last one and the object is torn down.

use core::ops::Deref;
use kernel::{
    id_pool::IdPool,
    prelude::*,
    rbtree::RBTree,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::{
    context::Context,
    counters,
    device::Device,
    fault::Fault,
    hwpt::{HwptNested, HwptPaging},
    ioas::Ioas,
    selftest::Selftest,
    uapi::{iommu_destroy, IOMMUFD_CMD_DESTROY},
    ucmd::{offset_end, Command, Ucmd},
    vdevice::Vdevice,
    viommu::Viommu,
};

/// Object ids are positive 31-bit numbers, as upstream's `xa_limit_31b`;
/// running out is `EBUSY`, as `xa_alloc` reports it.
const MAX_ID: usize = i32::MAX as usize;

/// Declares the object kinds: the [`Object`] enum the table stores, the
/// [`AnyRef`] enum a kind-agnostic lookup returns, and each kind's
/// [`ObjectKind`] impl. Every kind has a `header: ObjectHeader` field.
macro_rules! object_kinds {
    ($($(#[$doc:meta])* $variant:ident($kind:ty),)*) => {
        /// Every kind of object user space can name by id.
        pub(crate) enum Object {
            $($(#[$doc])* $variant(Arc<$kind>),)*
        }

        /// A counted reference to an object of any kind.
        #[expect(dead_code, reason = "every kind is held as a user; not all are read")]
        pub(crate) enum AnyRef {
            $($(#[$doc])* $variant(ObjectRef<$kind>),)*
        }

        impl Object {
            fn header(&self) -> &ObjectHeader {
                match self {
                    $(Object::$variant(o) => &o.header,)*
                }
            }

            /// Counts a new user of this object, as `id`.
            fn any_ref(&self, id: u32) -> AnyRef {
                match self {
                    $(Object::$variant(o) => AnyRef::$variant(ObjectRef::new(o.clone(), id)),)*
                }
            }

            /// Whether this is the object with this serial.
            fn is(&self, serial: Serial) -> bool {
                self.header().serial == serial
            }
        }

        $(
            impl ObjectKind for $kind {
                fn from_object(object: &Object) -> Option<&Arc<Self>> {
                    match object {
                        Object::$variant(o) => Some(o),
                        #[allow(unreachable_patterns, reason = "reachable unless there is one kind")]
                        _ => None,
                    }
                }

                fn header(&self) -> &ObjectHeader {
                    &self.header
                }
            }
        )*
    };
}

object_kinds! {
    /// An I/O address space.
    Ioas(Ioas),
    /// A bound device.
    Device(Device),
    /// A paging HWPT (an IOMMU page table on an IOAS).
    HwptPaging(HwptPaging),
    /// A nested HWPT (a user-managed stage 1 on a paging parent).
    HwptNested(HwptNested),
    /// A selftest mock device and its binding.
    Selftest(Selftest),
    /// A vIOMMU.
    Viommu(Viommu),
    /// A fault queue.
    Fault(Fault),
    /// A virtual device on a vIOMMU.
    Vdevice(Vdevice),
}

impl Object {
    /// Tears down what the object owns that lives in the context (objects
    /// it created in the table, attachments), before the object is dropped.
    fn destroy(&self, ctx: &Context) {
        match self {
            Object::Selftest(selftest) => selftest.teardown(ctx),
            Object::Vdevice(vdevice) => vdevice.destroy(),
            _ => {}
        }
    }
}

/// An object's identity for as long as the module is loaded: unlike its
/// id (freed on destroy and handed out again) or its address (reused once
/// it is freed), a serial is never reused, so something that names an
/// object it does not hold (a device's link to its vDEVICE) cannot be
/// taken for a later object.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Serial(u64);

/// The next [`Serial`]. At one object per nanosecond it wraps after 584
/// years.
static NEXT_SERIAL: Atomic<u64> = Atomic::new(1);

/// State every object kind embeds. Each one in memory is counted in
/// [`counters::OBJECTS`].
pub(crate) struct ObjectHeader {
    /// How many [`ObjectRef`]s point here. Changed only under the table
    /// lock, or by cloning or dropping an `ObjectRef` (which cannot move it
    /// to or from zero while a destroy looks).
    users: Atomic<u32>,
    /// The object's identity, never shared with another object.
    serial: Serial,
}

impl Default for ObjectHeader {
    fn default() -> Self {
        counters::OBJECTS.inc();
        Self {
            users: Atomic::new(0),
            serial: Serial(NEXT_SERIAL.fetch_add(1, Relaxed)),
        }
    }
}

impl ObjectHeader {
    /// The object's serial.
    pub(crate) fn serial(&self) -> Serial {
        self.serial
    }
}

impl Drop for ObjectHeader {
    fn drop(&mut self) {
        counters::OBJECTS.dec();
    }
}

/// An object kind that can be looked up by id with its own type.
pub(crate) trait ObjectKind: Sized + Send + Sync {
    /// The kind's object, or `None` if `object` is of another kind.
    fn from_object(object: &Object) -> Option<&Arc<Self>>;
    /// The embedded header.
    fn header(&self) -> &ObjectHeader;
}

/// A slot is `None` while its id is reserved but not finalized.
type Slot = Option<Object>;

/// The table itself; lives under the context's mutex.
pub(crate) struct ObjectTable {
    ids: IdPool,
    slots: RBTree<u32, Slot>,
}

impl ObjectTable {
    /// An empty table.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            ids: IdPool::with_capacity(64, GFP_KERNEL_ACCOUNT)?,
            slots: RBTree::new(),
        })
    }

    /// Takes the lowest free id and an invisible slot for it. The search
    /// starts at 1: id 0 is never handed out.
    pub(crate) fn reserve(&mut self) -> Result<u32> {
        let id = loop {
            if let Some(unused) = self.ids.find_unused_id(1) {
                if unused.as_usize() > MAX_ID {
                    return Err(EBUSY);
                }
                break unused.acquire();
            }
            // We sleep under a mutex, so grow in place.
            let resizer = self
                .ids
                .grow_request()
                .ok_or(EBUSY)?
                .realloc(GFP_KERNEL_ACCOUNT)?;
            self.ids.grow(resizer);
        };
        // `id <= MAX_ID` was checked above.
        let id = id as u32;
        if let Err(e) = self
            .slots
            .try_create_and_insert(id, None, GFP_KERNEL_ACCOUNT)
        {
            self.ids.release_id(id as usize);
            return Err(e);
        }
        Ok(id)
    }

    /// Makes a reserved id visible with its object. A reservation always
    /// has a slot; should it have none, the object comes back for the
    /// caller to drop after releasing the lock.
    fn finalize(&mut self, id: u32, object: Object) -> Result<(), Object> {
        match self.slots.get_mut(&id) {
            Some(slot) => {
                *slot = Some(object);
                Ok(())
            }
            None => Err(object),
        }
    }

    /// Gives back a reserved id.
    fn abort(&mut self, id: u32) {
        if self.slots.remove(&id).is_some() {
            self.ids.release_id(id as usize);
        }
    }

    /// The object of kind `K` with this id, counted as a user until the
    /// returned reference is dropped. `ENOENT` if there is none or it is of
    /// another kind, as upstream.
    pub(crate) fn get<K: ObjectKind>(&self, id: u32) -> Result<ObjectRef<K>> {
        match self.slots.get(&id) {
            Some(Some(object)) => {
                let object = K::from_object(object).ok_or(ENOENT)?;
                Ok(ObjectRef::new(object.clone(), id))
            }
            _ => Err(ENOENT),
        }
    }

    /// The object with this id, whatever its kind, counted as a user.
    pub(crate) fn get_any(&self, id: u32) -> Result<AnyRef> {
        match self.slots.get(&id) {
            Some(Some(object)) => Ok(object.any_ref(id)),
            _ => Err(ENOENT),
        }
    }

    /// Unlinks the object with this id: `ENOENT` if there is none (or it is
    /// not finalized yet), `EBUSY` while it has users. The caller drops the
    /// returned object after releasing the table lock.
    pub(crate) fn remove(&mut self, id: u32) -> Result<Object> {
        match self.slots.get(&id) {
            Some(Some(object)) if object.header().users.load(Relaxed) != 0 => return Err(EBUSY),
            Some(Some(_)) => {}
            _ => return Err(ENOENT),
        }
        let object = self.slots.remove(&id).flatten().ok_or(ENOENT)?;
        self.ids.release_id(id as usize);
        Ok(object)
    }

    /// Unlinks the object with this id if it is still `object` and has no
    /// users: how an object that only exists while used (an automatic HWPT)
    /// goes away after its last user.
    pub(crate) fn remove_unused<K: ObjectKind>(
        &mut self,
        id: u32,
        object: &Arc<K>,
    ) -> Option<Object> {
        match self.slots.get(&id) {
            Some(Some(o)) if o.is(object.header().serial) => {}
            _ => return None,
        }
        self.remove(id).ok()
    }

    /// Unlinks the object with this id if it is still `object`, whatever
    /// its users: for objects owned by another one (a selftest device's
    /// binding), which go with their owner. Lookups in flight keep the
    /// object alive; it refuses further use by its own state.
    pub(crate) fn unlink<K: ObjectKind>(&mut self, id: u32, object: &Arc<K>) -> Option<Object> {
        self.unlink_serial(id, object.header().serial)
    }

    /// [`Self::unlink`] of the object with serial `serial`: for owners
    /// that keep only the id and serial of what they own.
    pub(crate) fn unlink_serial(&mut self, id: u32, serial: Serial) -> Option<Object> {
        match self.slots.get(&id) {
            Some(Some(o)) if o.is(serial) => {}
            _ => return None,
        }
        let removed = self.slots.remove(&id).flatten();
        self.ids.release_id(id as usize);
        removed
    }

    /// Unlinks every object, for teardown. Reservations in flight cannot
    /// exist then (they borrow the context).
    pub(crate) fn take_all(&mut self) -> RBTree<u32, Slot> {
        for id in self.slots.keys() {
            self.ids.release_id(*id as usize);
        }
        core::mem::replace(&mut self.slots, RBTree::new())
    }
}

/// A counted reference to an object: it is in use while this lives.
pub(crate) struct ObjectRef<K: ObjectKind> {
    object: Arc<K>,
    id: u32,
}

impl<K: ObjectKind> ObjectRef<K> {
    /// Counts a user of `object`. Callers hold the table lock, or the
    /// object is not published yet, so no destroy can be looking.
    fn new(object: Arc<K>, id: u32) -> Self {
        object.header().users.fetch_add(1, Relaxed);
        Self { object, id }
    }

    /// The object's id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The object itself.
    pub(crate) fn arc(&self) -> &Arc<K> {
        &self.object
    }
}

impl<K: ObjectKind> Clone for ObjectRef<K> {
    /// Another user. No table lock needed: the count is already nonzero, so
    /// a destroy fails with `EBUSY` before and after.
    fn clone(&self) -> Self {
        Self::new(self.object.clone(), self.id)
    }
}

impl<K: ObjectKind> Deref for ObjectRef<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.object
    }
}

impl<K: ObjectKind> Drop for ObjectRef<K> {
    fn drop(&mut self) {
        // No table lock needed: a user going away can only turn an EBUSY
        // destroy into a successful one, never the reverse.
        self.object.header().users.fetch_sub(1, Relaxed);
    }
}

/// An id reserved by [`ObjectTable::reserve`], given back unless finalized.
pub(crate) struct Reservation<'a> {
    table: &'a kernel::sync::Mutex<ObjectTable>,
    id: u32,
}

impl<'a> Reservation<'a> {
    /// Reserves an id in `table`.
    pub(crate) fn new(table: &'a kernel::sync::Mutex<ObjectTable>) -> Result<Self> {
        let id = table.lock().reserve()?;
        Ok(Self { table, id })
    }

    /// The reserved id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Publishes the object under the reserved id.
    pub(crate) fn finalize(self, object: Object) {
        let id = self.id;
        let unpublished = self.table.lock().finalize(id, object);
        core::mem::forget(self);
        if let Err(object) = unpublished {
            pr_warn!("finalize of unreserved object id {}\n", id);
            // Dropped here, after the table lock is released.
            drop(object);
        }
    }

    /// A user of an object that will be published under this id: for
    /// objects that are in use from birth (an automatic HWPT attached while
    /// it is created). Safe to count early: the id is not visible yet.
    pub(crate) fn user_of<K: ObjectKind>(&self, object: &Arc<K>) -> ObjectRef<K> {
        ObjectRef::new(object.clone(), self.id)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.table.lock().abort(self.id);
    }
}

impl Command for iommu_destroy {
    const NR: u32 = IOMMUFD_CMD_DESTROY;
    const MIN_SIZE: usize = offset_end!(iommu_destroy, id);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let object = ucmd.ctx.objects.lock().remove(ucmd.cmd.id)?;
        // Torn down here, after the table lock is released.
        object.destroy(ucmd.ctx);
        drop(object);
        Ok(())
    }
}

#[kunit_tests(rust_iommufd_object)]
mod tests {
    use super::*;

    fn new_ioas() -> Result<Object> {
        Ok(Object::Ioas(Ioas::new()?))
    }

    /// Reserves and finalizes an IOAS, returning its id.
    fn add_ioas(table: &mut ObjectTable) -> Result<u32> {
        let id = table.reserve()?;
        table.finalize(id, new_ioas()?).map_err(|_| EINVAL)?;
        Ok(id)
    }

    #[test]
    fn ids_are_lowest_free_from_one() -> Result {
        let mut table = ObjectTable::new()?;
        assert_eq!(add_ioas(&mut table)?, 1);
        assert_eq!(add_ioas(&mut table)?, 2);
        assert_eq!(add_ioas(&mut table)?, 3);
        drop(table.remove(2)?);
        assert_eq!(add_ioas(&mut table)?, 2);
        assert_eq!(add_ioas(&mut table)?, 4);
        Ok(())
    }

    #[test]
    fn ids_grow_past_the_first_pool() -> Result {
        let mut table = ObjectTable::new()?;
        for want in 1..=200 {
            assert_eq!(add_ioas(&mut table)?, want);
        }
        Ok(())
    }

    #[test]
    fn reserved_ids_are_invisible_until_finalized() -> Result {
        let mut table = ObjectTable::new()?;
        let id = table.reserve()?;
        assert!(table.get::<Ioas>(id).is_err());
        assert_eq!(table.remove(id).err(), Some(ENOENT));
        assert!(table.finalize(id, new_ioas()?).is_ok());
        assert!(table.get::<Ioas>(id).is_ok());
        Ok(())
    }

    #[test]
    fn aborted_reservations_give_their_id_back() -> Result {
        let mut table = ObjectTable::new()?;
        let id = table.reserve()?;
        table.abort(id);
        assert_eq!(table.reserve()?, id);
        Ok(())
    }

    #[test]
    fn unknown_ids_are_enoent() -> Result {
        let mut table = ObjectTable::new()?;
        assert_eq!(table.remove(0).err(), Some(ENOENT));
        assert_eq!(table.remove(7).err(), Some(ENOENT));
        assert_eq!(table.get::<Ioas>(7).err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn objects_with_users_cannot_be_removed() -> Result {
        let mut table = ObjectTable::new()?;
        let id = add_ioas(&mut table)?;
        let user = table.get::<Ioas>(id)?;
        let second = table.get::<Ioas>(id)?;
        assert_eq!(table.remove(id).err(), Some(EBUSY));
        drop(user);
        assert_eq!(table.remove(id).err(), Some(EBUSY));
        drop(second);
        assert!(table.remove(id).is_ok());
        assert_eq!(table.remove(id).err(), Some(ENOENT));
        Ok(())
    }

    /// A later object under the same id (and, the allocator willing, at
    /// the same address) is not the one an old serial names.
    #[test]
    fn unlink_by_serial_ignores_a_later_object_under_the_same_id() -> Result {
        let mut table = ObjectTable::new()?;
        let id = add_ioas(&mut table)?;
        let old = table.get::<Ioas>(id)?.header().serial();
        drop(table.remove(id)?);
        assert_eq!(add_ioas(&mut table)?, id);
        assert!(table.unlink_serial(id, old).is_none());
        assert!(table.get::<Ioas>(id).is_ok());
        let new = table.get::<Ioas>(id)?.header().serial();
        assert!(table.unlink_serial(id, new).is_some());
        Ok(())
    }

    #[test]
    fn take_all_empties_the_table() -> Result {
        let mut table = ObjectTable::new()?;
        add_ioas(&mut table)?;
        add_ioas(&mut table)?;
        let _reserved = table.reserve()?;
        drop(table.take_all());
        assert_eq!(table.get::<Ioas>(1).err(), Some(ENOENT));
        assert_eq!(add_ioas(&mut table)?, 1);
        Ok(())
    }
}
