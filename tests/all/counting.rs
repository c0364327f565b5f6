//! A counting global allocator, and the test that repeated frames make no
//! calls to it once warm.
#![allow(unsafe_code, reason = "a `GlobalAlloc` implementation is unsafe by definition")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use framealloc::{AllocConfig, SmartAlloc};

struct Counting;

thread_local! {
    // `const` and free of destructors, so using them inside the allocator
    // never allocates or registers anything.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread.
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn count() {
    // `try_with` fails only while the thread's locals are being destroyed;
    // calls made then are simply not counted.
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

fn count_bytes(delta: i64) {
    let _ = NET_BYTES.try_with(|net| net.set(net.get() + delta));
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// adding only a thread-local counter update that cannot allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        count_bytes(layout.size() as i64);
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        count_bytes(layout.size() as i64);
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        count_bytes(-(layout.size() as i64));
        // SAFETY: forwarded from our caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        count_bytes(new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded from our caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Calls this thread made to the global allocator so far.
pub fn calls_on_this_thread() -> u64 {
    CALLS.with(Cell::get)
}

/// Bytes this thread allocated minus the bytes it freed, so far.
pub fn net_bytes_on_this_thread() -> i64 {
    NET_BYTES.with(Cell::get)
}

/// One frame of mixed work: small values, slices, a string, a growing
/// `Vec<_, &Frame>`, and enough bytes to need several chunks.
fn busy_frame(alloc: &SmartAlloc, round: usize) -> usize {
    let frame = alloc.begin_frame();
    let mut total = 0;
    for i in 0..64 {
        let value = frame.alloc(i as u64 + round as u64);
        let slice = frame.alloc_slice_fill_with(200, |j| (i + j) as u32);
        total += *value as usize + slice[199] as usize;
    }
    let name = frame.alloc_str("steady");
    let mut list = allocator_api2::vec::Vec::new_in(&frame);
    list.extend(0..5_000u32);
    total += name.len() + list.len();
    total
}

#[test]
fn repeated_frames_make_no_global_allocator_calls_after_warm_up() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(4 << 10));
    for round in 0..3 {
        busy_frame(&alloc, round);
    }
    let chunks_after_warm_up = alloc.stats().frame.chunk_allocations;
    assert!(
        chunks_after_warm_up > 1,
        "the work should need several chunks"
    );

    let before = calls_on_this_thread();
    let rounds = if cfg!(miri) { 3 } else { 50 };
    for round in 0..rounds {
        std::hint::black_box(busy_frame(&alloc, round));
    }
    let during = calls_on_this_thread() - before;

    assert_eq!(
        during, 0,
        "steady-state frames called the global allocator {during} times"
    );
    assert_eq!(alloc.stats().frame.chunk_allocations, chunks_after_warm_up);
}

#[test]
fn the_counter_sees_ordinary_allocations() {
    // Guards the test above against a counter that never counts.
    let before = calls_on_this_thread();
    let boxed = std::hint::black_box(Box::new(5u64));
    drop(boxed);
    assert_eq!(calls_on_this_thread() - before, 2);
}

#[test]
fn a_dropped_allocator_gives_every_byte_back_to_the_system() {
    // Measured while the process runs, not at exit: everything this thread
    // allocated for the allocator (its state, arena, chunks, heap, pages and
    // blocks) is freed by the time the last handle and box are gone. The
    // thread's lease lists, and the husk a dead lease points to until the
    // next allocator replaces it, are the same size every round: the first
    // round warms them up.
    for (round, budgets) in [(0, false), (1, false), (2, true)] {
        let before = net_bytes_on_this_thread();
        let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(budgets));
        busy_frame(&alloc, 0);
        let pooled: Vec<_> = (0..3_000u64)
            .map(|i| alloc.pool_box([i; 4]).unwrap())
            .collect();
        let heaped = alloc.heap_box([7u8; 10_000]).unwrap();
        assert!(net_bytes_on_this_thread() - before > 200_000);
        drop(alloc);
        assert!(pooled.iter().enumerate().all(|(i, b)| b[3] == i as u64));
        drop(pooled);
        drop(heaped);
        if round > 0 {
            assert_eq!(
                net_bytes_on_this_thread(),
                before,
                "budgets {budgets}: bytes the allocator kept"
            );
        }
    }
}
