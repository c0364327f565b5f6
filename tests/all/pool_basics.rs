//! The pool and heap intents on one thread: values, drops, alignment, the
//! pool limit, statistics and steady-state churn.

use std::cell::Cell;

use framealloc::{AllocConfig, HeapBox, PoolBox, SmartAlloc};

use crate::counting::calls_on_this_thread;
use crate::support::CountedRef;

#[test]
fn pool_and_heap_boxes_hold_values_and_run_destructors_once() {
    let drops = Cell::new(0);
    let alloc = SmartAlloc::with_defaults();
    let mut a = alloc.pool_box(41u64).unwrap();
    *a += 1;
    let b = alloc.pool_box(CountedRef(&drops)).unwrap();
    let c = alloc.heap_box(CountedRef(&drops)).unwrap();
    let d = alloc.pool_alloc::<[u16; 3]>().unwrap();
    let e = PoolBox::write(
        alloc.pool_alloc_uninit::<String>().unwrap(),
        String::from("slot"),
    );
    let f = alloc.heap_alloc::<Vec<u8>>().unwrap();
    assert_eq!((*a, *d, e.as_str(), f.len()), (42, [0; 3], "slot", 0));
    drop(b);
    assert_eq!(drops.get(), 1);
    drop(c);
    assert_eq!(drops.get(), 2);
    let inner = PoolBox::into_inner(alloc.pool_box(CountedRef(&drops)).unwrap());
    assert_eq!(drops.get(), 2, "into_inner moves out without dropping");
    drop(inner);
    assert_eq!(drops.get(), 3);
    assert_eq!(HeapBox::into_inner(alloc.heap_box(7u8).unwrap()), 7);
}

#[test]
fn slots_are_reused_lifo_and_never_overlap() {
    let alloc = SmartAlloc::with_defaults();
    let first = alloc.pool_box([1u8; 64]).unwrap();
    let address = PoolBox::as_ptr(&first) as usize;
    drop(first);
    let again = alloc.pool_box([2u8; 64]).unwrap();
    assert_eq!(
        PoolBox::as_ptr(&again) as usize,
        address,
        "the freed slot comes back first"
    );

    let count = if cfg!(miri) { 300 } else { 5_000 };
    let boxes: Vec<PoolBox<[u32; 6]>> = (0..count)
        .map(|i| alloc.pool_box([i; 6]).unwrap())
        .collect();
    assert!(boxes.iter().enumerate().all(|(i, b)| **b == [i as u32; 6]));
    let mut addresses: Vec<usize> = boxes.iter().map(|b| PoolBox::as_ptr(b) as usize).collect();
    addresses.sort_unstable();
    assert!(addresses.windows(2).all(|w| w[1] - w[0] >= 24));
}

#[test]
fn alignment_up_to_4096_through_the_pool_api() {
    #[derive(Default)]
    #[repr(align(64))]
    struct Line([u8; 8]);
    #[derive(Default)]
    #[repr(align(512))]
    struct Sector(u8);
    #[repr(align(4096))]
    struct Page([u8; 100]);
    #[repr(align(8192))]
    struct Huge(u8);

    let alloc = SmartAlloc::with_defaults();
    let mut kept = Vec::new();
    for _ in 0..20 {
        let line = alloc.pool_alloc::<Line>().unwrap();
        let sector = alloc.pool_alloc::<Sector>().unwrap();
        let page = alloc.pool_box(Page([3; 100])).unwrap();
        let huge = alloc.pool_box(Huge(9)).unwrap();
        assert_eq!(PoolBox::as_ptr(&line) as usize % 64, 0);
        assert_eq!(PoolBox::as_ptr(&sector) as usize % 512, 0);
        assert_eq!(PoolBox::as_ptr(&page) as usize % 4096, 0);
        assert_eq!(PoolBox::as_ptr(&huge) as usize % 8192, 0);
        assert_eq!((line.0[7], sector.0, page.0[99], huge.0), (0, 0, 3, 9));
        kept.push((line, sector)); // keep them live so the next round gets new slots
    }
    // Align 8192 cannot come from a 4 KiB class: it went to the heap.
    let stats = alloc.thread_stats();
    assert_eq!(stats.heap.allocations, 20);
    assert_eq!(stats.pool.allocations, 60);
}

#[test]
fn objects_over_the_pool_limit_go_to_the_heap_and_are_counted_there() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_pool_max_size(256));
    let small = alloc.pool_box([0u8; 256]).unwrap();
    let large = alloc.pool_box([0u8; 257]).unwrap();
    let stats = alloc.thread_stats();
    assert_eq!((stats.pool.allocations, stats.heap.allocations), (1, 1));
    assert_eq!(stats.pool.live_bytes, 256);
    drop((small, large));
    let stats = alloc.thread_stats();
    assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));

    let all_heap = SmartAlloc::new(AllocConfig::default().with_pool_max_size(0));
    drop(all_heap.pool_box(1u8).unwrap());
    assert_eq!(all_heap.thread_stats().heap.deallocations, 1);
}

#[test]
fn a_pool_box_is_one_word_like_box() {
    const WORD: usize = size_of::<usize>();
    assert_eq!(size_of::<PoolBox<u8>>(), WORD);
    assert_eq!(size_of::<Option<PoolBox<[u64; 8]>>>(), WORD);
    assert_eq!(size_of::<Option<PoolBox<()>>>(), WORD);
    // Whatever backs it: a slot, or a heap block past the pool limit.
    let alloc = SmartAlloc::new(AllocConfig::default().with_pool_max_size(16));
    let slot = alloc.pool_box(1u8).unwrap();
    let block = alloc.pool_box([2u8; 17]).unwrap();
    assert_eq!((*slot, block[16]), (1, 2));
    assert_eq!(PoolBox::as_ptr(&block) as usize % 8, 0);
}

#[test]
fn zero_sized_values_take_no_memory() {
    let alloc = SmartAlloc::with_defaults();
    let unit = alloc.pool_box(()).unwrap();
    let also = alloc.heap_box(()).unwrap();
    assert_eq!((*unit, *also), ((), ()));
    let stats = alloc.stats();
    assert_eq!((stats.pool_pages, stats.heap.live_bytes), (0, 0));
}

#[test]
fn stats_count_each_intent_exactly() {
    let alloc = SmartAlloc::with_defaults();
    let a = alloc.pool_box(1u64).unwrap(); // 8-byte class
    let b = alloc.pool_box([0u8; 100]).unwrap(); // 112-byte class
    let c = alloc.heap_box([0u64; 100]).unwrap(); // 800 bytes, no header
    let stats = alloc.stats();
    assert_eq!(
        (stats.pool.allocations, stats.pool.live_bytes),
        (2, 8 + 112)
    );
    assert_eq!((stats.heap.allocations, stats.heap.live_bytes), (1, 800));
    assert_eq!(stats.allocation_count - stats.deallocation_count, 3);
    drop((a, b, c));
    let stats = alloc.stats();
    assert_eq!((stats.pool.deallocations, stats.pool.live_bytes), (2, 0));
    assert_eq!(
        (
            stats.heap.deallocations,
            stats.heap.live_bytes,
            stats.heap.peak_bytes
        ),
        (1, 0, 800)
    );
    assert_eq!(stats.allocation_count, stats.deallocation_count);
    assert_eq!(stats.per_thread.len(), 1);
    assert!(stats.per_thread[0].owned);
}

#[test]
fn steady_state_pool_churn_makes_no_global_allocator_calls() {
    let alloc = SmartAlloc::with_defaults();
    let churn = |rounds: usize| {
        for round in 0..rounds {
            let a = alloc.pool_box([round as u64; 4]).unwrap();
            let b = alloc.pool_box(round as u32).unwrap();
            let c = alloc.pool_box([0u8; 1000]).unwrap();
            std::hint::black_box((&a, &b, &c));
        }
    };
    let mut keep = Vec::with_capacity(2_000);
    for i in 0..2_000u64 {
        keep.push(alloc.pool_box(i).unwrap());
    }
    keep.clear(); // warm: pages for the classes exist and have free slots
    churn(10);
    let before = calls_on_this_thread();
    churn(if cfg!(miri) { 50 } else { 10_000 });
    for i in 0..2_000u64 {
        keep.push(alloc.pool_box(i).unwrap());
    }
    keep.clear();
    assert_eq!(
        calls_on_this_thread() - before,
        0,
        "pool churn called the global allocator"
    );
}

#[test]
fn box_with_writes_in_place_and_gives_memory_back_if_make_panics() {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let pooled = alloc.pool_box_with(|| [3u32; 256]).unwrap();
    let heaped = alloc.heap_box_with(|| [4u64; 1024]).unwrap();
    assert_eq!((pooled[255], heaped[1023]), (3, 4));
    drop((pooled, heaped));

    let before = alloc.stats();
    for make_heap in [false, true] {
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            if make_heap {
                drop(alloc.heap_box_with(|| -> [u8; 64] { panic!("asset failed to load") }));
            } else {
                drop(alloc.pool_box_with(|| -> [u8; 64] { panic!("asset failed to load") }));
            }
        }));
        assert!(unwound.is_err());
    }
    let after = alloc.stats();
    assert_eq!(after.pool.live_bytes, 0, "the slot went back");
    assert_eq!(after.heap.live_bytes, 0, "the block went back");
    assert_eq!(after.pool.allocations, before.pool.allocations + 1);
    assert_eq!(after.heap.allocations, before.heap.allocations + 1);
    assert_eq!(
        alloc.budgets().global_usage().used,
        0,
        "and so did the budget charge"
    );
}

#[test]
fn trim_gives_back_exactly_the_pages_with_nothing_live() {
    const PAGE: usize = 64 << 10;
    let alloc = SmartAlloc::with_defaults();
    // 127 slots of 512 bytes fit a page: 300 boxes fill three pages, in
    // order.
    let mut boxes: Vec<PoolBox<[u64; 64]>> = (0..300u64)
        .map(|i| alloc.pool_box([i; 64]).unwrap())
        .collect();
    assert_eq!(alloc.stats().pool_pages, 3);
    // Keep ten boxes of the first page and one of the last; free the rest,
    // which empties the middle page only.
    let last = boxes.pop().unwrap();
    boxes.truncate(10);
    assert_eq!(alloc.trim(), PAGE, "only the middle page is empty");
    let stats = alloc.stats();
    assert_eq!((stats.pool_pages, stats.pool_free_pages), (2, 0));
    // The free list no longer holds slots of the page given back: new
    // boxes land in the two pages kept (and a fresh one) without
    // disturbing the survivors.
    let again: Vec<PoolBox<[u64; 64]>> = (0..300u64)
        .map(|i| alloc.pool_box([i + 1_000; 64]).unwrap())
        .collect();
    assert!(boxes.iter().enumerate().all(|(i, b)| **b == [i as u64; 64]));
    assert_eq!(*last, [299; 64]);
    assert!(
        again
            .iter()
            .enumerate()
            .all(|(i, b)| **b == [i as u64 + 1_000; 64])
    );
    drop((boxes, last, again));
    // Everything is free now: trim gives back every page.
    let pages = alloc.stats().pool_pages;
    assert_eq!(alloc.trim(), pages * PAGE);
    assert_eq!(alloc.stats().pool_pages, 0);
}
