//! The `debug` feature's poisoning, shared by every engine: memory an
//! engine gives up is filled with [`FREED_BYTE`](crate::diagnostics::FREED_BYTE)
//! so a value read through a pointer kept too long shows `0xDD` bytes.
#![expect(unsafe_code, reason = "poisoning writes over memory its caller gives up")]

use core::ptr::NonNull;

/// Fills `len` bytes at `memory` with
/// [`FREED_BYTE`](crate::diagnostics::FREED_BYTE) with the `debug`
/// feature; does nothing without it.
///
/// # Safety
///
/// - `memory .. memory + len` is allocated and writable through `memory`
///   (which carries the allocation's provenance), or `len` is 0;
/// - nothing reads or writes those bytes meanwhile: the caller is giving
///   them up (no live value is in them, and nothing borrows them).
#[inline]
pub(crate) unsafe fn freed(memory: NonNull<u8>, len: usize) {
    #[cfg(feature = "debug")]
    // SAFETY: forwarded from the caller.
    unsafe {
        memory.write_bytes(crate::diagnostics::FREED_BYTE, len);
    }
    #[cfg(not(feature = "debug"))]
    let _ = (memory, len);
}
