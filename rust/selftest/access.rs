// SPDX-License-Identifier: GPL-2.0

//! The selftest's emulated device: `IOMMU_TEST_OP_CREATE_ACCESS` makes an
//! [`Access`] on an IOAS and hands out a file that owns it; the other
//! access ops name that file by its descriptor (`EBADFD` for any other
//! file), as upstream's. Closing the file drops its pins, detaches the
//! access and removes it; the file holds the iommufd file open until
//! then.
//!
//! `IOMMU_TEST_OP_ACCESS_PAGES` records each pin as an item with an id;
//! the access's unmap callback drops the items an unmap overlaps, so an
//! unmap of pinned memory succeeds and a later
//! `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES` of the item is `ENOENT`.

use kernel::{
    alloc::KVVec,
    bindings,
    fs::{
        file::{flags, FileDescriptorReservation},
        File, LocalFile,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, poll::PollTable, Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    access::{Access, AccessOps},
    context::Context,
    ioas::Ioas,
    object::{ObjectRef, Reservation},
    sys::anon_file::{AnonFile, FileOps},
    uapi::{self, iommu_test_cmd},
    ucmd::Ucmd,
};

/// Upstream's bound on one pin or copy, which keeps its buffers small.
const MAX_LENGTH: u64 = 16 * 1024 * 1024;

/// One `IOMMU_TEST_OP_ACCESS_PAGES` pin.
struct Item {
    id: u32,
    iova: u64,
    length: u64,
}

/// The pins of one selftest access.
struct Items {
    list: KVec<Item>,
    next_id: u32,
}

/// The selftest's side of an access: its pins, and the unmap callback
/// that drops them.
#[pin_data]
struct Pins {
    /// Lock order: before the access's state (held across a pin, so an
    /// unmap cannot run between the pin and its record).
    #[pin]
    items: Mutex<Items>,
}

impl AccessOps for Pins {
    fn unmap(&self, access: &Access, iova: u64, length: u64) {
        let last = iova.saturating_add(length.saturating_sub(1));
        let mut items = self.items.lock();
        items.list.retain(|item| {
            let item_last = item.iova.saturating_add(item.length - 1);
            if iova > item_last || last < item.iova {
                return true;
            }
            access.unpin_pages(item.iova, item.length);
            false
        });
    }
}

/// What an access file owns.
struct AccessFile {
    ctx: Arc<Context>,
    /// The access, as a user: `IOMMU_DESTROY` of its id is `EBUSY`.
    access: ObjectRef<Access>,
    pins: Arc<Pins>,
    /// Upstream's access holds the iommufd context, so its file too.
    _iommufd: ARef<File>,
}

impl AnonFile for AccessFile {
    const WRITABLE: bool = false;

    fn read(&self, _buf: UserPtr, _len: usize, _pos: i64) -> Result<usize> {
        // Upstream's file has no read: the VFS says EINVAL.
        Err(EINVAL)
    }

    fn write(&self, _buf: UserPtr, _len: usize, _pos: i64) -> Result<usize> {
        Err(EINVAL)
    }

    fn poll(&self, _file: &File, _table: PollTable<'_>) -> u32 {
        // The VFS's answer for a file without poll (DEFAULT_POLLMASK).
        bindings::POLLIN | bindings::POLLOUT | bindings::POLLRDNORM | bindings::POLLWRNORM
    }
}

impl Drop for AccessFile {
    fn drop(&mut self) {
        self.pins.unmap(&self.access, 0, u64::MAX);
        self.access.arc().detach();
        let unlinked = self
            .ctx
            .objects
            .lock()
            .unlink(self.access.id(), self.access.arc());
        drop(unlinked);
    }
}

/// The access files' operations: their address tells them from other
/// files.
static ACCESS_FOPS: FileOps<AccessFile> = FileOps::new();

/// Runs `f` on the access file open as `fd` in the calling process.
fn with_access<R>(fd: u32, f: impl FnOnce(&AccessFile) -> Result<R>) -> Result<R> {
    let file: ARef<LocalFile> = LocalFile::fget(fd).map_err(|_| EBADFD)?;
    let data = ACCESS_FOPS.data(&file).ok_or(EBADFD)?;
    f(data)
}

/// `IOMMU_TEST_OP_CREATE_ACCESS`: an access on the IOAS `id`, returned as
/// a new close-on-exec file descriptor.
pub(super) fn create(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let flags = unsafe { ucmd.cmd.__bindgen_anon_1.create_access.flags };
    if flags & !uapi::MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0 {
        return Err(EOPNOTSUPP);
    }
    let ctx = ucmd.ctx;
    // The access takes an id, as upstream's, though none names it.
    let reservation = Reservation::new(&ctx.objects)?;
    let pins = Arc::pin_init(
        pin_init!(Pins {
            items <- new_mutex!(Items {
                list: KVec::new(),
                next_id: 0,
            }),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    let needs_pin = flags & uapi::MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES != 0;
    let access = Access::new(needs_pin, pins.clone())?;
    let ioas = ctx.objects.lock().get::<Ioas>(ucmd.cmd.id)?;
    access.attach(ioas)?;
    let data = KBox::new(
        AccessFile {
            ctx: ucmd.ctx_arc(),
            access: reservation.user_of(&access),
            pins,
            _iommufd: ucmd.file.into(),
        },
        GFP_KERNEL_ACCOUNT,
    );
    let data = match data {
        Ok(data) => data,
        Err(e) => {
            access.detach();
            return Err(e.into());
        }
    };
    // From here the file's release undoes it all.
    let file = ACCESS_FOPS.create(c"[iommufd_test_staccess]", data)?;
    // Out of descriptors is ENOMEM, as upstream.
    let number =
        FileDescriptorReservation::get_unused_fd_flags(flags::O_CLOEXEC).map_err(|_| ENOMEM)?;
    ucmd.cmd.__bindgen_anon_1.create_access.out_access_fd = number.reserved_fd();
    ucmd.respond()?;
    reservation.finalize(access);
    number.fd_install(file);
    Ok(())
}

/// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`: moves the access to another IOAS.
pub(super) fn replace_ioas(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let ioas_id = unsafe { ucmd.cmd.__bindgen_anon_1.access_replace_ioas.ioas_id };
    with_access(ucmd.cmd.id, |file| {
        let ioas = file.ctx.objects.lock().get::<Ioas>(ioas_id)?;
        file.access.arc().replace(ioas)
    })
}

/// `IOMMU_TEST_OP_ACCESS_PAGES`: pins a range through the access, checks
/// that the pages are the ones under `uptr` (`EBADE` if not; no check
/// for a null `uptr`) and records the pin; returns its id.
pub(super) fn pages(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.access_pages };
    if req.length > MAX_LENGTH {
        return Err(ENOMEM);
    }
    if req.flags & !(uapi::MOCK_FLAGS_ACCESS_WRITE | uapi::MOCK_FLAGS_ACCESS_SYZ) != 0 {
        return Err(EOPNOTSUPP);
    }
    let id = with_access(ucmd.cmd.id, |file| {
        let access = file.access.arc();
        if !access.pins_pages() {
            return Err(EOPNOTSUPP);
        }
        let iova = if req.flags & uapi::MOCK_FLAGS_ACCESS_SYZ != 0 {
            access.syz_iova(req.iova)
        } else {
            req.iova
        };
        let write = req.flags & uapi::MOCK_FLAGS_ACCESS_WRITE != 0;
        let mut items = file.pins.items.lock();
        let phys = access.pin_pages(iova, req.length, write)?;
        let recorded = check_pages(req.uptr, iova, &phys).and_then(|()| {
            let id = items.next_id;
            items.list.push(
                Item {
                    id,
                    iova,
                    length: req.length,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
            items.next_id = id.wrapping_add(1);
            Ok(id)
        });
        if recorded.is_err() {
            access.unpin_pages(iova, req.length);
        }
        recorded
    })?;
    ucmd.cmd.__bindgen_anon_1.access_pages.out_access_pages_id = id;
    if let Err(e) = ucmd.respond() {
        // The id never reached user space: drop the pin, unless an unmap
        // already did.
        let _ = destroy_item(ucmd.cmd.id, id);
        return Err(e);
    }
    Ok(())
}

/// Checks that `phys`, pinned from `iova`, are the pages under the user
/// address `uptr` of the calling process (`EBADE` if one is not).
fn check_pages(uptr: u64, iova: u64, phys: &[u64]) -> Result {
    if uptr == 0 {
        return Ok(());
    }
    let page = PAGE_SIZE as u64;
    let mut addr = uptr.wrapping_sub(iova % page);
    for &expected in phys {
        let addr_usize = usize::try_from(addr).map_err(|_| EFAULT)?;
        if crate::sys::pages::user_page_phys(addr_usize)? != expected {
            return Err(EBADE);
        }
        addr = addr.wrapping_add(page);
    }
    Ok(())
}

/// Drops the pin `item` of the access file `fd`: `ENOENT` if it has none
/// by that id (never made, or dropped by an unmap).
fn destroy_item(fd: u32, item: u32) -> Result {
    with_access(fd, |file| {
        let mut items = file.pins.items.lock();
        let index = items.list.iter().position(|i| i.id == item).ok_or(ENOENT)?;
        let gone = items.list.remove(index).map_err(|_| ENOENT)?;
        file.access.arc().unpin_pages(gone.iova, gone.length);
        Ok(())
    })
}

/// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`.
pub(super) fn destroy_pages(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let item = unsafe {
        ucmd.cmd
            .__bindgen_anon_1
            .destroy_access_pages
            .access_pages_id
    };
    destroy_item(ucmd.cmd.id, item)
}

/// `IOMMU_TEST_OP_ACCESS_RW`: copies between user memory and the IOAS
/// through the access, by way of a kernel buffer, so no user copy happens
/// under the IOAS's locks. `MOCK_ACCESS_RW_SLOW_PATH` takes the pinning
/// path for the caller's unpinned memory, as upstream's.
pub(super) fn rw(ucmd: &mut Ucmd<'_, iommu_test_cmd>) -> Result {
    // SAFETY: a union of plain integers.
    let req = unsafe { ucmd.cmd.__bindgen_anon_1.access_rw };
    if req.length > MAX_LENGTH {
        return Err(ENOMEM);
    }
    let known =
        uapi::MOCK_ACCESS_RW_WRITE | uapi::MOCK_ACCESS_RW_SLOW_PATH | uapi::MOCK_FLAGS_ACCESS_SYZ;
    if req.flags & !known != 0 {
        return Err(EOPNOTSUPP);
    }
    let write = req.flags & uapi::MOCK_ACCESS_RW_WRITE != 0;
    with_access(ucmd.cmd.id, |file| {
        let len = req.length as usize;
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL_ACCOUNT)?;
        let user = UserPtr::from_addr(req.uptr as usize);
        if write {
            UserSlice::new(user, len).reader().read_slice(&mut buf)?;
        }
        let access = file.access.arc();
        let iova = if req.flags & uapi::MOCK_FLAGS_ACCESS_SYZ != 0 {
            access.syz_iova(req.iova)
        } else {
            req.iova
        };
        let slow = req.flags & uapi::MOCK_ACCESS_RW_SLOW_PATH != 0;
        access.rw(iova, &mut buf, write, slow)?;
        if !write {
            UserSlice::new(user, len).writer().write_slice(&buf)?;
        }
        Ok(())
    })
}
