// SPDX-License-Identifier: GPL-2.0

//! User pages, looked at from outside: how many DMA pins a page of the
//! calling process carries (`IOMMU_TEST_OP_MD_CHECK_REFS`).

use kernel::{bindings, prelude::*};

#[expect(
    improper_ctypes,
    reason = "struct page behind pointers, declared as kernel::bindings declares it"
)]
extern "C" {
    /// helpers.c: `page_ref_count()`.
    fn rust_iommufd_page_ref_count(page: *const bindings::page) -> c_int;
    /// helpers.c: `PageCompound()`.
    fn rust_iommufd_page_compound(page: *const bindings::page) -> bool;
    /// helpers.c: `page_to_phys()`.
    fn rust_iommufd_page_to_phys(page: *const bindings::page) -> bindings::phys_addr_t;
    /// helpers.c: `put_page()`.
    fn rust_iommufd_put_page(page: *mut bindings::page);
}

/// Takes a reference to the page mapped at user address `addr` in the
/// calling process, faulting it in if needed, runs `f` on it and drops the
/// reference.
fn with_user_page<R>(addr: usize, f: impl FnOnce(*mut bindings::page) -> R) -> Result<R> {
    let mut page: *mut bindings::page = core::ptr::null_mut();
    // SAFETY: asks for one page into a one-element array; the reference it
    // takes is dropped below.
    let got = unsafe { bindings::get_user_pages_fast(addr, 1, 0, &mut page) };
    if got < 0 {
        return Err(Error::from_errno(got));
    }
    if got != 1 || page.is_null() {
        return Err(EFAULT);
    }
    let result = f(page);
    // SAFETY: we hold the reference taken above.
    unsafe { rust_iommufd_put_page(page) };
    Ok(result)
}

/// The physical address of the page mapped at user address `addr` in the
/// calling process (page aligned). Faults the page in if needed.
pub(crate) fn user_page_phys(addr: usize) -> Result<u64> {
    // SAFETY: `with_user_page` holds a reference to the page for the call.
    with_user_page(addr & kernel::page::PAGE_MASK, |page| unsafe {
        rust_iommufd_page_to_phys(page)
    })
}

/// The pin count of the page mapped at user address `addr` in the calling
/// process: `None` for a page of a compound (huge) page, whose count is
/// shared. Faults the page in if needed; `EFAULT` if nothing is mapped.
pub(crate) fn user_page_pins(addr: usize) -> Result<Option<u32>> {
    with_user_page(addr, |page| {
        // SAFETY: `with_user_page` holds a reference to `page` for the call.
        unsafe {
            if rust_iommufd_page_compound(page) {
                None
            } else {
                // Pins add GUP_PIN_COUNTING_BIAS each; plain references add 1.
                let count = rust_iommufd_page_ref_count(page).max(0) as u32;
                Some(count / bindings::GUP_PIN_COUNTING_BIAS)
            }
        }
    })
}
