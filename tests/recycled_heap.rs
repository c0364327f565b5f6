//! A thread's cached heap must not be mistaken for a new heap that the
//! global allocator placed at the same address (issue 9, item 1).
//!
//! This binary's global allocator recycles freed blocks of the sizes and
//! alignments of thread heaps and pool pages at once, as any allocator with
//! per-size free lists may. A thread frees the last box of an allocator that
//! was dropped, which releases that allocator's heap; a second allocator,
//! used by another thread, then gets a heap (and pages) at the same
//! addresses. The first thread's frees of the second allocator's boxes must
//! go to the remote path: had the fast path compared addresses, they would
//! land on the other thread's unsynchronised free list, and slots would be
//! handed out twice.
#![allow(unsafe_code, reason = "a `GlobalAlloc` implementation is unsafe by definition")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;

use framealloc::{PoolBox, SmartAlloc};

/// A freed block kept for reuse: its size, alignment and address.
struct Kept(usize, usize, *mut u8);

// SAFETY: a kept block is plain memory that no one uses until it is handed
// out again.
unsafe impl Send for Kept {}

/// Freed blocks aligned to 1 KiB or more (thread heaps, pool pages), kept
/// to be handed out again, newest first.
static RECYCLED: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

struct Recycling;

impl Recycling {
    fn recycles(layout: Layout) -> bool {
        layout.align() >= 1024
    }
}

// SAFETY: a recycled block was allocated by `System` with exactly the same
// size and alignment and freed by its owner; every other request is
// forwarded. The vector never grows past the capacity reserved in `main`
// while the lock is held, so the lock never allocates through us.
unsafe impl GlobalAlloc for Recycling {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::recycles(layout) {
            let mut recycled = RECYCLED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let found = recycled
                .iter()
                .rposition(|kept| (kept.0, kept.1) == (layout.size(), layout.align()));
            if let Some(index) = found {
                return recycled.remove(index).2;
            }
        }
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::recycles(layout) {
            let mut recycled = RECYCLED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if recycled.len() < recycled.capacity() {
                recycled.push(Kept(layout.size(), layout.align(), ptr));
                return;
            }
        }
        // SAFETY: forwarded from our caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Recycling = Recycling;

#[test]
fn a_stale_cached_heap_never_matches_a_recycled_one() {
    RECYCLED.lock().unwrap().reserve(256);
    let rounds = if cfg!(miri) { 2 } else { 200 };
    for round in 0..rounds {
        let (to_stale, stale_inbox) = mpsc::channel::<Vec<PoolBox<[u64; 2]>>>();
        let (stale_ready, wait_stale) = mpsc::channel::<()>();
        // The stale thread: uses an allocator, drops it, frees its last box
        // itself (the heap is released and freed; the thread's cache keeps
        // it), then frees what the other thread sends it.
        let stale = thread::spawn(move || {
            let first = SmartAlloc::with_defaults();
            let last = first.pool_box([round; 2]).unwrap();
            drop(first);
            drop(last);
            stale_ready.send(()).unwrap();
            let mut freed = 0u64;
            for batch in stale_inbox {
                for boxed in batch {
                    assert_eq!(boxed[0], boxed[1], "a slot was handed out twice");
                    freed += 1;
                }
            }
            freed
        });
        wait_stale.recv().unwrap();
        // The other thread: a new allocator, whose heap and pages come from
        // the recycled blocks, allocating while the stale thread frees.
        let second = SmartAlloc::with_defaults();
        let sent = thread::scope(|s| {
            s.spawn(|| {
                let mut sent = 0u64;
                let mut kept: Vec<PoolBox<[u64; 2]>> = Vec::new();
                let steps = if cfg!(miri) { 20 } else { 400 };
                for step in 0..steps as u64 {
                    let value = (round << 32) | step;
                    let batch: Vec<_> = (0..8)
                        .map(|i| second.pool_box([value + i; 2]).unwrap())
                        .collect();
                    for boxed in &batch {
                        assert_eq!(boxed[0], boxed[1]);
                    }
                    kept.push(second.pool_box([value; 2]).unwrap());
                    sent += batch.len() as u64;
                    to_stale.send(batch).unwrap();
                    for boxed in &kept {
                        assert_eq!(boxed[0], boxed[1], "a kept value was overwritten");
                    }
                    if kept.len() > 16 {
                        kept.drain(..8);
                    }
                }
                drop(to_stale);
                sent
            })
            .join()
            .unwrap()
        });
        let freed = stale.join().unwrap();
        assert_eq!(sent, freed);
        let stats = second.stats();
        assert_eq!(
            stats.pool.allocations, stats.pool.deallocations,
            "{stats:?}"
        );
        assert_eq!(stats.pool.live_bytes, 0);
    }
}
