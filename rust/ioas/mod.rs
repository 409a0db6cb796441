// SPDX-License-Identifier: GPL-2.0

//! The I/O address space object (IOAS) and its ioctls: `IOMMU_IOAS_ALLOC`,
//! `IOMMU_IOAS_MAP`, `IOMMU_IOAS_MAP_FILE`, `IOMMU_IOAS_COPY`,
//! `IOMMU_IOAS_UNMAP`, `IOMMU_IOAS_CHANGE_PROCESS`,
//! `IOMMU_IOAS_IOVA_RANGES` and
//! `IOMMU_IOAS_ALLOW_IOVAS`. Its mappings live in an [`IoPageTable`].

use kernel::{
    alloc::KVec,
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    object::{Object, ObjectHeader, Reservation},
    uapi::{
        self, iommu_ioas_alloc, iommu_ioas_allow_iovas, iommu_ioas_change_process, iommu_ioas_copy,
        iommu_ioas_iova_ranges, iommu_ioas_map, iommu_ioas_map_file, iommu_ioas_unmap,
        iommu_iova_range, iommu_option, IOMMUFD_CMD_IOAS_ALLOC,
    },
    ucmd::{offset_end, Command, Ucmd},
};

mod pagetable;

pub(crate) use pagetable::DirtyQuery;
use pagetable::Unmap;
pub(crate) use pagetable::{AccessEntry, AccessNotify, IoPageTable, Pages};

/// An I/O address space: what paging HWPTs are built on.
#[pin_data]
pub(crate) struct Ioas {
    /// The object table's state: how many `ObjectRef`s hold this object.
    pub(crate) header: ObjectHeader,
    /// Ids of the automatic HWPTs made for devices attached to this IOAS
    /// directly (see [`crate::device::attach_pt`]); entries of HWPTs that
    /// are gone are pruned on the next search. Held across the search and
    /// the creation of a new one, so two attaches do not both create one.
    /// Lock order: before the table lock and any device's attach lock.
    #[pin]
    pub(crate) auto_hwpts: Mutex<KVec<u32>>,
    /// The mappings, reservations and domains. Lock order: last of ours,
    /// after `auto_hwpts` and `Device::state`; held across pinning (GUP)
    /// and the domains' map and unmap, never across a copy to or from user
    /// space.
    #[pin]
    pub(crate) iopt: Mutex<IoPageTable>,
}

impl Object for Ioas {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

impl Ioas {
    /// A new IOAS, with no automatic HWPT yet.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::default(),
                auto_hwpts <- new_mutex!(KVec::new()),
                iopt <- new_mutex!(IoPageTable::new()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }
}

/// How many times unmap asks the accesses to let go of one area before it
/// gives up (`EDEADLK`), as upstream.
const UNMAP_TRIES: u32 = 100;

impl Ioas {
    /// Unmaps every area inside `[start, last]` (`iopt_unmap_iova_range`)
    /// and returns the bytes unmapped. An area an access pins is marked so
    /// that no new pin takes it, and the accesses are told, without the
    /// table's lock, to drop their pins there; then unmap goes on.
    fn unmap(&self, start: u64, last: u64) -> Result<u64> {
        let mut unmapped = 0;
        self.unmap_counted(start, last, &mut unmapped)?;
        Ok(unmapped)
    }

    /// [`Self::unmap`] that reports the bytes unmapped in `unmapped` on
    /// failure too, as VFIO's unmap returns them.
    pub(crate) fn unmap_counted(&self, start: u64, last: u64, unmapped: &mut u64) -> Result {
        let (mut start, mut tries) = (start, 0);
        loop {
            let step = self.iopt.lock().unmap(&mut start, last, unmapped)?;
            let Unmap::Blocked {
                iova,
                length,
                moved,
                notify,
            } = step
            else {
                return Ok(());
            };
            if moved {
                tries = 0;
            }
            for access in &notify {
                access.unmap(iova, length);
            }
            drop(notify);
            tries += 1;
            if tries > UNMAP_TRIES {
                pr_warn!("an access keeps IOVA {:#x} pinned through unmap\n", iova);
                return Err(EDEADLK);
            }
        }
    }
}

impl Command for iommu_ioas_alloc {
    const NR: u32 = IOMMUFD_CMD_IOAS_ALLOC;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_alloc, out_ioas_id);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        if ucmd.cmd.flags != 0 {
            return Err(EOPNOTSUPP);
        }
        let reservation = Reservation::new(&ucmd.ctx.objects)?;
        let ioas = Ioas::new()?;
        ucmd.cmd.out_ioas_id = reservation.id();
        // If user space cannot take the id, the object never existed.
        ucmd.respond()?;
        reservation.finalize(ioas);
        Ok(())
    }
}

/// The flags `IOMMU_IOAS_MAP` (and `IOMMU_IOAS_COPY`) know.
const MAP_FLAGS: u32 = uapi::IOMMU_IOAS_MAP_FIXED_IOVA
    | uapi::IOMMU_IOAS_MAP_WRITEABLE
    | uapi::IOMMU_IOAS_MAP_READABLE;

/// The IOMMU protection of a mapping made with `flags`. Devices are cache
/// coherent (bind requires it), so every mapping is `IOMMU_CACHE`.
fn iommu_prot(flags: u32) -> u32 {
    let mut prot = bindings::IOMMU_CACHE;
    if flags & uapi::IOMMU_IOAS_MAP_WRITEABLE != 0 {
        prot |= bindings::IOMMU_WRITE;
    }
    if flags & uapi::IOMMU_IOAS_MAP_READABLE != 0 {
        prot |= bindings::IOMMU_READ;
    }
    prot
}

/// Whether an IOVA or length is at or above `ULONG_MAX`, which upstream
/// refuses (`EOVERFLOW`).
fn past_ulong(value: u64) -> bool {
    c_ulong::try_from(value).map_or(true, |v| v == c_ulong::MAX)
}

/// The checks `IOMMU_IOAS_MAP` and `IOMMU_IOAS_MAP_FILE` share, in
/// upstream's order (`EOPNOTSUPP`, `EOVERFLOW`, `EINVAL`); the mapping's
/// `IOMMU_*` protection.
fn map_prot(flags: u32, iova: u64, length: u64) -> Result<u32> {
    if flags & !MAP_FLAGS != 0 {
        return Err(EOPNOTSUPP);
    }
    if past_ulong(iova) || past_ulong(length) {
        return Err(EOVERFLOW);
    }
    if flags & (uapi::IOMMU_IOAS_MAP_WRITEABLE | uapi::IOMMU_IOAS_MAP_READABLE) == 0 {
        return Err(EINVAL);
    }
    Ok(iommu_prot(flags))
}

/// Maps `pages` into `ioas` at `iova` with `IOMMU_IOAS_MAP_FIXED_IOVA` in
/// `flags`, else at an IOVA found for them; returns the IOVA.
fn map_at(
    ioas: &Ioas,
    pages: Arc<Pages>,
    start_byte: usize,
    length: u64,
    flags: u32,
    iova: u64,
) -> Result<u64> {
    let fixed = (flags & uapi::IOMMU_IOAS_MAP_FIXED_IOVA != 0).then_some(iova);
    ioas.iopt
        .lock()
        .map(pages, start_byte, length, fixed, iommu_prot(flags))
}

impl Command for iommu_ioas_map {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_MAP;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_map, iova);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let prot = map_prot(cmd.flags, cmd.iova, cmd.length)?;
        let ioas = ucmd.ctx.objects.lock().get::<Ioas>(cmd.ioas_id)?;
        let (pages, start_byte) = Pages::user(
            cmd.user_va,
            cmd.length,
            prot & bindings::IOMMU_WRITE != 0,
            &ucmd.ctx.pin_ledger,
            ucmd.ctx.account_mm(),
        )?;
        let iova = map_at(&ioas, pages, start_byte, cmd.length, cmd.flags, cmd.iova)?;
        // As upstream, the mapping stays if the IOVA cannot be reported.
        ucmd.cmd.iova = iova;
        ucmd.respond()
    }
}

impl Command for iommu_ioas_map_file {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_MAP_FILE;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_map_file, iova);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        let prot = map_prot(cmd.flags, cmd.iova, cmd.length)?;
        let ioas = ucmd.ctx.objects.lock().get::<Ioas>(cmd.ioas_id)?;
        if cmd.length == 0 {
            return Err(EINVAL);
        }
        cmd.start.checked_add(cmd.length - 1).ok_or(EOVERFLOW)?;
        let file = crate::sys::pages::file_of_fd(cmd.fd)?;
        let (pages, start_byte) = Pages::file(
            file,
            cmd.start,
            cmd.length,
            prot & bindings::IOMMU_WRITE != 0,
            &ucmd.ctx.pin_ledger,
            ucmd.ctx.account_mm(),
        )?;
        let iova = map_at(&ioas, pages, start_byte, cmd.length, cmd.flags, cmd.iova)?;
        ucmd.cmd.iova = iova;
        ucmd.respond()
    }
}

impl Command for iommu_ioas_change_process {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_CHANGE_PROCESS;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_change_process, __reserved);

    /// Moves the charges of every mapping of every IOAS to the caller:
    /// `EINVAL` if one maps user memory. The IOASes are looked at one at
    /// a time; the move itself is atomic under the context's pin ledger.
    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        if ucmd.cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let all = ucmd.ctx.objects.lock().all::<Ioas>()?;
        let mut accounts = KVec::new();
        for ioas in &all {
            let listed = ioas.iopt.lock().file_accounts(&mut accounts);
            listed?;
        }
        drop(all);
        ucmd.ctx.pin_ledger.move_to_current(&accounts)
    }
}

impl Command for iommu_ioas_copy {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_COPY;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_copy, src_iova);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.flags & !MAP_FLAGS != 0 {
            return Err(EOPNOTSUPP);
        }
        if past_ulong(cmd.length) || past_ulong(cmd.src_iova) || past_ulong(cmd.dst_iova) {
            return Err(EOVERFLOW);
        }
        if cmd.flags & (uapi::IOMMU_IOAS_MAP_WRITEABLE | uapi::IOMMU_IOAS_MAP_READABLE) == 0 {
            return Err(EINVAL);
        }
        // The source's memory is taken under its lock, mapped under the
        // destination's: the two are never held together.
        let src = ucmd.ctx.objects.lock().get::<Ioas>(cmd.src_ioas_id)?;
        let pieces = src.iopt.lock().get_pages(cmd.src_iova, cmd.length)?;
        drop(src);
        let dst = ucmd.ctx.objects.lock().get::<Ioas>(cmd.dst_ioas_id)?;
        let fixed = (cmd.flags & uapi::IOMMU_IOAS_MAP_FIXED_IOVA != 0).then_some(cmd.dst_iova);
        let prot = iommu_prot(cmd.flags);
        let iova = dst
            .iopt
            .lock()
            .map_pieces(pieces, cmd.length, fixed, prot)?;
        ucmd.cmd.dst_iova = iova;
        ucmd.respond()
    }
}

impl Command for iommu_ioas_unmap {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_UNMAP;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_unmap, length);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        let ioas = ucmd.ctx.objects.lock().get::<Ioas>(cmd.ioas_id)?;
        let unmapped = if cmd.iova == 0 && cmd.length == u64::MAX {
            // Unmap-all succeeds on an empty IOAS too.
            ioas.unmap(0, u64::MAX)?
        } else {
            if past_ulong(cmd.iova) || past_ulong(cmd.length) {
                return Err(EOVERFLOW);
            }
            if cmd.length == 0 {
                return Err(EINVAL);
            }
            let last = cmd.iova.checked_add(cmd.length - 1).ok_or(EOVERFLOW)?;
            let unmapped = ioas.unmap(cmd.iova, last)?;
            if unmapped == 0 {
                return Err(ENOENT);
            }
            unmapped
        };
        ucmd.cmd.length = unmapped;
        ucmd.respond()
    }
}

impl Command for iommu_option {
    const NR: u32 = uapi::IOMMUFD_CMD_OPTION;
    const MIN_SIZE: usize = offset_end!(iommu_option, val64);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let (op, val) = (u32::from(cmd.op), cmd.val64);
        let get = op == uapi::IOMMU_OPTION_OP_GET;
        let set = op == uapi::IOMMU_OPTION_OP_SET;
        let value = match cmd.option_id {
            uapi::IOMMU_OPTION_RLIMIT_MODE => {
                if cmd.object_id != 0 {
                    return Err(EOPNOTSUPP);
                }
                if get {
                    u64::from(ucmd.ctx.account_mm())
                } else if set {
                    if !crate::sys::capable(bindings::CAP_SYS_RESOURCE) {
                        return Err(EPERM);
                    }
                    ucmd.ctx.set_account_mm(val)?;
                    val
                } else {
                    return Err(EOPNOTSUPP);
                }
            }
            uapi::IOMMU_OPTION_HUGE_PAGES => {
                let ioas = ucmd.ctx.objects.lock().get::<Ioas>(cmd.object_id)?;
                if get {
                    let on = ioas.iopt.lock().large_pages();
                    u64::from(on)
                } else if set {
                    match val {
                        0 | 1 => {
                            let result = ioas.iopt.lock().set_large_pages(val == 1);
                            result?
                        }
                        _ => return Err(EINVAL),
                    }
                    val
                } else {
                    return Err(EOPNOTSUPP);
                }
            }
            _ => return Err(EOPNOTSUPP),
        };
        // As upstream, only val64 is written back.
        ucmd.cmd.val64 = value;
        let offset = core::mem::offset_of!(iommu_option, val64);
        UserSlice::new(ucmd.user().wrapping_byte_add(offset), size_of::<u64>())
            .writer()
            .write(&value)
    }
}

impl Command for iommu_ioas_iova_ranges {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_IOVA_RANGES;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_iova_ranges, out_iova_alignment);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        if ucmd.cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let ioas = ucmd.ctx.objects.lock().get::<Ioas>(ucmd.cmd.ioas_id)?;
        // Read under the lock, copied out after it.
        let (ranges, alignment) = {
            let iopt = ioas.iopt.lock();
            (iopt.iova_ranges()?, iopt.iova_alignment())
        };
        let room = ucmd.cmd.num_iovas as usize;
        let out = UserPtr::from_addr(ucmd.cmd.allowed_iovas as usize);
        let mut writer = UserSlice::new(out, room * size_of::<iommu_iova_range>()).writer();
        for &(start, last) in ranges.iter().take(room) {
            writer.write(&iommu_iova_range { start, last })?;
        }
        let count = u32::try_from(ranges.len()).map_err(|_| EOVERFLOW)?;
        ucmd.cmd.num_iovas = count;
        ucmd.cmd.out_iova_alignment = alignment;
        ucmd.respond()?;
        if ranges.len() > room {
            return Err(EMSGSIZE);
        }
        Ok(())
    }
}

impl Command for iommu_ioas_allow_iovas {
    const NR: u32 = uapi::IOMMUFD_CMD_IOAS_ALLOW_IOVAS;
    const MIN_SIZE: usize = offset_end!(iommu_ioas_allow_iovas, allowed_iovas);

    fn execute(ucmd: &mut Ucmd<'_, Self>) -> Result {
        let cmd = &ucmd.cmd;
        if cmd.__reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let ioas = ucmd.ctx.objects.lock().get::<Ioas>(cmd.ioas_id)?;
        // Read in full before the lock is taken.
        let mut allowed: KVec<(u64, u64)> = KVec::new();
        let entry = size_of::<iommu_iova_range>();
        let base = UserPtr::from_addr(cmd.allowed_iovas as usize);
        for index in 0..cmd.num_iovas as usize {
            let range: iommu_iova_range =
                UserSlice::new(base.wrapping_byte_add(index * entry), entry)
                    .reader()
                    .read()?;
            if range.start >= range.last {
                return Err(EINVAL);
            }
            if allowed
                .iter()
                .any(|&(s, l)| range.start <= l && s <= range.last)
            {
                return Err(EINVAL);
            }
            allowed.push((range.start, range.last), GFP_KERNEL_ACCOUNT)?;
        }
        let result = ioas.iopt.lock().set_allowed(allowed);
        result
    }
}
