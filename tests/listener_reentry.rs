//! Budget listeners that open a frame on the allocator whose event they
//! handle, on the same thread, at the moments the arena is busiest: while a
//! frame ends (its chunks are merged at reset) and while a frame brings in
//! a chunk (issue 9, item 11). Before the fix the first panicked with
//! "RefCell already borrowed" inside `Frame::drop`, so it runs in a binary
//! of its own.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use framealloc::{AllocConfig, BudgetEvent, SmartAlloc};

thread_local! {
    /// Stops the listener from re-entering itself through its own frame.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// An allocator with budgets and 1 KiB chunks, whose listener opens a frame
/// on it for every `NewPeak`, fills 4 KiB there (a chunk of its own) and
/// records the sum it read back.
fn allocator_with_a_frame_opening_listener() -> (SmartAlloc, Arc<Mutex<Vec<u64>>>) {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_frame_chunk_size(1024),
    );
    // A small soft limit makes every step of growth past a sixteenth of the
    // last peak a `NewPeak` (without limits the steps are 64 KiB).
    alloc.budgets().set_global_limits(Some(16), None).unwrap();
    let sums = Arc::new(Mutex::new(Vec::new()));
    let (weak, sink) = (alloc.downgrade(), sums.clone());
    alloc.budgets().on_event(move |event| {
        if !matches!(event, BudgetEvent::NewPeak { tag: None, .. }) || INSIDE.get() {
            return;
        }
        let Some(alloc) = weak.upgrade() else { return };
        INSIDE.set(true);
        let frame = alloc.begin_frame();
        let scratch = frame.alloc_slice_fill_with(512, |i| i as u64);
        sink.lock().unwrap().push(scratch.iter().sum());
        drop(scratch);
        frame.end();
        INSIDE.set(false);
    });
    (alloc, sums)
}

#[test]
fn a_listener_may_open_a_frame_while_a_frame_ends() {
    let (alloc, sums) = allocator_with_a_frame_opening_listener();
    let frame = alloc.begin_frame();
    // Three chunks: the reset merges them into one, which charges the
    // budget and raises the peak.
    let parts: Vec<_> = (0..3u8).map(|i| frame.alloc([i; 1000])).collect();
    assert!(frame.report().chunks >= 3);
    assert!(
        parts
            .iter()
            .enumerate()
            .all(|(i, part)| **part == [i as u8; 1000])
    );
    drop(parts);
    sums.lock().unwrap().clear();
    frame.end();
    assert!(
        !sums.lock().unwrap().is_empty(),
        "the merge raised the peak"
    );
    assert!(sums.lock().unwrap().iter().all(|&sum| sum == 511 * 512 / 2));
    // The arena is whole: another frame works and reuses what is there.
    let frame = alloc.begin_frame();
    let again = frame.alloc_slice_fill_with(300, |i| i as u32);
    assert!(again.iter().enumerate().all(|(i, &v)| v == i as u32));
}

#[test]
fn a_listener_may_open_a_frame_while_a_frame_brings_in_a_chunk() {
    let (alloc, sums) = allocator_with_a_frame_opening_listener();
    let frame = alloc.begin_frame();
    let first = frame.alloc([1u8; 1000]);
    let second = frame.alloc([2u8; 1000]); // a new chunk: a new peak
    assert!(!sums.lock().unwrap().is_empty());
    let third = frame.alloc([3u8; 1000]);
    assert_eq!((first[999], second[999], third[999]), (1, 2, 3));
    assert!(sums.lock().unwrap().iter().all(|&sum| sum == 511 * 512 / 2));
}
