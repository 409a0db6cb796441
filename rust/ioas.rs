// SPDX-License-Identifier: GPL-2.0

//! The I/O address space object (IOAS).

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::{
    object::{Object, ObjectHeader, Reservation},
    uapi::{iommu_ioas_alloc, IOMMUFD_CMD_IOAS_ALLOC},
    ucmd::{offset_end, Command, Ucmd},
};

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
            }),
            GFP_KERNEL_ACCOUNT,
        )
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
