//! Loom model of the streaming slot protocol:
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib --release loom_model`
//!
//! An access pinning a ready asset races an eviction that frees it. The
//! asset's bytes are a loom cell: loom reports a read and the "free" (a
//! write) that no happens-before orders, so the model fails if the pin,
//! the unpin and the eviction's compare-and-swap are ordered too weakly.
#![expect(unsafe_code, reason = "the asset bytes are a loom cell behind raw pointers")]

use core::sync::atomic::Ordering;

use loom::cell::UnsafeCell;
use loom::sync::Arc;

use super::slot::{self, EVICTED, READY, Slot};

/// The eviction step of `Inner::evict_locked`: from exactly (ready,
/// generation 0, no pins) to evicted, then the bytes die.
fn try_evict(slot: &Slot, bytes: &UnsafeCell<u8>) -> bool {
    let word = slot.load();
    if slot::state_of(word) != READY || slot::pins_of(word) != 0 {
        return false;
    }
    if !slot.transition(word, slot::word(EVICTED, 0, 0)) {
        return false;
    }
    // SAFETY (model): the transition proved no pin; the "free".
    bytes.with_mut(|byte| unsafe { *byte = 0 });
    true
}

#[test]
fn loom_model_an_access_racing_an_eviction_never_reads_freed_bytes() {
    loom::model(|| {
        let slot = Arc::new(Slot::default());
        slot.word.store(slot::word(READY, 0, 0), Ordering::Release);
        let bytes = Arc::new(UnsafeCell::new(7u8));
        let (reader_slot, reader_bytes) = (slot.clone(), bytes.clone());
        let reader = loom::thread::spawn(move || {
            if reader_slot.pin(0) {
                // SAFETY (model): pinned: the bytes are alive.
                let seen = reader_bytes.with(|byte| unsafe { *byte });
                assert_eq!(seen, 7, "read after the eviction freed the bytes");
                reader_slot.unpin();
            }
        });
        let evicted = try_evict(&slot, &bytes);
        reader.join().unwrap();
        // Whatever happened first, a second attempt after the reader is
        // done always succeeds (the pin was undone).
        assert!(evicted || try_evict(&slot, &bytes));
    });
}

#[test]
fn loom_model_two_evictors_free_the_bytes_once() {
    loom::model(|| {
        let slot = Arc::new(Slot::default());
        slot.word.store(slot::word(READY, 0, 0), Ordering::Release);
        let bytes = Arc::new(UnsafeCell::new(7u8));
        let (other_slot, other_bytes) = (slot.clone(), bytes.clone());
        let other = loom::thread::spawn(move || try_evict(&other_slot, &other_bytes));
        let here = try_evict(&slot, &bytes);
        let there = other.join().unwrap();
        assert!(here ^ there, "exactly one eviction wins");
    });
}
