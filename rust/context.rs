// SPDX-License-Identifier: GPL-2.0

//! One open file of the misc device: the iommufd context. (The misc
//! device's open, release and ioctl methods are in the crate root, which
//! knows the drivers a context is given.)

use core::any::Any;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::{object::ObjectTable, sys::viommu::ViommuDriver};

/// The state behind one open of the device.
#[pin_data]
pub(crate) struct Context {
    /// Every object this file created. Lock order: after an IOAS's
    /// automatic-HWPT lock, before a device's state lock (see
    /// Documentation/design.rst); never held while an object is torn down
    /// or across a copy to or from user space.
    #[pin]
    pub(crate) objects: Mutex<ObjectTable>,
    /// The vIOMMU side of the IOMMU driver behind this context's devices.
    viommu_driver: &'static dyn ViommuDriver,
    /// The driver selftest devices are created on, for the selftest layer
    /// (the core does not know its type).
    test_driver: &'static (dyn Any + Send + Sync),
}

impl Context {
    /// A context with no objects yet.
    pub(crate) fn new(
        viommu_driver: &'static dyn ViommuDriver,
        test_driver: &'static (dyn Any + Send + Sync),
    ) -> Result<Arc<Self>> {
        let table = ObjectTable::new()?;
        Arc::pin_init(
            try_pin_init!(Self {
                objects <- new_mutex!(table),
                viommu_driver,
                test_driver,
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

    /// The cookie that tells the core which owner claimed a device's DMA:
    /// this context, as upstream uses its `iommufd_ctx`.
    pub(crate) fn dma_owner(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}
