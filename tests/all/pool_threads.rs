//! Pool and heap boxes across threads: remote frees, thread exit with live
//! boxes, and the last handle dropped with boxes alive.

use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::thread;

use framealloc::{AllocConfig, HeapBox, PoolBox, SmartAlloc};

use crate::support::count;

#[test]
fn boxes_cross_threads_and_drop_there() {
    let alloc = SmartAlloc::with_defaults();
    let pooled = alloc.pool_box(String::from("pooled")).unwrap();
    let heaped = alloc.heap_box(vec![1u32, 2, 3]).unwrap();
    let (len, sum) = thread::spawn(move || (pooled.len(), heaped.iter().sum::<u32>()))
        .join()
        .unwrap();
    assert_eq!((len, sum), (6, 6));
    alloc.collect_remote_frees();
    let stats = alloc.stats();
    assert_eq!((stats.pool.deallocations, stats.heap.deallocations), (1, 1));
    assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));
}

#[test]
fn thousands_of_remote_frees_come_back_to_the_owner() {
    let alloc = SmartAlloc::with_defaults();
    let n = count(20_000, 500);
    let boxes: Vec<PoolBox<[u64; 8]>> = (0..n)
        .map(|i| alloc.pool_box([i as u64; 8]).unwrap())
        .collect();
    let pages_before = alloc.stats().pool_pages;

    thread::spawn(move || {
        for (i, boxed) in boxes.into_iter().enumerate() {
            assert_eq!(boxed[7], i as u64);
        }
    })
    .join()
    .unwrap();

    // A 64-byte page holds about 1,020 slots (about 1,000 when watched,
    // as with the `debug` feature: a byte per slot goes to its tag), so
    // the pages hold a few hundred never-used slots now: `n + 100` boxes
    // fit in them only if the owner reuses the slots the other thread freed.
    let again: Vec<PoolBox<[u64; 8]>> = (0..n + 100)
        .map(|i| alloc.pool_box([i as u64; 8]).unwrap())
        .collect();
    assert_eq!(
        alloc.stats().pool_pages,
        pages_before,
        "a new page was needed"
    );
    assert!(again.iter().enumerate().all(|(i, b)| b[0] == i as u64));

    alloc.collect_remote_frees();
    let stats = alloc.stats();
    assert_eq!(stats.pool.deallocations, n as u64);
    assert_eq!(stats.pool.live_bytes, (n as u64 + 100) * 64);
}

#[test]
fn concurrent_remote_frees_from_several_threads() {
    let alloc = SmartAlloc::with_defaults();
    let per_thread = count(5_000, 100);
    let threads = count(4, 2);
    let mut batches: Vec<Vec<PoolBox<u64>>> = (0..threads)
        .map(|t| {
            (0..per_thread)
                .map(|i| alloc.pool_box((t * per_thread + i) as u64).unwrap())
                .collect()
        })
        .collect();
    thread::scope(|scope| {
        for batch in batches.drain(..) {
            scope.spawn(move || drop(batch));
        }
        // The owner keeps allocating and freeing while the frees arrive.
        for i in 0..per_thread {
            let local = alloc.pool_box(i as u64).unwrap();
            assert_eq!(*local, i as u64);
        }
    });
    alloc.collect_remote_frees();
    let stats = alloc.stats();
    assert_eq!(stats.pool.live_bytes, 0);
    assert_eq!(stats.pool.allocations, stats.pool.deallocations);
}

#[test]
fn a_thread_exiting_with_live_boxes_hands_its_heap_over() {
    let alloc = SmartAlloc::with_defaults();
    let (send, receive) = mpsc::channel();
    let worker = alloc.clone();
    thread::spawn(move || {
        let boxes: Vec<PoolBox<u64>> = (0..100).map(|i| worker.pool_box(i).unwrap()).collect();
        let heaped = worker.heap_box([7u8; 8192]).unwrap();
        send.send((boxes, heaped)).unwrap();
    })
    .join()
    .unwrap();
    let (boxes, heaped) = receive.recv().unwrap();
    assert_eq!(boxes.iter().map(|b| **b).sum::<u64>(), 4_950);
    assert_eq!(heaped[8191], 7);
    let stats = alloc.stats();
    assert_eq!(stats.per_thread.len(), 1);
    assert!(
        !stats.per_thread[0].owned,
        "the exited thread's heap is idle"
    );

    // A new thread adopts the idle heap, pages and live boxes included.
    let adopter = alloc.clone();
    thread::spawn(move || {
        let fresh = adopter.pool_box(5u64).unwrap();
        assert_eq!(*fresh, 5);
        assert_eq!(
            adopter.stats().per_thread.len(),
            1,
            "no new heap was created"
        );
    })
    .join()
    .unwrap();
    drop((boxes, heaped));
}

#[test]
fn the_last_handle_dropped_with_live_boxes() {
    // With budgets on, boxes carry charges (and heap blocks a header) and
    // every free takes the slow path: the same must hold.
    for budgets in [false, true] {
        let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(budgets));
        let probe = framealloc::__private::MemoryProbe::of(&alloc);
        let pooled = alloc.pool_box([9u64; 4]).unwrap();
        let heaped = alloc.heap_box(String::from("still here")).unwrap();
        drop(alloc);
        assert!(!probe.all_freed(), "live boxes keep their memory");
        assert_eq!(pooled[3], 9);
        assert_eq!(heaped.as_str(), "still here");
        drop(pooled);
        assert!(!probe.all_freed());
        drop(heaped);
        assert!(probe.all_freed(), "the last box gave everything back");
    }
}

#[test]
fn the_last_handle_dropped_then_boxes_freed_on_other_threads() {
    let alloc = SmartAlloc::with_defaults();
    let probe = framealloc::__private::MemoryProbe::of(&alloc);
    let worker = alloc.clone();
    // Boxes allocated by a thread that then exits (its heap goes idle).
    let boxes: Vec<PoolBox<u64>> =
        thread::spawn(move || (0..64).map(|i| worker.pool_box(i).unwrap()).collect())
            .join()
            .unwrap();
    drop(alloc);
    assert!(!probe.all_freed());
    let (first, rest) = boxes.split_at(32);
    let (first, rest) = (first.len(), rest.len());
    let mut boxes = boxes;
    let tail = boxes.split_off(first);
    thread::spawn(move || drop(boxes)).join().unwrap();
    assert!(!probe.all_freed());
    assert_eq!(tail.len(), rest);
    thread::spawn(move || drop(tail)).join().unwrap();
    assert!(probe.all_freed());
}

static KEPT: Mutex<Vec<PoolBox<u64>>> = Mutex::new(Vec::new());
static KEPT_HEAP: Mutex<Option<HeapBox<[u8; 16]>>> = Mutex::new(None);

#[test]
fn boxes_in_statics_outlive_the_allocator() {
    let alloc = SmartAlloc::with_defaults();
    let probe = framealloc::__private::MemoryProbe::of(&alloc);
    KEPT.lock()
        .unwrap()
        .extend((0..10).map(|i| alloc.pool_box(i).unwrap()));
    *KEPT_HEAP.lock().unwrap() = Some(alloc.heap_box([1; 16]).unwrap());
    drop(alloc);
    let sum = thread::spawn(|| KEPT.lock().unwrap().iter().map(|b| **b).sum::<u64>())
        .join()
        .unwrap();
    assert_eq!(sum, 45);
    KEPT.lock().unwrap().clear();
    assert!(!probe.all_freed());
    KEPT_HEAP.lock().unwrap().take();
    assert!(probe.all_freed());
}

#[test]
fn an_allocator_in_a_static_serves_many_threads() {
    static SHARED: LazyLock<SmartAlloc> = LazyLock::new(SmartAlloc::with_defaults);
    let handles: Vec<_> = (0..count(4, 2))
        .map(|t| {
            thread::spawn(move || {
                let boxes: Vec<PoolBox<(usize, usize)>> = (0..count(1000, 20))
                    .map(|i| SHARED.pool_box((t, i)).unwrap())
                    .collect();
                boxes.iter().enumerate().all(|(i, b)| **b == (t, i))
            })
        })
        .collect();
    for handle in handles {
        assert!(handle.join().unwrap());
    }
}
