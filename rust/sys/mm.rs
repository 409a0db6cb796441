// SPDX-License-Identifier: GPL-2.0

//! Address spaces: the calling process's, and
//! copies to and from another one's memory without borrowing it.

use kernel::{bindings, mm::Mm, page::PAGE_SIZE, prelude::*, sync::aref::ARef};

use super::pages::page_rw;

/// The calling process's address space, `None` for a kernel thread.
///
/// `CurrentTask::mm()` reads `task_struct::mm` at bindgen's offset, which
/// `sys::layout` checked against C's at load.
pub(crate) fn current_mm() -> Option<ARef<Mm>> {
    kernel::current!().mm().map(|mm| ARef::from(&**mm))
}

/// Whether `mm` is the calling process's address space.
pub(crate) fn is_current(mm: &Mm) -> bool {
    kernel::current!()
        .mm()
        .is_some_and(|current| core::ptr::eq(current.as_raw(), mm.as_raw()))
}

/// Copies between `buf` and the memory of `mm` at `addr` (to the memory if
/// `write`), a page at a time through a short-lived pin, as a device
/// would see it: `EFAULT` if `mm` has no user left or a page cannot be
/// had (read-only for a write, unmapped), as upstream.
/// The calling process's own memory takes GUP's lockless path.
pub(crate) fn mm_rw(mm: &Mm, addr: usize, buf: &mut [u8], write: bool) -> Result {
    let remote = if is_current(mm) {
        None
    } else {
        Some(mm.mmget_not_zero().ok_or(EFAULT)?)
    };
    let flags = if write { bindings::FOLL_WRITE } else { 0 };
    let mut done = 0;
    while done < buf.len() {
        let at = addr.checked_add(done).ok_or(EFAULT)?;
        let offset = at % PAGE_SIZE;
        let chunk = (PAGE_SIZE - offset).min(buf.len() - done);
        let mut page: *mut bindings::page = core::ptr::null_mut();
        let got = match &remote {
            // SAFETY: one page into a one-entry array, of the caller's
            // own address space.
            None => unsafe {
                bindings::pin_user_pages_fast(at - offset, 1, flags, &mut page) as c_long
            },
            Some(mm) => {
                let _lock = mm.mmap_read_lock();
                // SAFETY: one page into a one-entry array; `mm` has a user
                // and its mmap lock is held, as the function needs.
                unsafe {
                    bindings::pin_user_pages_remote(
                        mm.as_raw(),
                        at - offset,
                        1,
                        flags,
                        &mut page,
                        core::ptr::null_mut(),
                    )
                }
            }
        };
        if got < 0 {
            return Err(Error::from_errno(got as c_int));
        }
        if got != 1 || page.is_null() {
            return Err(EFAULT);
        }
        // SAFETY: we hold the pin taken above until the unpin below.
        let result = unsafe { page_rw(page, offset, &mut buf[done..done + chunk], write) };
        // SAFETY: the pin taken above, dropped once.
        unsafe { bindings::unpin_user_page(page) };
        result?;
        done += chunk;
    }
    Ok(())
}
