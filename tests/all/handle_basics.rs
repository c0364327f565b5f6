//! The handles intent: exact footprints around a defragmentation, drop
//! counts, generations and retirement, FA401/FA403, budgets and threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use framealloc::diagnostics::Capture;
use framealloc::{AllocConfig, Handle, HandleAllocator, SmartAlloc};

use crate::support::{count, panic_text};

struct Dropped(
    Arc<AtomicUsize>,
    #[expect(dead_code, reason = "gives the value a size")] [u64; 3],
);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn handles_are_8_bytes_and_copy() {
    assert_eq!(size_of::<Handle<[u8; 1 << 20]>>(), 8);
    assert_eq!(size_of::<Option<Handle<String>>>(), 8);
    static_assertions_like::<Handle<String>>();
    fn static_assertions_like<T: Copy + Send + Sync + Eq + std::hash::Hash + 'static>() {}
}

#[test]
fn defragmentation_footprint_in_exact_figures() {
    // 1,000 values of 256 bytes fill chunks of 64, 64 and 128 KiB (each
    // new chunk is as large as those before: 256, 256 and 488 values);
    // under Miri 300 fill the first two.
    let mut handles = HandleAllocator::new();
    let n = count(1000, 300);
    let all: Vec<Handle<[u8; 256]>> = (0..n)
        .map(|i| handles.alloc([i as u8; 256]).unwrap())
        .collect();
    let full = handles.stats();
    assert_eq!(full.live_bytes, n * 256);
    assert_eq!(full.bytes_in_use, n * 256);
    let chunks = if n == 1000 { 3 } else { 2 };
    assert_eq!(full.chunks, chunks);
    assert_eq!(
        full.reserved_bytes,
        if n == 1000 { 256 << 10 } else { 128 << 10 }
    );
    // Free three out of four (values 0, 1, 2 of every 4 go).
    for (i, h) in all.iter().enumerate() {
        if i % 4 != 3 {
            handles.free(*h).unwrap();
        }
    }
    let holey = handles.stats();
    let survivors = n / 4;
    assert_eq!(holey.live_bytes, survivors * 256);
    assert_eq!(
        holey.bytes_in_use,
        n * 256,
        "the last value of every chunk is live: no top moved"
    );

    let report = handles.defragment();
    assert_eq!(report.bytes_in_use_before, n * 256);
    assert_eq!(
        report.bytes_in_use_after,
        survivors * 256,
        "live bytes, nothing else"
    );
    assert_eq!(report.relocations.len(), survivors);
    assert_eq!(report.bytes_moved, survivors * 256);
    let after = handles.stats();
    assert_eq!(after.chunks, 1, "every survivor fits in the first chunk");
    assert_eq!(
        after.reserved_bytes,
        64 << 10,
        "the emptied chunks went back"
    );
    assert_eq!(report.reserved_before, full.reserved_bytes);
    assert_eq!(report.reserved_after, after.reserved_bytes);
    for (i, h) in all.iter().enumerate() {
        if i % 4 == 3 {
            assert_eq!(handles.get(*h), Some(&[i as u8; 256]));
        } else {
            assert!(!handles.contains(*h));
        }
    }
    // Relocations name the handle and where it went.
    let first = report.relocations[0];
    assert_eq!(first.handle, all[3].erase());
    assert_eq!(
        (first.from.offset, first.to.offset, first.size),
        (3 * 256, 0, 256)
    );
}

#[test]
fn pinned_values_never_move_and_keep_their_holes() {
    let mut handles = HandleAllocator::new();
    let hs: Vec<Handle<[u64; 8]>> = (0..10u64).map(|i| handles.alloc([i; 8]).unwrap()).collect();
    for i in [0, 1, 2, 5, 6] {
        handles.free(hs[i]);
    }
    handles.pin(hs[4]).unwrap();
    let pinned_at = handles.resolve(hs[4]).unwrap();
    let report = handles.defragment();
    // hs[3] slides to 0; hs[4] stays at 4 * 64 (a 3 * 64 hole below it);
    // hs[7..] slide down to right after it.
    assert_eq!(handles.resolve(hs[4]).unwrap(), pinned_at);
    let moved: Vec<_> = report
        .relocations
        .iter()
        .map(|r| (r.from.offset, r.to.offset))
        .collect();
    assert_eq!(moved, [(192, 0), (448, 320), (512, 384), (576, 448)]);
    assert_eq!(report.bytes_in_use_after, 8 * 64);
    handles.unpin(hs[4]).unwrap();
    let report = handles.defragment();
    assert_eq!(report.bytes_in_use_after, 5 * 64, "unpinned, it moves too");
    for i in [3, 4, 7, 8, 9] {
        assert_eq!(handles.get(hs[i]), Some(&[i as u64; 8]));
    }
}

#[test]
fn defragment_step_moves_at_most_its_budget() {
    let mut handles = HandleAllocator::new();
    let hs: Vec<Handle<[u8; 100]>> = (0..200)
        .map(|i| handles.alloc([i as u8; 100]).unwrap())
        .collect();
    for h in hs.iter().step_by(2) {
        handles.free(*h);
    }
    let mut steps = 0;
    loop {
        let report = handles.defragment_step(1000);
        assert!(report.bytes_moved <= 1000);
        steps += 1;
        if report.complete {
            break;
        }
        for (i, h) in hs.iter().enumerate().skip(1).step_by(2) {
            assert_eq!(
                handles.get(*h).unwrap()[0],
                i as u8,
                "readable between steps"
            );
        }
    }
    assert_eq!(steps, 10, "100 values of 100 bytes, 10 per step");
    assert_eq!(handles.stats().bytes_in_use, 100 * 100);
}

#[test]
fn drop_counts_free_defragment_and_drop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = HandleAllocator::new();
    let hs: Vec<_> = (0..100)
        .map(|_| handles.alloc(Dropped(drops.clone(), [0; 3])).unwrap())
        .collect();
    for h in &hs[..50] {
        drop(handles.free(*h));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 50);
    handles.defragment();
    assert_eq!(drops.load(Ordering::Relaxed), 50, "moving drops nothing");
    drop(handles);
    assert_eq!(drops.load(Ordering::Relaxed), 100);
}

#[test]
fn a_panicking_destructor_does_not_stop_the_others() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = HandleAllocator::new();
    handles.alloc(Dropped(drops.clone(), [0; 3])).unwrap();
    handles.alloc(Bomb).unwrap();
    handles.alloc(Dropped(drops.clone(), [0; 3])).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(handles)));
    assert_eq!(panic_text(outcome.unwrap_err().as_ref()), "bomb");
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn stale_and_foreign_handles_give_none_and_fa401() {
    let mut handles = HandleAllocator::new();
    let mut other = HandleAllocator::new();
    let old = handles.alloc(1u32).unwrap();
    handles.free(old);
    let new = handles.alloc(2u32).unwrap();
    assert_eq!(new.index(), old.index(), "the slot was reused");
    let foreign = other.alloc(3u32).unwrap();
    assert_eq!(foreign.index(), old.index());
    let capture = Capture::start();
    assert_eq!(handles.get(old), None);
    assert_eq!(handles.get(foreign), None);
    assert_eq!(handles.get(new), Some(&2));
    let seen = capture.finish();
    let notes: Vec<_> = seen
        .iter()
        .map(|d| (d.code, d.note.clone().unwrap_or_default()))
        .collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].0, "FA401");
    assert!(notes[0].1.contains("was freed"), "{notes:?}");
    assert!(notes[1].1.contains("another allocator"), "{notes:?}");
    assert_eq!(handles.pin(old).unwrap_err().code(), "FA401");
}

#[test]
fn a_slot_whose_generation_would_wrap_is_retired() {
    let mut handles = HandleAllocator::new();
    let first = handles.alloc(1u8).unwrap();
    handles.free(first);
    assert!(handles.__set_free_generation(first.index(), (1 << 20) - 1));
    let last = handles.alloc(2u8).unwrap();
    assert_eq!(
        (last.index(), last.generation()),
        (first.index(), (1 << 20) - 1)
    );
    handles.free(last);
    assert_eq!(handles.stats().retired_slots, 1);
    assert_eq!(handles.stats().free_slots, 0);
    let next = handles.alloc(3u8).unwrap();
    assert_ne!(
        next.index(),
        first.index(),
        "the retired slot is never reused"
    );
    assert!(!handles.contains(first) && !handles.contains(last));
}

#[test]
fn budgets_refuse_handle_chunks() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc
        .budgets()
        .set_global_limits(None, Some(100 << 10))
        .unwrap();
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([0u8; 1024]).unwrap();
    assert_eq!(alloc.budgets().global_usage().used, 64 << 10);
    let capture = Capture::start();
    let err = handles.alloc([0u8; 64 << 10]).unwrap_err();
    assert_eq!(err.code(), "FA301");
    assert_eq!(capture.finish()[0].code, "FA301");
    handles.free(a);
    handles.defragment(); // the empty chunk goes back
    assert_eq!(alloc.budgets().global_usage().used, 0);
}

#[test]
fn shared_reads_from_scoped_threads_and_a_move_to_another_thread() {
    let mut handles = HandleAllocator::new();
    let hs: Vec<Handle<u64>> = (0..count(10_000, 50) as u64)
        .map(|i| handles.alloc(i).unwrap())
        .collect();
    let sum: u64 = std::thread::scope(|s| {
        let (left, right) = hs.split_at(hs.len() / 2);
        let handles = &handles;
        let a = s.spawn(move || left.iter().map(|h| *handles.get(*h).unwrap()).sum::<u64>());
        let b = s.spawn(move || right.iter().map(|h| *handles.get(*h).unwrap()).sum::<u64>());
        a.join().unwrap() + b.join().unwrap()
    });
    let n = hs.len() as u64;
    assert_eq!(sum, n * (n - 1) / 2);
    let hs2 = hs.clone();
    let handles = std::thread::spawn(move || {
        for h in hs2.iter().step_by(2) {
            handles.free(*h);
        }
        handles.defragment();
        handles
    })
    .join()
    .unwrap();
    assert_eq!(handles.get(hs[1]), Some(&1));
    assert_eq!(handles.len(), hs.len() / 2);
}

#[test]
fn values_moved_into_a_chunk_with_a_pinned_value_go_after_it() {
    // Chunks of 64, 64 and 128 KiB: 256 values of 256 bytes fill each of
    // the first two; ten more go to the third.
    let mut handles = HandleAllocator::new();
    let all: Vec<Handle<[u32; 64]>> = (0..522u32)
        .map(|i| handles.alloc([i; 64]).unwrap())
        .collect();
    assert_eq!(handles.stats().chunks, 3);
    let pinned = all[256 + 128]; // the middle of the second chunk
    handles.pin(pinned).unwrap();
    let pinned_at = handles.resolve(pinned).unwrap();
    for h in &all[256..512] {
        if *h != pinned {
            handles.free(*h);
        }
    }
    // The first chunk is full, so the third chunk's ten values move into
    // the second, after the pinned value (at 128 * 256), not below it.
    let report = handles.defragment();
    assert_eq!(report.relocations.len(), 10);
    for (i, relocation) in report.relocations.iter().enumerate() {
        assert_eq!(relocation.to.offset, 129 * 256 + i * 256);
    }
    assert_eq!(report.bytes_in_use_after, (64 << 10) + 129 * 256 + 10 * 256);
    assert_eq!(handles.stats().chunks, 2);
    // New values go after them, never over the pinned one.
    let more: Vec<_> = (0..100u32)
        .map(|i| handles.alloc([1000 + i; 64]).unwrap())
        .collect();
    assert_eq!(handles.resolve(pinned).unwrap(), pinned_at);
    assert_eq!(handles.get(pinned), Some(&[384; 64]));
    for (i, h) in all[512..].iter().enumerate() {
        assert_eq!(handles.get(*h), Some(&[512 + i as u32; 64]));
    }
    for (i, h) in more.iter().enumerate() {
        assert_eq!(handles.get(*h), Some(&[1000 + i as u32; 64]));
    }
}
