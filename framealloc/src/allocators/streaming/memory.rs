//! Asset bytes: zeroed blocks from the system, read by pinned guards and
//! written by the one loader of an asset.

#![expect(unsafe_code, reason = "asset bytes are raw blocks shared under the slot protocol")]

use core::alloc::Layout;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::slot::Slot;
use crate::allocators::poison;

/// Asset blocks are aligned for any plain data a loader writes.
const ALIGN: usize = 64;

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), ALIGN).ok()
}

/// A zeroed block of `len` bytes (zeroed, so a reader never sees
/// uninitialised memory even where a loader wrote nothing).
pub(crate) fn allocate_zeroed(len: usize) -> Option<NonNull<u8>> {
    let layout = layout(len)?;
    // SAFETY: `layout` has a non-zero size.
    NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
}

/// Gives a block back to the system; with the `debug` feature, its bytes
/// are poisoned first (an evicted or released asset's memory).
///
/// # Safety
///
/// - `block` came from [`allocate_zeroed`] with `len`, and is freed once,
///   when nothing reads or writes it any more.
pub(crate) unsafe fn free(block: NonNull<u8>, len: usize) {
    let Some(layout) = layout(len) else { return };
    // SAFETY: forwarded from the caller: `len` bytes of a live block that
    // nothing else uses.
    unsafe { poison::freed(block, len) };
    // SAFETY: forwarded from the caller.
    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
}

/// Read access to a ready asset, from [`StreamingAllocator::access`]: the
/// asset stays resident (it cannot be evicted or released) while the guard
/// lives. It derefs to the asset's bytes.
///
/// [`StreamingAllocator::access`]: super::StreamingAllocator::access
pub struct AccessGuard<'a> {
    slot: &'a Slot,
    bytes: NonNull<[u8]>,
}

impl<'a> AccessGuard<'a> {
    /// A guard over `slot`'s bytes.
    ///
    /// # Safety
    ///
    /// - The caller pinned `slot` (it is ready), and the pin passes to the
    ///   guard, which undoes it on drop.
    pub(crate) unsafe fn new(slot: &'a Slot, start: NonNull<u8>, len: usize) -> AccessGuard<'a> {
        AccessGuard {
            slot,
            bytes: NonNull::slice_from_raw_parts(start, len),
        }
    }
}

impl Deref for AccessGuard<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the pin keeps the block allocated and the asset ready: no
        // writer exists for a ready asset, and eviction and release need
        // zero pins.
        unsafe { self.bytes.as_ref() }
    }
}

impl Drop for AccessGuard<'_> {
    fn drop(&mut self) {
        self.slot.unpin();
    }
}

impl core::fmt::Debug for AccessGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccessGuard")
            .field("len", &self.len())
            .finish()
    }
}

/// The bytes of an asset being loaded, owned by its one loader.
pub(crate) struct LoadBytes {
    bytes: NonNull<[u8]>,
}

// SAFETY: the loader is the only party that touches a loading asset's
// bytes (readers pin only ready assets; eviction and release skip loading
// ones), so the buffer moves with it like a `Box<[u8]>`.
unsafe impl Send for LoadBytes {}
// SAFETY: shared access only reads, through `&LoadBytes`.
unsafe impl Sync for LoadBytes {}

impl LoadBytes {
    /// # Safety
    ///
    /// - `start` and `len` are a block from [`allocate_zeroed`] of an
    ///   asset this caller just moved to `loading`: nothing else reads,
    ///   writes or frees it until the loading ends.
    pub(crate) unsafe fn new(start: NonNull<u8>, len: usize) -> LoadBytes {
        LoadBytes {
            bytes: NonNull::slice_from_raw_parts(start, len),
        }
    }
}

impl Deref for LoadBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the loader owns the bytes while loading (`new`).
        unsafe { self.bytes.as_ref() }
    }
}

impl DerefMut for LoadBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` is the only access.
        unsafe { self.bytes.as_mut() }
    }
}

/// Pins `slot` for reading if it holds a ready asset of `generation`, and
/// returns the guard that unpins it.
#[inline]
pub(crate) fn access(slot: &Slot, generation: u32) -> Option<AccessGuard<'_>> {
    if !slot.pin(generation) {
        return None;
    }
    let Some(start) = NonNull::new(slot.address.load(core::sync::atomic::Ordering::Relaxed)) else {
        slot.unpin(); // a ready asset always has a block; never reached
        return None;
    };
    let len = slot.size.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: pinned just above (the pin's acquire ordering makes the
    // address and size stored before `ready` visible); the pin passes to
    // the guard.
    Some(unsafe { AccessGuard::new(slot, start, len) })
}

/// Moves `slot` from `word` (reserved) to loading and returns its bytes
/// for the one loader. `None` if the slot was not exactly `word`.
pub(crate) fn start_load(slot: &Slot, word: u64) -> Option<LoadBytes> {
    let generation = super::slot::generation_of(word);
    let loading = super::slot::word(super::slot::LOADING, generation, 0);
    if super::slot::state_of(word) != super::slot::RESERVED || !slot.transition(word, loading) {
        return None;
    }
    let start = NonNull::new(slot.address.load(core::sync::atomic::Ordering::Relaxed))?;
    let len = slot.size.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the transition above made this caller the asset's one
    // loader; a reserved asset's block is from `allocate_zeroed(len)`.
    Some(unsafe { LoadBytes::new(start, len) })
}

#[cfg(all(test, feature = "debug"))]
mod tests {
    /// `free` poisons through `poison::freed` before the block goes back; the
    /// freed bytes cannot be read soundly, so the poisoning itself is
    /// checked on a live block.
    #[cfg(feature = "debug")]
    #[test]
    fn poison_fills_the_block_with_the_freed_byte() {
        let block = super::allocate_zeroed(100).unwrap();
        // SAFETY: a fresh 100-byte block that nothing else uses.
        unsafe { crate::allocators::poison::freed(block, 100) };
        // SAFETY: as above; the block is initialised (zeroed, then poisoned).
        let bytes = unsafe { core::slice::from_raw_parts(block.as_ptr(), 100) }.to_vec();
        assert_eq!(bytes, [crate::diagnostics::FREED_BYTE; 100]);
        // SAFETY: from `allocate_zeroed(100)`, freed once.
        unsafe { super::free(block, 100) };
    }
}
