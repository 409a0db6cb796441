// SPDX-License-Identifier: GPL-2.0

//! Anonymous memory for a device's DMA: what a VMM's guest RAM is.

use std::io;
use std::ptr::NonNull;

/// Page-aligned anonymous memory (`mmap`), unmapped on drop. Nothing of it
/// is touched, so nothing is allocated or pinned until someone (the CPU,
/// or the IOAS when a page is mapped for DMA) uses a page.
///
/// Its bytes are only ever copied in or out ([`Buffer::read`],
/// [`Buffer::write`]), never lent as a slice: a device may write to the
/// memory behind the program's back while a DMA runs.
///
/// # Invariants
///
/// `ptr` is the start of a private anonymous read/write mapping of `len`
/// bytes that this `Buffer` owns.
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by the `Buffer`; every access
// copies bytes (no reference into it escapes), so any thread may do it.
unsafe impl Send for Buffer {}
// SAFETY: as above.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// `len` bytes of new anonymous memory, zero-filled on first touch.
    pub fn new(len: usize) -> io::Result<Self> {
        // SAFETY: a new anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or(io::ErrorKind::OutOfMemory)?;
        Ok(Buffer { ptr, len })
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its address, for `IOMMU_IOAS_MAP`'s `user_va`.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Whether `len` bytes from `offset` lie inside.
    fn covers(&self, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// Copies the bytes at `offset` into `out`; false (and nothing copied)
    /// if they are not all inside.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        if !self.covers(offset, out.len()) {
            return false;
        }
        // SAFETY: the source lies inside the mapping (checked above, type
        // invariant); `out` is a distinct, exclusively borrowed buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copies `data` to `offset`; false (and nothing copied) if it does
    /// not fit.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if !self.covers(offset, data.len()) {
            return false;
        }
        // SAFETY: the destination lies inside the mapping (checked above,
        // type invariant), which is writable; `data` is a distinct buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        };
        true
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours (type invariant) and nothing refers
        // to it any more. An IOAS that still maps it keeps its own pins.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
