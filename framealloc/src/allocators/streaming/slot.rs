//! One streamed asset's slot: a state word that readers pin through
//! without a lock, and the asset's address and size.
//!
//! The state word packs `state` (4 bits), `generation` (28 bits) and
//! `pins` (32 bits). The lifecycle, and who moves it:
//!
//! | from | to | who | how |
//! |---|---|---|---|
//! | free | reserved | `reserve`, under the table lock | store (no reader can pin: not ready) |
//! | reserved | loading | `begin_load`, under the lock | CAS |
//! | loading | ready | `LoadWriter::finish` | CAS (release: the bytes are visible to pinners) |
//! | loading | reserved | a `LoadWriter` dropped unfinished | CAS |
//! | ready | ready, pins + 1 | `access` (any thread, no lock) | CAS, only if ready and the generation matches |
//! | ready, pins + 1 | ready | the guard's drop | `fetch_sub` |
//! | ready, 0 pins | evicted | eviction or `evict`, under the lock | CAS from exactly (ready, generation, 0 pins) |
//! | reserved / ready (0 pins) / evicted | free, generation + 1 | `release`, under the lock | CAS |
//!
//! Memory is freed only by the thread that won the CAS out of `ready` with
//! no pins (or out of `reserved`/`evicted`), and only pinning moves a slot
//! that is ready, so no pinned reader can see its bytes freed.

use core::sync::atomic::Ordering;

use crate::allocators::sync::{AtomicPtr, AtomicU64, AtomicUsize};

pub(crate) const FREE: u64 = 0;
pub(crate) const RESERVED: u64 = 1;
pub(crate) const LOADING: u64 = 2;
pub(crate) const READY: u64 = 3;
pub(crate) const EVICTED: u64 = 4;

const PIN_MASK: u64 = (1 << 32) - 1;
const GENERATION_BITS: u32 = 28;
pub(crate) const MAX_GENERATION: u32 = (1 << GENERATION_BITS) - 1;

/// Packs a state word.
pub(crate) fn word(state: u64, generation: u32, pins: u32) -> u64 {
    (state << 60) | (u64::from(generation) << 32) | u64::from(pins)
}

pub(crate) fn state_of(word: u64) -> u64 {
    word >> 60
}

pub(crate) fn generation_of(word: u64) -> u32 {
    ((word >> 32) as u32) & MAX_GENERATION
}

pub(crate) fn pins_of(word: u64) -> u32 {
    (word & PIN_MASK) as u32
}

/// A slot. Its address never changes once made (slots live in segments
/// that are never moved or freed before the allocator).
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) word: AtomicU64,
    /// The asset's bytes (a block from `memory::allocate_zeroed`) and
    /// their count, set before the slot leaves `free`.
    pub(crate) address: AtomicPtr<u8>,
    pub(crate) size: AtomicUsize,
    /// Bytes a loader reported.
    pub(crate) progress: AtomicUsize,
    /// The allocator's clock at the last access (LRU).
    pub(crate) last_access: AtomicU64,
}

impl Slot {
    /// Pins the slot if it is ready and of `generation`; returns whether
    /// it did.
    #[inline]
    pub(crate) fn pin(&self, generation: u32) -> bool {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if state_of(current) != READY
                || generation_of(current) != generation
                || pins_of(current) == u32::MAX
            {
                return false;
            }
            match self.word.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Undoes one [`pin`](Self::pin).
    #[inline]
    pub(crate) fn unpin(&self) {
        // Release: the reads made under the pin happen before an eviction
        // that observes the count back at zero.
        self.word.fetch_sub(1, Ordering::Release);
    }

    /// Moves the slot from `from` to `to` if its word is exactly `from`.
    pub(crate) fn transition(&self, from: u64, to: u64) -> bool {
        self.word
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn load(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }
}
