//! A counter with a single writer: the thread that owns the arena or heap it
//! belongs to. Updates are a load and a release store (no read-modify-write,
//! so no locked instruction on the fast path: on x86 the pair compiles to
//! one `inc`); any thread may read it with an acquire load.
//!
//! The release/acquire pair is what lets a reader combine counters: a
//! reader that sees a free counted (an acquire load) and then reads the
//! allocation counter sees at least the allocation that free undid, so
//! "allocations minus frees" never goes below zero.

use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub(crate) const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds `amount` (writer only).
    #[inline(always)]
    pub(crate) fn add(&self, amount: u64) {
        self.set(self.get().wrapping_add(amount));
    }

    /// Replaces the value (writer only).
    #[inline(always)]
    pub(crate) fn set(&self, value: u64) {
        self.0.store(value, Ordering::Release);
    }

    /// Raises the value to `value` if it is lower (writer only).
    #[inline(always)]
    pub(crate) fn raise_to(&self, value: u64) {
        if value > self.get() {
            self.set(value);
        }
    }

    /// The value (any thread).
    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}
