// SPDX-License-Identifier: GPL-2.0

//! One open file of the misc device: the iommufd context. (The misc
//! device's open, release and ioctl methods are in the crate root, which
//! knows the drivers a context is given.)

use core::any::Any;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

use crate::{
    mmap::MmapTable,
    object::ObjectTable,
    sys::{account::PinLedger, viommu::ViommuDriver},
};

/// The state behind one open of the device.
#[pin_data]
pub(crate) struct Context {
    /// Every object this file created. Lock order: after an IOAS's
    /// automatic-HWPT lock, before a device's state lock (see
    /// Documentation/design.rst); never held while an object is torn down
    /// or across a copy to or from user space.
    #[pin]
    pub(crate) objects: Mutex<ObjectTable>,
    /// What objects lend to `mmap()` of the file, by offset. Its lock is
    /// taken on its own.
    #[pin]
    pub(crate) mmaps: MmapTable,
    /// The vIOMMU side of the IOMMU driver behind this context's devices.
    viommu_driver: &'static dyn ViommuDriver,
    /// The driver selftest devices are created on, for the selftest layer
    /// (the core does not know its type).
    test_driver: &'static (dyn Any + Send + Sync),
    /// The lock over what every mapping of this context has charged for
    /// its pins (`IOMMU_IOAS_CHANGE_PROCESS` moves them all at once).
    pub(crate) pin_ledger: Arc<PinLedger>,
    /// `IOMMU_OPTION_RLIMIT_MODE`: pinned pages charged to the mm
    /// (`pinned_vm`, as VFIO) rather than the user. Changed only while the
    /// table is empty, under its lock.
    account_mm: Atomic<bool>,
}

impl Context {
    /// A context with no objects yet.
    pub(crate) fn new(
        viommu_driver: &'static dyn ViommuDriver,
        test_driver: &'static (dyn Any + Send + Sync),
    ) -> Result<Arc<Self>> {
        let table = ObjectTable::new()?;
        let pin_ledger = PinLedger::new()?;
        Arc::pin_init(
            try_pin_init!(Self {
                objects <- new_mutex!(table),
                mmaps <- MmapTable::new(),
                viommu_driver,
                test_driver,
                pin_ledger,
                account_mm: Atomic::new(false),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The vIOMMU side of the IOMMU driver behind this context's devices.
    pub(crate) fn viommu_driver(&self) -> &'static dyn ViommuDriver {
        self.viommu_driver
    }

    /// The driver selftest devices are created on.
    pub(crate) fn test_driver(&self) -> &'static (dyn Any + Send + Sync) {
        self.test_driver
    }

    /// Whether pinned pages are charged to the mm (`IOMMU_OPTION_RLIMIT_MODE`
    /// 1) rather than to the user (0).
    pub(crate) fn account_mm(&self) -> bool {
        self.account_mm.load(Relaxed)
    }

    /// Sets the accounting mode to `mode` (0 user, 1 mm; `EINVAL`
    /// otherwise): `EBUSY` first unless the context has no object and no
    /// reservation, as upstream.
    pub(crate) fn set_account_mm(&self, mode: u64) -> Result {
        let objects = self.objects.lock();
        if !objects.is_empty() {
            return Err(EBUSY);
        }
        match mode {
            0 | 1 => self.account_mm.store(mode == 1, Relaxed),
            _ => return Err(EINVAL),
        }
        drop(objects);
        Ok(())
    }

    /// The cookie that tells the core which owner claimed a device's DMA:
    /// this context, as upstream uses its `iommufd_ctx`.
    pub(crate) fn dma_owner(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}
