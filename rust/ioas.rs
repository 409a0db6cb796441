// SPDX-License-Identifier: GPL-2.0

//! The I/O address space object (IOAS).

use kernel::{prelude::*, sync::Arc};

use crate::{
    object::{Object, ObjectHeader, ObjectKind, Reservation},
    uapi::{iommu_ioas_alloc, IOMMUFD_CMD_IOAS_ALLOC},
    ucmd::{offset_end, Command, Ucmd},
};

/// An I/O address space: what paging HWPTs are built on.
pub(crate) struct Ioas {
    header: ObjectHeader,
}

impl Ioas {
    pub(crate) fn new() -> Self {
        Self {
            header: ObjectHeader::default(),
        }
    }
}

impl ObjectKind for Ioas {
    fn from_object(object: &Object) -> Option<&Arc<Self>> {
        match object {
            Object::Ioas(ioas) => Some(ioas),
        }
    }

    fn header(&self) -> &ObjectHeader {
        &self.header
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
        let ioas = Arc::new(Ioas::new(), GFP_KERNEL)?;
        ucmd.cmd.out_ioas_id = reservation.id();
        // If user space cannot take the id, the object never existed.
        ucmd.respond()?;
        reservation.finalize(Object::Ioas(ioas));
        Ok(())
    }
}
