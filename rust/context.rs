// SPDX-License-Identifier: GPL-2.0

//! One open file of the misc device: the iommufd context.

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
};

use crate::{mock::MockIommu, object::ObjectTable, sys::viommu::ViommuDriver, ucmd};

/// The state behind one open of the device.
#[pin_data]
pub(crate) struct Context {
    /// Every object this file created. Lock order: after an IOAS's
    /// automatic-HWPT lock, before a device's state lock (see
    /// Documentation/design.rst); never held while an object is torn down
    /// or across a copy to or from user space.
    #[pin]
    pub(crate) objects: Mutex<ObjectTable>,
    /// The module's mock IOMMU, which selftest devices are created on.
    mock: &'static MockIommu,
}

impl Context {
    /// The module's mock IOMMU.
    pub(crate) fn mock(&self) -> &MockIommu {
        self.mock
    }

    /// The vIOMMU side of the IOMMU driver behind this context's devices
    /// (the mock IOMMU's: there is no other driver of ours).
    pub(crate) fn viommu_driver(&self) -> &'static dyn ViommuDriver {
        self.mock
    }

    /// The cookie that tells the core which owner claimed a device's DMA:
    /// this context, as upstream uses its `iommufd_ctx`.
    pub(crate) fn dma_owner(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}

#[vtable]
impl MiscDevice for Context {
    type Ptr = Arc<Self>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Self>> {
        let table = ObjectTable::new()?;
        Arc::pin_init(
            try_pin_init!(Self {
                objects <- new_mutex!(table),
                mock: crate::mock_iommu(misc),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn release(ctx: Arc<Self>, _file: &File) {
        // Unlink everything under the lock, tear down outside it. Objects
        // hold references to what they depend on, so any order is safe.
        let objects = ctx.objects.lock().take_all();
        drop(objects);
    }

    // No `compat_ioctl`: every iommufd structure has the same layout for
    // 32- and 64-bit callers (pointers travel as __aligned_u64), so the
    // misc device's default, `compat_ptr_ioctl()` into `ioctl`, is right.
    fn ioctl(ctx: ArcBorrow<'_, Self>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ucmd::dispatch(&ctx, file, cmd, arg)
    }
}
