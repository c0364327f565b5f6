#![expect(unsafe_code, reason = "calls Tracy's C memory-event functions")]
//! Tracy's named memory events (feature `tracy`), which `tracy-client` has
//! no safe API for: `___tracy_emit_memory_{alloc,free}_named` from
//! `tracy-client-sys`.
//!
//! The library depends on `tracy-client` with its `enable` feature off; a
//! user turns `tracy-client/enable` on in their own build. The C functions
//! exist only then, and a crate cannot test another crate's features with
//! `cfg`. So [`Tracy`] names them through a glob import of
//! `tracy_client::sys` in an inner block, which shadows the no-op fallbacks
//! of the same names glob-imported in the outer block: with `enable` the
//! real functions are called, without it the fallbacks, and [`ENABLED`]
//! says which (the real source-location type has fields; the fallback's has
//! none).
//!
//! Every call needs a running client, so the only way to make a [`Tracy`]
//! is [`Tracy::running`], which asks `Client::running()` and never starts
//! a client.

use core::ffi::{CStr, c_void};

/// The no-op stand-ins used when `tracy-client/enable` is off. Each has the
/// signature of the `tracy-client-sys` item it stands for.
#[expect(
    non_camel_case_types,
    reason = "the names of the tracy-client-sys items they stand in for"
)]
mod fallback {
    use core::ffi::{c_char, c_void};

    /// Stands for the C struct, which is never empty.
    pub(super) struct ___tracy_source_location_data;

    /// Does nothing.
    ///
    /// # Safety
    ///
    /// - none: it reads nothing (it is `unsafe` to match the C function).
    pub(super) unsafe fn ___tracy_emit_memory_alloc_named(
        _ptr: *const c_void,
        _size: usize,
        _name: *const c_char,
    ) {
    }

    /// Does nothing.
    ///
    /// # Safety
    ///
    /// - none: it reads nothing (it is `unsafe` to match the C function).
    pub(super) unsafe fn ___tracy_emit_memory_free_named(
        _ptr: *const c_void,
        _name: *const c_char,
    ) {
    }
}

/// Whether `tracy-client/enable` is on in this build (the C client is
/// linked in). Without it every Tracy call is a no-op, so the observer
/// does not watch allocations for Tracy.
pub(crate) const ENABLED: bool = {
    #[allow(unused_imports, reason = "shadowed when tracy-client/enable is on")]
    use fallback::*;
    {
        #[allow(unused_imports, reason = "empty when tracy-client/enable is off")]
        use tracy_client::sys::*;
        size_of::<___tracy_source_location_data>() != 0
    }
};

/// Proof that a Tracy client is running: the C functions may be called.
pub(crate) struct Tracy(tracy_client::Client);

impl Tracy {
    /// The running client, if there is one (and `tracy-client/enable` is
    /// on). Never starts one: a started client broadcasts on the network.
    #[inline]
    pub(crate) fn running() -> Option<Tracy> {
        if !ENABLED {
            return None;
        }
        tracy_client::Client::running().map(Tracy)
    }

    /// The client, for its safe API (frame marks, plots).
    pub(crate) fn client(&self) -> &tracy_client::Client {
        &self.0
    }

    /// `size` bytes at `ptr` were handed out from the pool `name`. Tracy
    /// keeps `ptr` as a key and never reads through it.
    pub(crate) fn alloc_named(&self, ptr: *const u8, size: usize, name: &'static CStr) {
        let (ptr, name) = (ptr.cast::<c_void>(), name.as_ptr());
        #[allow(unused_imports, reason = "shadowed when tracy-client/enable is on")]
        use fallback::*;
        {
            #[allow(unused_imports, reason = "empty when tracy-client/enable is off")]
            use tracy_client::sys::*;
            // SAFETY: a client is running (`self` proves it); `name` is a
            // NUL-terminated string that lives forever, as Tracy requires of
            // pool names; `ptr` is only a key.
            unsafe { ___tracy_emit_memory_alloc_named(ptr, size, name) };
        }
    }

    /// The memory at `ptr`, handed out from the pool `name`, went back.
    pub(crate) fn free_named(&self, ptr: *const u8, name: &'static CStr) {
        let (ptr, name) = (ptr.cast::<c_void>(), name.as_ptr());
        #[allow(unused_imports, reason = "shadowed when tracy-client/enable is on")]
        use fallback::*;
        {
            #[allow(unused_imports, reason = "empty when tracy-client/enable is off")]
            use tracy_client::sys::*;
            // SAFETY: as in `alloc_named`.
            unsafe { ___tracy_emit_memory_free_named(ptr, name) };
        }
    }
}
