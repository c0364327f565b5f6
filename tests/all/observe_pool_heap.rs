//! `ProfilerHooks` on the pool and heap intents: the exact events of each
//! allocation and free, from the owner and from other threads, with tags,
//! budgets, a re-entrant callback and a panicking one; and that attaching
//! hooks changes no result.

use std::sync::{Arc, Mutex};

use framealloc::diagnostics::{Capture, Intent, MemoryEvent, ProfilerHooks};
use framealloc::{AllocConfig, AllocationTag, SmartAlloc};

/// An event with its address as a number, so it can be stored and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Alloc {
        addr: usize,
        size: usize,
        tag: Option<AllocationTag>,
        intent: Intent,
    },
    Free {
        addr: usize,
        size: usize,
        intent: Intent,
    },
    Other,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Hooks whose callback records every event in the returned log.
fn recording() -> (ProfilerHooks, Log) {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    let sink = log.clone();
    hooks.set_callback(move |event| {
        let seen = match *event {
            MemoryEvent::Alloc {
                ptr,
                size,
                tag,
                intent,
                ..
            } => Seen::Alloc {
                addr: ptr.addr(),
                size,
                tag,
                intent,
            },
            MemoryEvent::Free {
                ptr, size, intent, ..
            } => Seen::Free {
                addr: ptr.addr(),
                size,
                intent,
            },
            _ => Seen::Other,
        };
        sink.lock().unwrap().push(seen);
    });
    (hooks, log)
}

fn take(log: &Log) -> Vec<Seen> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn addr_of<T: ?Sized>(value: &T) -> usize {
    core::ptr::from_ref(value).cast::<u8>().addr()
}

#[test]
fn a_pool_box_reports_its_slot_and_its_free() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let enemy = alloc.pool_box([7u32; 5]).unwrap(); // 20 bytes: the 24-byte class
    let addr = addr_of(&*enemy);
    assert_eq!(
        take(&log),
        [Seen::Alloc {
            addr,
            size: 24,
            tag: None,
            intent: Intent::Pool
        }]
    );
    assert_eq!(*enemy, [7; 5]);
    drop(enemy);
    assert_eq!(
        take(&log),
        [Seen::Free {
            addr,
            size: 24,
            intent: Intent::Pool
        }]
    );
}

#[test]
fn heap_boxes_and_oversized_pool_boxes_report_the_heap_intent() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let big = alloc.heap_box([1u8; 8192]).unwrap();
    let spilled = alloc.pool_box([2u8; 5000]).unwrap(); // above the 4 KiB classes
    let (big_addr, spilled_addr) = (addr_of(&*big), addr_of(&*spilled));
    drop(spilled);
    drop(big);
    assert_eq!(
        take(&log),
        [
            Seen::Alloc {
                addr: big_addr,
                size: 8192,
                tag: None,
                intent: Intent::Heap
            },
            Seen::Alloc {
                addr: spilled_addr,
                size: 5000,
                tag: None,
                intent: Intent::Heap
            },
            Seen::Free {
                addr: spilled_addr,
                size: 5000,
                intent: Intent::Heap
            },
            Seen::Free {
                addr: big_addr,
                size: 8192,
                intent: Intent::Heap
            },
        ]
    );
}

#[test]
fn events_carry_the_current_tag_with_budgets_on_or_off() {
    for budgets in [false, true] {
        let (hooks, log) = recording();
        let config = AllocConfig::default()
            .with_budgets(budgets)
            .with_profiler_hooks(hooks);
        let alloc = SmartAlloc::new(config);
        let ai = AllocationTag::new("ai");
        let brain = alloc.with_tag(ai, || alloc.pool_box(0u64).unwrap());
        let plan = alloc.with_tag(ai, || alloc.heap_box([0u64; 1024]).unwrap());
        let seen = take(&log);
        assert!(
            matches!(seen[..], [Seen::Alloc { tag: Some(t1), size: 8, .. }, Seen::Alloc { tag: Some(t2), size: 8192, .. }] if t1 == ai && t2 == ai),
            "budgets {budgets}: {seen:?}"
        );
        if budgets {
            assert_eq!(alloc.budgets().usage(ai).used, 8 + 8192);
        }
        drop((brain, plan));
        assert_eq!(take(&log).len(), 2);
        if budgets {
            assert_eq!(alloc.budgets().usage(ai).used, 0, "released exactly");
        }
    }
}

#[test]
fn a_free_on_another_thread_is_reported_there() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let boxes: Vec<_> = (0..3u64).map(|i| alloc.pool_box(i).unwrap()).collect();
    let addrs: Vec<usize> = boxes.iter().map(|b| addr_of(&**b)).collect();
    take(&log);
    let freeing_thread = std::thread::spawn(move || {
        drop(boxes);
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_ne!(freeing_thread, std::thread::current().id());
    let frees: Vec<usize> = take(&log)
        .into_iter()
        .map(|seen| match seen {
            Seen::Free {
                addr,
                size: 8,
                intent: Intent::Pool,
            } => addr,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(frees, addrs);
    // The remote frees were counted: the slots come back to the owner.
    alloc.collect_remote_frees();
    assert_eq!(alloc.stats().pool.live_bytes, 0);
}

#[test]
fn hooks_attached_without_a_callback_report_once_one_is_set() {
    let hooks = ProfilerHooks::new();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks.clone()));
    let before = alloc.pool_box(1u64).unwrap();
    let log = Log::default();
    let sink = log.clone();
    hooks.set_callback(move |event| {
        if matches!(event, MemoryEvent::Free { .. }) {
            sink.lock().unwrap().push(Seen::Other);
        }
    });
    drop(before);
    assert_eq!(take(&log), [Seen::Other], "the free of a box made earlier");
    assert!(hooks.clear_callback());
    drop(alloc.pool_box(2u64).unwrap());
    assert!(take(&log).is_empty(), "no callback, no events");
}

#[test]
fn a_callback_that_allocates_is_not_fed_its_own_events() {
    let hooks = ProfilerHooks::new();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks.clone()));
    let inner = alloc.downgrade();
    let log = Log::default();
    let sink = log.clone();
    hooks.set_callback(move |event| {
        if let Some(alloc) = inner.upgrade() {
            // Allocates and frees through the same allocator.
            let scratch = alloc.pool_box([0u64; 2]).unwrap();
            drop(scratch);
        }
        if matches!(event, MemoryEvent::Alloc { .. }) {
            sink.lock().unwrap().push(Seen::Other);
        }
    });
    let boxes: Vec<_> = (0..4u32).map(|i| alloc.pool_box(i).unwrap()).collect();
    assert_eq!(take(&log).len(), 4, "one event per outer allocation");
    drop(boxes);
    let stats = alloc.stats();
    assert_eq!(
        stats.pool.allocations,
        4 + 8,
        "the callback's own boxes ran"
    );
    assert_eq!(stats.pool.live_bytes, 0);
}

#[test]
fn a_panicking_callback_is_caught_and_reported() {
    let hooks = ProfilerHooks::new();
    hooks.set_callback(|event| {
        if matches!(event, MemoryEvent::Alloc { .. }) {
            panic!("profiler bug");
        }
    });
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let capture = Capture::start();
    let value = alloc.pool_box(99u64).unwrap();
    let seen = capture.finish();
    assert_eq!(*value, 99);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].code, "FA303");
    assert!(
        seen[0]
            .note
            .as_deref()
            .unwrap()
            .contains("ProfilerHooks::set_callback")
    );
    assert!(seen[0].note.as_deref().unwrap().contains("profiler bug"));
}

/// Runs one fixed workload and returns what `stats` says about it.
fn workload(alloc: &SmartAlloc) -> (u64, u64, u64, u64, usize) {
    let small: Vec<_> = (0..500u64).map(|i| alloc.pool_box(i).unwrap()).collect();
    let large: Vec<_> = (0..20)
        .map(|_| alloc.heap_box([0u8; 6000]).unwrap())
        .collect();
    drop(small);
    let stats = alloc.stats();
    drop(large);
    (
        stats.pool.allocations,
        stats.pool.deallocations,
        stats.heap.allocations,
        stats.heap.live_bytes,
        stats.pool_pages,
    )
}

#[test]
fn attaching_hooks_changes_no_result() {
    let plain = SmartAlloc::with_defaults();
    let (hooks, log) = recording();
    let watched = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let figures = workload(&plain);
    assert_eq!(figures, (500, 500, 20, 120_000, 1));
    assert_eq!(workload(&watched), figures);
    let seen = take(&log);
    let allocs = seen
        .iter()
        .filter(|s| matches!(s, Seen::Alloc { .. }))
        .count();
    let frees = seen
        .iter()
        .filter(|s| matches!(s, Seen::Free { .. }))
        .count();
    assert_eq!((allocs, frees), (520, 520));
}
