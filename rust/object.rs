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

use core::{
    any::{Any, TypeId},
    ops::Deref,
};
use kernel::{
    alloc::KVec,
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
    uapi::{iommu_destroy, IOMMUFD_CMD_DESTROY},
    ucmd::{offset_end, Command, Ucmd},
};

/// Object ids are positive 31-bit numbers, as upstream's `xa_limit_31b`;
/// running out is `EBUSY`, as `xa_alloc` reports it.
const MAX_ID: usize = i32::MAX as usize;

/// An object user space can name by id. The table holds every kind as
/// `Arc<dyn Object>` and knows none of them: a typed lookup compares the
/// kind's [`TypeId`], as upstream's compares `obj->type`.
pub(crate) trait Object: Any + Send + Sync {
    /// The embedded header.
    fn header(&self) -> &ObjectHeader;

    /// Tears down what the object owns that lives in the context (objects
    /// it created in the table, attachments), after `IOMMU_DESTROY` has
    /// unlinked it and before it is dropped. Nothing by default.
    fn destroy(&self, _ctx: &Context) {}
}

/// The object's own `Arc` if its kind is `K`.
fn downcast<K: Object>(object: &Arc<dyn Object>) -> Option<Arc<K>> {
    // `Any::type_id` through the vtable: the concrete kind's id, not
    // that of the `Arc` or of `dyn Object`.
    if Any::type_id(&**object) != TypeId::of::<K>() {
        return None;
    }
    let raw = Arc::into_raw(object.clone());
    // SAFETY: `raw` was just returned by `Arc::into_raw`, and this is the
    // only `from_raw` of it. The value behind it is a `K` (its type id is
    // `K`'s, checked above), so `ArcInner<K>` is the layout it was
    // allocated with and the data offset `from_raw` computes for `K` is
    // the one `into_raw` used for the `dyn Object` (both come from the
    // value's alignment). This is how `alloc::sync::Arc::downcast` works.
    Some(unsafe { Arc::from_raw(raw.cast::<K>()) })
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

/// A slot is `None` while its id is reserved but not finalized.
type Slot = Option<Arc<dyn Object>>;

/// The table itself; lives under the context's mutex.
pub(crate) struct ObjectTable {
    ids: IdPool,
    slots: RBTree<u32, Slot>,
    /// The id of the IOAS the VFIO compatibility ioctls act on
    /// (`IOMMU_VFIO_IOAS`, upstream's `vfio_ioas`). Kept here, not beside
    /// the table, so that unlinking that object forgets it under the same
    /// lock: a later object under the same id is never taken for it.
    vfio_ioas: Option<u32>,
}

impl ObjectTable {
    /// An empty table.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            ids: IdPool::with_capacity(64, GFP_KERNEL_ACCOUNT)?,
            slots: RBTree::new(),
            vfio_ioas: None,
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
    fn finalize(&mut self, id: u32, object: Arc<dyn Object>) -> Result<(), Arc<dyn Object>> {
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
    pub(crate) fn get<K: Object>(&self, id: u32) -> Result<ObjectRef<K>> {
        match self.slots.get(&id) {
            Some(Some(object)) => Ok(ObjectRef::new(downcast(object).ok_or(ENOENT)?, id)),
            _ => Err(ENOENT),
        }
    }

    /// Every object of kind `K`, by id, each counted as a user.
    pub(crate) fn all<K: Object>(&self) -> Result<KVec<ObjectRef<K>>> {
        let mut all = KVec::new();
        for (id, slot) in self.slots.iter() {
            if let Some(object) = slot.as_ref().and_then(downcast::<K>) {
                all.push(ObjectRef::new(object, *id), GFP_KERNEL_ACCOUNT)?;
            }
        }
        Ok(all)
    }

    /// The object with this id, whatever its kind, counted as a user.
    pub(crate) fn get_any(&self, id: u32) -> Result<ObjectRef<dyn Object>> {
        match self.slots.get(&id) {
            Some(Some(object)) => Ok(ObjectRef::new(object.clone(), id)),
            _ => Err(ENOENT),
        }
    }

    /// Unlinks the object with this id: `ENOENT` if there is none (or it is
    /// not finalized yet), `EBUSY` while it has users. The caller drops the
    /// returned object after releasing the table lock.
    pub(crate) fn remove(&mut self, id: u32) -> Result<Arc<dyn Object>> {
        match self.slots.get(&id) {
            Some(Some(object)) if object.header().users.load(Relaxed) != 0 => return Err(EBUSY),
            Some(Some(_)) => {}
            _ => return Err(ENOENT),
        }
        let object = self.slots.remove(&id).flatten().ok_or(ENOENT)?;
        self.ids.release_id(id as usize);
        self.forget_vfio_ioas(id);
        Ok(object)
    }

    /// Unlinks the object with this id if it is still `object` and has no
    /// users: how an object that only exists while used (an automatic HWPT)
    /// goes away after its last user.
    pub(crate) fn remove_unused<K: Object>(
        &mut self,
        id: u32,
        object: &Arc<K>,
    ) -> Option<Arc<dyn Object>> {
        match self.slots.get(&id) {
            Some(Some(o)) if o.header().serial == object.header().serial => {}
            _ => return None,
        }
        self.remove(id).ok()
    }

    /// Unlinks the object with this id if it is still `object`, whatever
    /// its users: for objects owned by another one (a selftest device's
    /// binding), which go with their owner. Lookups in flight keep the
    /// object alive; it refuses further use by its own state.
    pub(crate) fn unlink<K: Object>(
        &mut self,
        id: u32,
        object: &Arc<K>,
    ) -> Option<Arc<dyn Object>> {
        self.unlink_serial(id, object.header().serial)
    }

    /// [`Self::unlink`] of the object with serial `serial`: for owners
    /// that keep only the id and serial of what they own.
    pub(crate) fn unlink_serial(&mut self, id: u32, serial: Serial) -> Option<Arc<dyn Object>> {
        match self.slots.get(&id) {
            Some(Some(o)) if o.header().serial == serial => {}
            _ => return None,
        }
        let removed = self.slots.remove(&id).flatten();
        self.ids.release_id(id as usize);
        self.forget_vfio_ioas(id);
        removed
    }

    /// The id of the VFIO compatibility IOAS, if one is set. It names an
    /// object in the table (unlinking it clears this), of the kind the
    /// setter checked.
    pub(crate) fn vfio_ioas(&self) -> Option<u32> {
        self.vfio_ioas
    }

    /// Makes `id` (`None`: no object) the VFIO compatibility IOAS. The
    /// caller has looked the object up under this lock.
    pub(crate) fn set_vfio_ioas(&mut self, id: Option<u32>) {
        self.vfio_ioas = id;
    }

    /// Forgets the VFIO compatibility IOAS if it is `id`, which is leaving
    /// the table.
    fn forget_vfio_ioas(&mut self, id: u32) {
        if self.vfio_ioas == Some(id) {
            self.vfio_ioas = None;
        }
    }

    /// Whether no id is in use, not even by a reservation.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Unlinks every object, for teardown. Reservations in flight cannot
    /// exist then (they borrow the context).
    pub(crate) fn take_all(&mut self) -> RBTree<u32, Slot> {
        for id in self.slots.keys() {
            self.ids.release_id(*id as usize);
        }
        self.vfio_ioas = None;
        core::mem::replace(&mut self.slots, RBTree::new())
    }
}

/// A counted reference to an object: it is in use while this lives.
pub(crate) struct ObjectRef<K: Object + ?Sized> {
    object: Arc<K>,
    id: u32,
}

impl<K: Object + ?Sized> ObjectRef<K> {
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

impl ObjectRef<dyn Object> {
    /// Another user of the same object, as its own kind if that is `K`:
    /// how an ioctl whose id may name several kinds tells them apart.
    pub(crate) fn to<K: Object>(&self) -> Option<ObjectRef<K>> {
        Some(ObjectRef::new(downcast(&self.object)?, self.id))
    }
}

impl<K: Object + ?Sized> Clone for ObjectRef<K> {
    /// Another user. No table lock needed: the count is already nonzero, so
    /// a destroy fails with `EBUSY` before and after.
    fn clone(&self) -> Self {
        Self::new(self.object.clone(), self.id)
    }
}

impl<K: Object + ?Sized> Deref for ObjectRef<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.object
    }
}

impl<K: Object + ?Sized> Drop for ObjectRef<K> {
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
    pub(crate) fn finalize<K: Object>(self, object: Arc<K>) {
        self.finalize_dyn(object)
    }

    /// [`Self::finalize`] of an object whose kind was chosen at run time.
    pub(crate) fn finalize_dyn(self, object: Arc<dyn Object>) {
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
    pub(crate) fn user_of<K: Object>(&self, object: &Arc<K>) -> ObjectRef<K> {
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

    /// A kind of the test's own: the table must not need to know any.
    #[derive(Default)]
    struct Ioas {
        header: ObjectHeader,
    }

    impl Object for Ioas {
        fn header(&self) -> &ObjectHeader {
            &self.header
        }
    }

    /// A second kind, for lookups of the wrong kind.
    #[derive(Default)]
    struct Other {
        header: ObjectHeader,
    }

    impl Object for Other {
        fn header(&self) -> &ObjectHeader {
            &self.header
        }
    }

    fn new_ioas() -> Result<Arc<dyn Object>> {
        Ok(Arc::new(Ioas::default(), GFP_KERNEL)?)
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

    /// A lookup of another kind is `ENOENT`; a kind-agnostic one tells
    /// the kinds apart and counts every reference as a user.
    #[test]
    fn lookups_check_the_kind() -> Result {
        let mut table = ObjectTable::new()?;
        let id = add_ioas(&mut table)?;
        let other = table.reserve()?;
        table
            .finalize(other, Arc::new(Other::default(), GFP_KERNEL)?)
            .map_err(|_| EINVAL)?;
        assert_eq!(table.get::<Other>(id).err(), Some(ENOENT));
        assert_eq!(table.get::<Ioas>(other).err(), Some(ENOENT));
        let any = table.get_any(id)?;
        assert!(any.to::<Other>().is_none());
        let ioas = any.to::<Ioas>().ok_or(EINVAL)?;
        assert_eq!(ioas.id(), id);
        drop(any);
        assert_eq!(table.remove(id).err(), Some(EBUSY));
        drop(ioas);
        assert!(table.remove(id).is_ok());
        assert!(table.get_any(other)?.to::<Other>().is_some());
        Ok(())
    }

    /// The VFIO compatibility id goes with its object, and only with it,
    /// so a later object under the same id is not taken for it.
    #[test]
    fn vfio_ioas_is_forgotten_with_its_object() -> Result {
        let mut table = ObjectTable::new()?;
        let first = add_ioas(&mut table)?;
        let second = add_ioas(&mut table)?;
        table.set_vfio_ioas(Some(first));
        drop(table.remove(second)?);
        assert_eq!(table.vfio_ioas(), Some(first));
        drop(table.remove(first)?);
        assert_eq!(table.vfio_ioas(), None);
        assert_eq!(add_ioas(&mut table)?, first);
        assert_eq!(table.vfio_ioas(), None);
        table.set_vfio_ioas(Some(first));
        drop(table.take_all());
        assert_eq!(table.vfio_ioas(), None);
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
