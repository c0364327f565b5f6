//! When pool and heap memory goes back to the system, and what the figures
//! say meanwhile: frees counted where they happen, heaps released once the
//! allocator is gone and their last box is, whichever thread frees it
//! (issue 9, items 5, 6, 7, 9, 15 and 17).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier};
use std::thread;

use framealloc::{AllocConfig, HeapBox, PoolBox, SmartAlloc};

use crate::support::{Rng, count};

#[test]
fn frees_on_other_threads_are_counted_without_a_collection() {
    // Item 6: the figures lagged until the owner collected remote frees, so
    // `allocation_count - deallocation_count` reported false leaks.
    let alloc = SmartAlloc::with_defaults();
    let n = count(3_000, 40);
    let pooled: Vec<PoolBox<[u64; 4]>> = (0..n)
        .map(|i| alloc.pool_box([i as u64; 4]).unwrap())
        .collect();
    let heaped: Vec<HeapBox<[u8; 8000]>> = (0..n / 10)
        .map(|_| alloc.heap_box([7; 8000]).unwrap())
        .collect();
    thread::scope(|s| {
        s.spawn(move || {
            for (i, boxed) in pooled.into_iter().enumerate() {
                assert_eq!(boxed[3], i as u64);
            }
        });
        s.spawn(move || assert!(heaped.iter().all(|b| b[7999] == 7)));
    });
    let stats = alloc.stats();
    assert_eq!(
        stats.allocation_count, stats.deallocation_count,
        "{stats:?}"
    );
    assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));
    assert_eq!(stats.pool.deallocations, n as u64);
    assert_eq!(stats.heap.deallocations, (n / 10) as u64);
    let mine = alloc.thread_stats();
    assert_eq!(
        (mine.pool.deallocations, mine.pool.live_bytes),
        (n as u64, 0)
    );
}

#[test]
fn frees_into_an_exited_threads_heap_are_counted() {
    // Item 15: frees into an idle heap were counted only once a new thread
    // adopted it.
    let alloc = SmartAlloc::with_defaults();
    let n = count(2_000, 30);
    let boxes = thread::scope(|s| {
        s.spawn(|| {
            let pooled: Vec<PoolBox<u32>> =
                (0..n).map(|i| alloc.pool_box(i as u32).unwrap()).collect();
            let heaped = alloc.heap_box([1u8; 5000]).unwrap();
            (pooled, heaped)
        })
        .join()
        .unwrap()
    });
    let idle = alloc.stats();
    assert_eq!(idle.per_thread.len(), 1);
    assert!(!idle.per_thread[0].owned, "its thread exited");
    assert_eq!(idle.pool.live_bytes, n as u64 * 8);
    drop(boxes);
    let stats = alloc.stats();
    assert_eq!(
        stats.allocation_count, stats.deallocation_count,
        "{stats:?}"
    );
    assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));
    assert!(!stats.per_thread[0].owned);
}

#[test]
fn an_exited_threads_heap_with_budgets_on_is_not_owned() {
    // Item 3 (second part): the owner word kept its budget flag, so an idle
    // heap read as owned.
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let mine = alloc.pool_box(6u64).unwrap(); // this thread's own heap first
    let kept = thread::scope(|s| s.spawn(|| alloc.pool_box(5u64).unwrap()).join().unwrap());
    let stats = alloc.stats();
    let owned: Vec<bool> = stats.per_thread.iter().map(|t| t.owned).collect();
    assert_eq!(owned.iter().filter(|&&o| o).count(), 1, "{owned:?}");
    assert_eq!((*kept, *mine), (5, 6));
}

#[test]
fn a_dropped_allocators_memory_goes_back_at_once() {
    // Item 7: a thread that used an allocator kept its heaps and pages after
    // the last handle and the last box were gone, until the thread exited.
    for boxes_outlive_the_allocator in [false, true] {
        for budgets in [false, true] {
            let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(budgets));
            let probe = framealloc::__private::MemoryProbe::of(&alloc);
            let pooled = alloc.pool_box([1u64; 8]).unwrap();
            let heaped = alloc.heap_box([2u8; 10_000]).unwrap();
            let stats = alloc.thread_stats();
            assert_eq!(stats.pool.allocations, 1);
            if boxes_outlive_the_allocator {
                drop(alloc);
                assert!(!probe.all_freed(), "the boxes still hold it");
                assert_eq!((pooled[7], heaped[9_999]), (1, 2));
                drop((pooled, heaped));
            } else {
                drop((pooled, heaped));
                drop(alloc);
            }
            assert!(
                probe.all_freed(),
                "outlive: {boxes_outlive_the_allocator}, budgets: {budgets}"
            );
        }
    }
}

#[test]
fn many_short_lived_allocators_on_one_thread_keep_nothing() {
    // Item 7: 100,000 short-lived allocators on one thread grew RSS by
    // 1.9 GiB and slowed down quadratically (every lease was kept).
    let n = count(20_000, 30);
    for round in 0..n {
        let alloc = SmartAlloc::with_defaults();
        let probe = framealloc::__private::MemoryProbe::of(&alloc);
        let value = alloc.pool_box(round as u64).unwrap();
        assert_eq!(*value, round as u64);
        drop(value);
        if round % 2 == 0 {
            let _ = alloc.thread_stats();
        }
        drop(alloc);
        assert!(probe.all_freed(), "round {round}");
    }
    // And the thread still works with a long-lived one.
    let alloc = SmartAlloc::with_defaults();
    let kept: Vec<_> = (0..100).map(|i| alloc.pool_box(i).unwrap()).collect();
    assert_eq!(kept.iter().map(|v| **v).sum::<i32>(), 4950);
}

struct PanicsOnDrop<const N: usize>(
    #[allow(dead_code, reason = "gives the value a size")] [u64; N],
);

impl<const N: usize> Drop for PanicsOnDrop<N> {
    fn drop(&mut self) {
        panic!("a destructor panicked");
    }
}

#[test]
fn a_panicking_destructor_still_frees_the_box() {
    // Item 9: the box, its budget charge and the whole pool state leaked.
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let probe = framealloc::__private::MemoryProbe::of(&alloc);
    let pooled = alloc.pool_box(PanicsOnDrop([1; 4])).unwrap();
    let heaped = alloc.heap_box(PanicsOnDrop([2; 4])).unwrap();
    // Over the pool limit: a pool box whose value went to the heap.
    let large = alloc.pool_box(PanicsOnDrop([3; 1024])).unwrap();
    assert!(alloc.budgets().global_usage().used > 0);
    for dropped in [
        catch_unwind(AssertUnwindSafe(|| drop(pooled))),
        catch_unwind(AssertUnwindSafe(|| drop(heaped))),
        catch_unwind(AssertUnwindSafe(|| drop(large))),
    ] {
        assert!(
            dropped.is_err(),
            "the destructor's panic reaches the caller"
        );
    }
    let stats = alloc.stats();
    assert_eq!(
        stats.allocation_count, stats.deallocation_count,
        "{stats:?}"
    );
    assert_eq!(
        alloc.budgets().global_usage().used,
        0,
        "the charges went back"
    );
    drop(alloc);
    assert!(probe.all_freed());
}

#[test]
fn the_last_handle_and_the_last_boxes_dropped_at_once_free_everything() {
    // Items 5 and 17: a thread makes boxes and exits (its heap goes idle);
    // then the last `SmartAlloc` is dropped while other threads drop the
    // boxes. A remote free that read "open" before the close could leave
    // the idle heap unreleased for ever (5); the free that did not empty
    // the heap read the heap after unlocking while another thread freed it
    // (17; a data race under Miri).
    let rounds = count(300, 3);
    for round in 0..rounds {
        let alloc = SmartAlloc::with_defaults();
        let probe = framealloc::__private::MemoryProbe::of(&alloc);
        let (first, second, heaped) = thread::scope(|s| {
            s.spawn(|| {
                (
                    alloc.pool_box([round as u64; 2]).unwrap(),
                    alloc.pool_box([round as u64 + 1; 2]).unwrap(),
                    alloc.heap_box([round as u8; 5000]).unwrap(),
                )
            })
            .join()
            .unwrap()
        });
        let start = Arc::new(Barrier::new(3));
        let (a, b) = (start.clone(), start.clone());
        let one = thread::spawn(move || {
            a.wait();
            assert_eq!(first[1], round as u64);
            drop(first);
        });
        let two = thread::spawn(move || {
            b.wait();
            assert_eq!(heaped[4999], round as u8);
            drop(heaped);
        });
        start.wait();
        if round % 2 == 0 {
            drop(alloc);
            assert_eq!(second[0], round as u64 + 1);
            drop(second);
        } else {
            assert_eq!(second[0], round as u64 + 1);
            drop(second);
            drop(alloc);
        }
        one.join().unwrap();
        two.join().unwrap();
        assert!(
            probe.all_freed(),
            "round {round}: the allocator's memory was kept"
        );
    }
}

#[test]
fn random_lifecycles_across_threads_keep_every_value_and_free_everything() {
    // A seeded walk: worker threads allocate pool and heap boxes (some of
    // them exit, leaving idle heaps), boxes are dropped on random threads,
    // the last handle goes at a random step; every value is checked when it
    // is dropped, and at the end the allocator's memory must be gone.
    let mut rng = Rng(0x5eed_0017);
    let rounds = count(60, 2);
    for round in 0..rounds {
        let budgets = rng.below(2) == 0;
        let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(budgets));
        let probe = framealloc::__private::MemoryProbe::of(&alloc);
        let mut handle = Some(alloc);
        let mut pooled: Vec<(PoolBox<[u64; 3]>, u64)> = Vec::new();
        let mut heaped: Vec<(HeapBox<[u64; 600]>, u64)> = Vec::new();
        let steps = count(60, 8);
        let close_at = rng.below(steps);
        for step in 0..steps {
            let tag = (round * 1000 + step) as u64;
            if step == close_at {
                handle = None;
            }
            match (rng.below(4), &handle) {
                (0 | 1, Some(alloc)) => {
                    // A worker allocates a few boxes; half the time it stays
                    // alive only for this step (its heap goes idle).
                    let n = 1 + rng.below(6);
                    let made = thread::scope(|s| {
                        s.spawn(|| {
                            let p: Vec<_> = (0..n as u64)
                                .map(|i| (alloc.pool_box([tag + i; 3]).unwrap(), tag + i))
                                .collect();
                            let h = (alloc.heap_box([tag; 600]).unwrap(), tag);
                            (p, h)
                        })
                        .join()
                        .unwrap()
                    });
                    pooled.extend(made.0);
                    heaped.push(made.1);
                }
                (2, _) => {
                    // Drop a random handful on another thread, concurrently
                    // with drops here.
                    let k = rng.below(pooled.len() + 1);
                    let theirs: Vec<_> = pooled.drain(..k).collect();
                    let mine: Option<(HeapBox<[u64; 600]>, u64)> = heaped.pop();
                    thread::scope(|s| {
                        s.spawn(move || {
                            for (boxed, value) in theirs {
                                assert_eq!(*boxed, [value; 3]);
                            }
                        });
                        if let Some((boxed, value)) = mine {
                            assert!(boxed.iter().all(|&v| v == value));
                        }
                    });
                }
                _ => {
                    if let Some((boxed, value)) = pooled.pop() {
                        assert_eq!(*boxed, [value; 3]);
                    }
                }
            }
            for (boxed, value) in &pooled {
                assert_eq!(**boxed, [*value; 3]);
            }
        }
        drop(handle);
        for (boxed, value) in pooled.drain(..) {
            assert_eq!(*boxed, [value; 3]);
        }
        for (boxed, value) in heaped.drain(..) {
            assert!(boxed.iter().all(|&v| v == value));
        }
        assert!(probe.all_freed(), "round {round}");
    }
}

#[test]
fn stats_read_on_another_thread_while_the_owner_works_stay_consistent() {
    // Item 3: live figures were computed from two counters read apart while
    // the owner updated them: "attempt to subtract with overflow" in debug
    // builds, wrapped figures in release.
    let alloc = SmartAlloc::with_defaults();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reads = count(20_000, 20);
    thread::scope(|s| {
        s.spawn(|| {
            let mut kept = Vec::new();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let pooled = alloc.pool_box(i).unwrap();
                let heaped = alloc.heap_box([i; 600]).unwrap();
                if i.is_multiple_of(3) {
                    kept.push(pooled);
                } else {
                    drop(pooled);
                }
                drop(heaped);
                if kept.len() > 50 {
                    kept.clear();
                }
                i += 1;
            }
        });
        // Stops the worker even if an assertion below fails.
        struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        for _ in 0..reads {
            let stats = alloc.stats();
            assert!(
                stats.deallocation_count <= stats.allocation_count,
                "{stats:?}"
            );
            for thread in &stats.per_thread {
                assert!(
                    thread.pool.deallocations <= thread.pool.allocations,
                    "{thread:?}"
                );
                assert!(
                    thread.heap.deallocations <= thread.heap.allocations,
                    "{thread:?}"
                );
                assert!(thread.pool.live_bytes <= 64 * 8 * 1024, "{thread:?}");
                assert!(thread.heap.live_bytes <= 2 * 4800, "{thread:?}");
            }
        }
    });
}

#[test]
fn a_thread_keeps_its_heap_of_every_live_allocator_it_uses() {
    // Leases of allocators still alive stay; only closed or dropped ones
    // are given up when the thread leases another.
    let first = SmartAlloc::with_defaults();
    let second = SmartAlloc::with_defaults();
    let a = first.pool_box(1u32).unwrap();
    let b = second.pool_box(2u32).unwrap();
    let c = first.pool_box(3u32).unwrap();
    for alloc in [&first, &second] {
        let stats = alloc.stats();
        assert_eq!(stats.per_thread.len(), 1, "one heap, reused");
        assert!(stats.per_thread[0].owned, "still this thread's");
    }
    assert_eq!((*a, *b, *c), (1, 2, 3));
}

#[test]
fn threads_without_a_heap_freeing_into_an_idle_heap_at_once_are_all_counted() {
    // Two threads that never allocated from the allocator free into the
    // heap of a thread that exited: both take the remote path (a thread
    // with no heap owns none), so every free is counted, none lost.
    // Rounds, so that a wrong owner test fails even when one round's
    // threads happen not to overlap.
    for _ in 0..count(5, 1) {
        let alloc = SmartAlloc::with_defaults();
        // Enough frees that the two threads overlap for most of them: a thread
        // that wrongly took the heap for its own would race the other on the
        // heap's unsynchronised lists and lose counts. One heap box per 100
        // pool boxes, freed along the way.
        let n = count(200_000, 200);
        // An explicit join: unlike a scope's, it waits for the thread's
        // thread-local destructors, so the heap is idle before the frees start.
        let maker = alloc.clone();
        let (pooled, heaped): (Vec<PoolBox<u64>>, Vec<HeapBox<[u8; 5000]>>) =
            thread::spawn(move || {
                let pooled = (0..n as u64).map(|i| maker.pool_box(i).unwrap()).collect();
                let heaped = (0..n / 100)
                    .map(|_| maker.heap_box([3; 5000]).unwrap())
                    .collect();
                (pooled, heaped)
            })
            .join()
            .unwrap();
        let (mut pooled_a, mut heaped_a) = (pooled, heaped);
        let pooled_b = pooled_a.split_off(n / 2);
        let heaped_b = heaped_a.split_off(n / 200);
        let start = Barrier::new(2);
        thread::scope(|s| {
            for (pooled, heaped) in [(pooled_a, heaped_a), (pooled_b, heaped_b)] {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let mut heaped = heaped.into_iter();
                    for (i, boxed) in pooled.into_iter().enumerate() {
                        drop(boxed);
                        if i % 100 == 0 {
                            drop(heaped.next());
                        }
                    }
                    assert!(heaped.next().is_none());
                });
            }
        });
        let stats = alloc.stats();
        assert_eq!(
            stats.allocation_count, stats.deallocation_count,
            "{stats:?}"
        );
        assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));
    }
}

#[test]
fn an_owner_leaving_after_its_heap_was_released_gives_nothing_back_twice() {
    // After the close, the last free of a heap releases it even while its
    // owner thread lives on. When that owner exits it must see the heap
    // released and leave it alone: releasing it again would give the
    // state's strong count back twice and free the state under another
    // heap's live box. (Found by Miri in CI as a race between the owner's
    // check and the free's release; this is its deterministic half.)
    let alloc = SmartAlloc::with_defaults();
    let probe = framealloc::__private::MemoryProbe::of(&alloc);
    // Two threads each make one box in a heap of their own, give their
    // handle up and wait, alive.
    let spawn_owner = |value: u64| {
        let owner_alloc = alloc.clone();
        let (box_tx, box_rx) = std::sync::mpsc::channel();
        let (exit_tx, exit_rx) = std::sync::mpsc::channel::<()>();
        let owner = thread::spawn(move || {
            let boxed = owner_alloc.pool_box(value).unwrap();
            drop(owner_alloc);
            box_tx.send(boxed).unwrap();
            exit_rx.recv().unwrap();
        });
        (box_rx.recv().unwrap(), exit_tx, owner)
    };
    let (kept, keeper_exit, keeper) = spawn_owner(7);
    let (owners_box, owner_exit, owner) = spawn_owner(1);
    drop(alloc); // the last handle: the close
    assert_eq!(*owners_box, 1);
    drop(owners_box); // the last free of the owner's heap releases it
    owner_exit.send(()).unwrap();
    owner.join().unwrap(); // the owner gives its lease back
    assert!(!probe.all_freed(), "the kept box still holds the state");
    assert_eq!(*kept, 7);
    drop(kept);
    keeper_exit.send(()).unwrap();
    keeper.join().unwrap();
    assert!(probe.all_freed());
}
