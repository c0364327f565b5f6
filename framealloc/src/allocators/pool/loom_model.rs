//! Loom models of the pool lifecycle:
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib --release loom_model`
//!
//! The close and the frees that race it, on the real paths: the heap's
//! remote-frees word, the heaps and pages locks and the closed flag are
//! loom's, so every interleaving of them is explored. The heap-intent
//! free path stands for both intents (the pool path differs only in
//! using a page's remote word, modelled in `pool_page`).
#![expect(unsafe_code, reason = "the model hands heap pointers to its threads, as boxes do")]

use std::sync::{Arc, Weak};

use super::free::count_heap_free_slow;
use super::heap::LocalHeap;
use super::lifecycle::PoolState;
use super::owned::OwnedHeap;
use crate::allocators::lease::Lessor;
use crate::budget::BudgetManager;
use crate::diagnostics::Observer;

/// A heap pointer a model thread may hold: the heap outlives the free
/// that holds it (that free's block keeps it alive).
#[derive(Clone, Copy)]
struct HeapPtr(*const LocalHeap);
// SAFETY: the model threads only call the remote free path, built for
// concurrent callers.
unsafe impl Send for HeapPtr {}

impl HeapPtr {
    fn free_one(self) {
        // SAFETY: each call counts the free of one distinct live block
        // of 16 bytes, counted on this heap by `idle_heap_with`.
        unsafe { count_heap_free_slow(self.0, 16) }
    }
}

/// An allocator's pool state whose only heap is idle (its thread
/// exited) with `blocks` live heap-intent blocks of 16 bytes.
fn idle_heap_with(blocks: usize) -> (Arc<PoolState>, HeapPtr, Weak<PoolState>) {
    let state = Arc::new(PoolState::new(
        1,
        0,
        Arc::new(BudgetManager::new(false)),
        Observer::detached(),
    ));
    let heap = PoolState::adopt(&state, 8);
    // SAFETY: adopted just above, by this (model) thread.
    let heap_ref = unsafe { heap.as_ref() };
    // SAFETY: as above: owned by this thread until `give_up` below.
    let owned = unsafe { OwnedHeap::assume(heap_ref) };
    for _ in 0..blocks {
        owned.count_heap_alloc(16);
    }
    // SAFETY: owned by this model thread, which is done with it.
    unsafe { state.give_up(heap_ref, 8) }.finish();
    let probe = Arc::downgrade(&state);
    (state, HeapPtr(heap.as_ptr()), probe)
}

#[test]
fn the_close_racing_a_remote_free_into_an_idle_heap_leaves_nothing_behind() {
    // Issue 9, item 5: the free read "open", the close released nothing
    // (one block live), then the free counted itself with no one left
    // to release the heap: the whole state leaked.
    loom::model(|| {
        let (state, heap, probe) = idle_heap_with(1);
        let closer = loom::thread::spawn(move || {
            state.close();
            drop(state); // the last handle's count
        });
        let freer = loom::thread::spawn(move || heap.free_one());
        closer.join().unwrap();
        freer.join().unwrap();
        assert!(probe.upgrade().is_none(), "the state must be freed");
    });
}

#[test]
fn the_last_two_frees_after_the_close_release_the_heap_once() {
    // Issue 9, item 17: the free that did not empty the heap read it
    // after unlocking, while the other released it and freed the state.
    loom::model(|| {
        let (state, heap, probe) = idle_heap_with(2);
        state.close();
        drop(state);
        assert!(probe.upgrade().is_some(), "two blocks keep it");
        let one = loom::thread::spawn(move || heap.free_one());
        let two = loom::thread::spawn(move || heap.free_one());
        one.join().unwrap();
        two.join().unwrap();
        assert!(probe.upgrade().is_none(), "the state must be freed");
    });
}

#[test]
fn the_close_racing_two_remote_frees_frees_the_state_once() {
    loom::model(|| {
        let (state, heap, probe) = idle_heap_with(2);
        let closer = loom::thread::spawn(move || {
            state.close();
            drop(state);
        });
        let one = loom::thread::spawn(move || heap.free_one());
        heap.free_one();
        closer.join().unwrap();
        one.join().unwrap();
        assert!(probe.upgrade().is_none(), "the state must be freed");
    });
}

#[test]
fn the_owner_leaving_races_the_last_free_after_the_close_released_once() {
    // Found by Miri in CI: the owner's thread-local destructor checked
    // "do I still own the heap?" before taking the heaps lock; the last
    // free after the close released the heap in between, and the owner
    // released it again (its strong count given back twice).
    loom::model(|| {
        let state = Arc::new(PoolState::new(
            1,
            0,
            Arc::new(BudgetManager::new(false)),
            Observer::detached(),
        ));
        let heap = PoolState::adopt(&state, 8);
        // SAFETY: adopted just above, by this (model) thread.
        let heap_ref = unsafe { heap.as_ref() };
        // SAFETY: as above: this thread owns it until it leaves below.
        unsafe { OwnedHeap::assume(heap_ref) }.count_heap_alloc(16);
        let probe = Arc::downgrade(&state);
        let lease = probe.clone();
        state.close();
        drop(state); // the last handle's count: the heap's keeps the state
        let ptr = HeapPtr(heap.as_ptr());
        let freer = loom::thread::spawn(move || ptr.free_one());
        // The owner leaves, as its lease does at thread exit.
        if let Some(state) = lease.upgrade() {
            Lessor::give_up(&*state, heap, 8);
        }
        freer.join().unwrap();
        assert!(probe.upgrade().is_none(), "the state must be freed");
    });
}
