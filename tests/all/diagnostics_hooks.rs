//! `DiagnosticsHooks`: the exact events of `advance_frame` with snapshots
//! equal to `stats()`, memory pressure at its thresholds, budget events,
//! evictions and diagnostics forwarded, listener removal, a panicking and a
//! re-entrant listener, the history ring and its graph data, and no system
//! allocation per frame once warm.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use framealloc::diagnostics::{
    Capture, DiagnosticsEvent, DiagnosticsHooks, HookId, Intent, MemorySnapshot,
};
use framealloc::{AllocConfig, AllocStats, AllocationTag, BudgetEvent, SmartAlloc, StreamPriority};

use crate::counting::calls_on_this_thread;

type Log = Arc<Mutex<Vec<DiagnosticsEvent>>>;

/// A listener that logs every event raised on the calling thread
/// (diagnostics come from every thread of the process, and other tests run
/// beside this one).
fn record(hooks: &DiagnosticsHooks) -> (HookId, Log) {
    let log = Log::default();
    let sink = log.clone();
    let me = std::thread::current().id();
    let id = hooks.add_listener(move |event| {
        if std::thread::current().id() == me {
            sink.lock().unwrap().push(event.clone());
        }
    });
    (id, log)
}

fn take(log: &Log) -> Vec<DiagnosticsEvent> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// An event without its snapshot, to compare sequences.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Begin(u64),
    End(u64),
    Pressure(usize, usize),
    Budget(BudgetEvent),
    Eviction(usize),
    Diagnostic(&'static str),
}

fn kinds(events: &[DiagnosticsEvent]) -> Vec<Kind> {
    events
        .iter()
        .map(|event| match event {
            DiagnosticsEvent::FrameBegin { frame_number } => Kind::Begin(*frame_number),
            DiagnosticsEvent::FrameEnd { frame_number, .. } => Kind::End(*frame_number),
            DiagnosticsEvent::MemoryPressure { current, limit } => Kind::Pressure(*current, *limit),
            DiagnosticsEvent::Budget(event) => Kind::Budget(*event),
            DiagnosticsEvent::Eviction { bytes, .. } => Kind::Eviction(*bytes),
            DiagnosticsEvent::Diagnostic(diagnostic) => Kind::Diagnostic(diagnostic.code),
            other => panic!("unexpected event {other:?}"),
        })
        .collect()
}

fn snapshots(events: &[DiagnosticsEvent]) -> Vec<MemorySnapshot> {
    events
        .iter()
        .filter_map(|event| match event {
            DiagnosticsEvent::FrameEnd { snapshot, .. } => Some(*snapshot),
            _ => None,
        })
        .collect()
}

/// Every figure of `snapshot` against `stats` read just before the frame
/// ended (`frame_bytes` is checked by the callers).
fn assert_matches_stats(snapshot: &MemorySnapshot, stats: &AllocStats) {
    assert_eq!(snapshot.allocation_count, stats.allocation_count);
    assert_eq!(snapshot.deallocation_count, stats.deallocation_count);
    assert_eq!(snapshot.pool_bytes, stats.pool.live_bytes);
    assert_eq!(snapshot.heap_bytes, stats.heap.live_bytes);
    assert_eq!(snapshot.group_bytes, stats.groups.bytes);
    assert_eq!(snapshot.group_reserved_bytes, stats.groups.reserved_bytes);
    assert_eq!(snapshot.streaming_bytes, stats.streaming.used as u64);
    assert_eq!(
        snapshot.frame_reserved_bytes,
        stats.frame.reserved_bytes as u64
    );
    let reserved = stats.frame.reserved_bytes
        + stats.frame.pooled_bytes
        + stats.pool_pages * (64 << 10)
        + stats.heap.live_bytes as usize
        + stats.groups.reserved_bytes as usize
        + stats.streaming.used;
    assert_eq!(snapshot.reserved_bytes, reserved as u64);
}

#[test]
fn three_frames_give_exact_events_with_the_figures_of_stats() {
    let alloc = SmartAlloc::with_defaults();
    let (_, log) = record(alloc.diagnostics_hooks());
    let group = alloc.groups().create_group("dh-level");
    let mut boxes = Vec::new();
    let mut stats = Vec::new();
    for n in 0..3u64 {
        let frame = alloc.begin_frame();
        frame.alloc_slice_fill_with(256 * (n as usize + 1), |i| i as u32);
        frame.end();
        boxes.push(alloc.pool_box([0u8; 100]).unwrap()); // a 112-byte slot
        group.alloc([n; 4]);
        stats.push(alloc.stats());
        assert_eq!(alloc.advance_frame(), n + 1);
    }
    let events = take(&log);
    assert_eq!(
        kinds(&events),
        [
            Kind::End(0),
            Kind::Begin(1),
            Kind::End(1),
            Kind::Begin(2),
            Kind::End(2),
            Kind::Begin(3)
        ]
    );
    let seen = snapshots(&events);
    for (n, (snapshot, stats)) in seen.iter().zip(&stats).enumerate() {
        let n = n as u64;
        assert_eq!(snapshot.frame_number, n);
        assert_eq!(snapshot.frame_bytes, 1024 * (n + 1), "this frame's bytes");
        assert_eq!(snapshot.pool_bytes, 112 * (n + 1));
        assert_eq!(snapshot.group_bytes, 32 * (n + 1));
        // A frame, a pool box and a group value per frame; the frames'
        // allocations are freed with them.
        assert_eq!(snapshot.allocation_count, 3 * (n + 1));
        assert_eq!(snapshot.deallocation_count, n + 1);
        assert_matches_stats(snapshot, stats);
    }
    assert_eq!(seen.len(), 3);
    // The history holds the same snapshots.
    assert_eq!(
        alloc
            .diagnostics_hooks()
            .get_memory_graph_data(10)
            .snapshots,
        seen
    );
    alloc.groups().free_group(group);
}

#[test]
fn budget_events_are_forwarded_as_they_happen() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let (_, log) = record(alloc.diagnostics_hooks());
    let direct = Arc::new(Mutex::new(Vec::new()));
    let sink = direct.clone();
    alloc
        .budgets()
        .on_event(move |event| sink.lock().unwrap().push(*event));
    alloc
        .budgets()
        .set_global_limits(Some(10), Some(24))
        .unwrap();
    let a = alloc.pool_box(0u64).unwrap();
    let b = alloc.pool_box(0u64).unwrap();
    let refused = alloc.pool_box([0u64; 2]).unwrap_err();
    assert_eq!(refused.code(), "FA301");
    let expected = [
        BudgetEvent::NewPeak { tag: None, peak: 8 },
        BudgetEvent::SoftLimitExceeded {
            tag: None,
            used: 16,
            limit: 10,
        },
        BudgetEvent::NewPeak {
            tag: None,
            peak: 16,
        },
        BudgetEvent::HardLimitExceeded {
            tag: None,
            requested: 16,
            used: 16,
            limit: 24,
        },
    ];
    assert_eq!(*direct.lock().unwrap(), expected);
    let mut want: Vec<Kind> = expected.iter().map(|event| Kind::Budget(*event)).collect();
    // The refusal is a diagnostic too, raised on this thread.
    want.push(Kind::Diagnostic("FA301"));
    assert_eq!(kinds(&take(&log)), want);
    drop((a, b));

    // Without budgets there are no budget events.
    let plain = SmartAlloc::with_defaults();
    let (_, log) = record(plain.diagnostics_hooks());
    drop(plain.pool_box(0u64).unwrap());
    assert!(take(&log).is_empty());
}

#[test]
fn memory_pressure_starts_at_ninety_percent_of_the_lower_global_limit() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let (_, log) = record(alloc.diagnostics_hooks());
    let block = alloc.heap_box([0u8; 9000]).unwrap();
    let used = alloc.budgets().global_usage().used;
    assert_eq!(used, 9000);
    assert_eq!(
        kinds(&take(&log)),
        [Kind::Budget(BudgetEvent::NewPeak {
            tag: None,
            peak: 9000
        })]
    );
    // 10 * used = 9 * at + r with r < 9: `used` is at least 90% of `at`,
    // and less than 90% of `at + 1`.
    let at = used * 10 / 9;
    let cases = [
        ((None, None), None),
        ((None, Some(at)), Some(at)),
        ((None, Some(at + 1)), None),
        ((Some(at), None), Some(at)),
        ((Some(at), Some(at)), Some(at)),
        ((Some(at), Some(10 * used)), Some(at)),
        ((Some(at + 1), Some(10 * used)), None),
        ((Some(used), Some(used)), Some(used)),
    ];
    for (n, ((soft, hard), pressure)) in cases.into_iter().enumerate() {
        alloc.budgets().set_global_limits(soft, hard).unwrap();
        alloc.advance_frame();
        let n = n as u64;
        let mut want = vec![Kind::End(n)];
        want.extend(pressure.map(|limit| Kind::Pressure(used, limit)));
        want.push(Kind::Begin(n + 1));
        assert_eq!(kinds(&take(&log)), want, "limits {soft:?} {hard:?}");
    }
    drop(block);
    // Budgets off: limits are refused (FA304), so no pressure.
    let plain = SmartAlloc::with_defaults();
    let (_, log) = record(plain.diagnostics_hooks());
    let refused = plain
        .budgets()
        .set_global_limits(Some(0), Some(0))
        .unwrap_err();
    assert_eq!(refused.code(), "FA304");
    plain.advance_frame();
    assert_eq!(
        kinds(&take(&log)),
        [Kind::Diagnostic("FA304"), Kind::End(0), Kind::Begin(1)]
    );
}

#[test]
fn evictions_are_forwarded_and_a_frame_that_evicted_is_under_pressure() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_streaming_budget(1000));
    let (_, log) = record(alloc.diagnostics_hooks());
    let streaming = alloc.streaming();
    let first = streaming.reserve(600, StreamPriority::Normal).unwrap();
    streaming.begin_load(first).unwrap().finish();
    alloc.advance_frame();
    assert_eq!(kinds(&take(&log)), [Kind::End(0), Kind::Begin(1)]);

    let second = streaming.reserve(700, StreamPriority::Normal).unwrap();
    assert_eq!(kinds(&take(&log)), [Kind::Eviction(600)]);
    alloc.advance_frame();
    let events = take(&log);
    assert_eq!(
        kinds(&events),
        [Kind::End(1), Kind::Pressure(700, 1000), Kind::Begin(2)]
    );
    assert_eq!(snapshots(&events)[0].streaming_bytes, 700);
    alloc.advance_frame();
    assert_eq!(
        kinds(&take(&log)),
        [Kind::End(2), Kind::Begin(3)],
        "no eviction"
    );

    // An eviction on request is forwarded too, with its own id.
    streaming.begin_load(second).unwrap().finish();
    streaming.evict(second).unwrap();
    let third = streaming.reserve(100, StreamPriority::Low).unwrap();
    streaming.begin_load(third).unwrap().finish();
    streaming.evict(third).unwrap();
    let ids: Vec<u64> = take(&log)
        .iter()
        .map(|event| match event {
            DiagnosticsEvent::Eviction { id, .. } => *id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn every_diagnostic_reaches_the_hooks_from_any_thread_while_they_listen() {
    let hooks = DiagnosticsHooks::new();
    let seen: Arc<Mutex<Vec<(ThreadId, &'static str)>>> = Arc::default();
    let sink = seen.clone();
    let id = hooks.add_listener(move |event| {
        if let DiagnosticsEvent::Diagnostic(diagnostic) = event {
            sink.lock()
                .unwrap()
                .push((std::thread::current().id(), diagnostic.code));
        }
    });
    let fa003 = || {
        // An allocator the hooks are not attached to: diagnostics belong to
        // the process.
        let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(4096));
        let capture = Capture::start();
        let frame = alloc.begin_frame();
        assert!(frame.try_alloc_slice_fill_with(8192, |i| i as u8).is_err());
        assert_eq!(capture.finish().len(), 1, "still delivered as usual");
    };
    fa003();
    let worker = std::thread::spawn(fa003);
    let worker_id = worker.thread().id();
    worker.join().unwrap();
    let mine = |thread: ThreadId| -> Vec<&'static str> {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|(each, _)| *each == thread)
            .map(|(_, code)| *code)
            .collect()
    };
    assert_eq!(mine(std::thread::current().id()), ["FA003"]);
    assert_eq!(mine(worker_id), ["FA003"]);
    assert!(hooks.remove_listener(id));
    fa003();
    assert_eq!(mine(std::thread::current().id()), ["FA003"], "removed");
}

#[test]
fn a_removed_listener_hears_nothing_more() {
    let alloc = SmartAlloc::with_defaults();
    let hooks = alloc.diagnostics_hooks();
    let (first, first_log) = record(hooks);
    let (second, second_log) = record(hooks);
    alloc.advance_frame();
    assert!(hooks.remove_listener(first));
    assert!(!hooks.remove_listener(first), "already removed");
    alloc.advance_frame();
    assert_eq!(kinds(&take(&first_log)), [Kind::End(0), Kind::Begin(1)]);
    assert_eq!(
        kinds(&take(&second_log)),
        [Kind::End(0), Kind::Begin(1), Kind::End(1), Kind::Begin(2)]
    );
    assert!(hooks.remove_listener(second));
    assert!(!hooks.has_listeners());
    alloc.advance_frame();
    assert!(take(&second_log).is_empty());
    // The history records with no listener.
    assert_eq!(hooks.history_len(), 3);
}

#[test]
fn a_panicking_listener_is_reported_as_fa303_and_the_allocator_goes_on() {
    let alloc = SmartAlloc::with_defaults();
    let hooks = alloc.diagnostics_hooks();
    hooks.add_listener(|event| {
        if let DiagnosticsEvent::FrameEnd { .. } = event {
            panic!("debug UI bug");
        }
    });
    let (_, log) = record(hooks);
    let capture = Capture::start();
    assert_eq!(alloc.advance_frame(), 1);
    let reported = capture.finish();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].code, "FA303");
    let note = reported[0].note.as_deref().unwrap();
    assert!(note.contains("DiagnosticsHooks::add_listener"), "{note}");
    assert!(note.contains("debug UI bug"), "{note}");
    // The FA303 reached the other listener before its FrameEnd (the
    // panicking listener runs first).
    assert_eq!(
        kinds(&take(&log)),
        [Kind::Diagnostic("FA303"), Kind::End(0), Kind::Begin(1)]
    );
    let value = alloc.pool_box(7u64).unwrap();
    assert_eq!(*value, 7);
    let capture = Capture::start();
    assert_eq!(alloc.advance_frame(), 2);
    assert_eq!(capture.finish().len(), 1);
    assert_eq!(alloc.diagnostics_hooks().history_len(), 2);
}

#[test]
fn a_listener_that_allocates_and_advances_the_frame_does_not_recurse() {
    let alloc = SmartAlloc::with_defaults();
    let weak = alloc.downgrade();
    let calls = Arc::new(AtomicU64::new(0));
    let count = calls.clone();
    alloc.diagnostics_hooks().add_listener(move |event| {
        // Diagnostics are process-wide: another test's may arrive here.
        if !matches!(event, DiagnosticsEvent::Diagnostic(_)) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let (DiagnosticsEvent::FrameEnd { .. }, Some(alloc)) = (event, weak.upgrade()) {
            let kept: Vec<u64> = (0..100).collect();
            let boxed = alloc.pool_box(kept.len() as u64).unwrap();
            assert_eq!(*boxed, 100);
            // Ends the next frame from inside the listener: recorded, but
            // its events are not fed back.
            alloc.advance_frame();
        }
    });
    let (_, log) = record(alloc.diagnostics_hooks());
    assert_eq!(alloc.advance_frame(), 1, "the outer call's own number");
    assert_eq!(alloc.frame_number(), 2);
    assert_eq!(kinds(&take(&log)), [Kind::End(0), Kind::Begin(1)]);
    assert_eq!(calls.load(Ordering::Relaxed), 2, "FrameEnd and FrameBegin");
    let graph = alloc.diagnostics_hooks().get_memory_graph_data(10);
    assert_eq!(graph.frame_numbers, [0, 1]);
    // The listener's pool box was live when the inner frame ended.
    assert_eq!(graph.intents[1], (Intent::Pool, vec![0, 8]));
}

#[test]
fn the_history_wraps_after_its_capacity() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_snapshot_history(5));
    let hooks = alloc.diagnostics_hooks();
    assert_eq!(hooks.history_capacity(), 5);
    let mut boxes = Vec::new();
    for _ in 0..8 {
        boxes.push(alloc.pool_box([0u64; 8]).unwrap()); // 64 bytes
        alloc.advance_frame();
    }
    assert_eq!(hooks.history_len(), 5);
    assert_eq!(hooks.last_snapshot().unwrap().frame_number, 7);
    let graph = hooks.get_memory_graph_data(100);
    assert_eq!(graph.frame_numbers, [3, 4, 5, 6, 7]);
    assert_eq!(
        graph.intents[1],
        (Intent::Pool, vec![256, 320, 384, 448, 512])
    );
    let graph = hooks.get_memory_graph_data(2);
    assert_eq!(graph.frame_numbers, [6, 7]);

    // No history: nothing recorded, events still sent.
    let none = SmartAlloc::new(AllocConfig::default().with_snapshot_history(0));
    let (_, log) = record(none.diagnostics_hooks());
    none.advance_frame();
    assert_eq!(kinds(&take(&log)), [Kind::End(0), Kind::Begin(1)]);
    assert_eq!(none.diagnostics_hooks().history_len(), 0);
    assert!(
        none.diagnostics_hooks()
            .get_memory_graph_data(10)
            .is_empty()
    );
}

#[test]
fn graph_data_has_a_series_per_intent_and_per_tag_in_use() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let physics = AllocationTag::new("dh-physics");
    let audio = AllocationTag::new("dh-audio");
    let mut bodies = Vec::new();
    for n in 0..4u64 {
        bodies.push(alloc.with_tag(physics, || alloc.pool_box([0u64; 4]).unwrap()));
        let level = alloc.heap_box([n as u8; 5000]).unwrap();
        alloc.advance_frame();
        drop(level);
    }
    let hooks = alloc.diagnostics_hooks();
    assert!(hooks.get_memory_graph_data(0).is_empty());
    let graph = hooks.get_memory_graph_data(3);
    assert_eq!(graph.len(), 3);
    assert_eq!(graph.frame_numbers, [1, 2, 3]);
    let names: Vec<&str> = graph.series.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["frame", "pool", "heap", "group", "streaming", "dh-physics"]
    );
    assert_eq!(graph.series[1].1, [64.0, 96.0, 128.0]);
    assert_eq!(graph.series[2].1, [5000.0; 3]);
    assert_eq!(graph.series[5].1, [64.0, 96.0, 128.0]);
    assert_eq!(graph.tags, [(physics, vec![64, 96, 128])]);
    assert!(!graph.tags.iter().any(|(tag, _)| *tag == audio));
    assert_eq!(graph.max_bytes(), 5000);
    for (series, (intent, values)) in graph.series.iter().zip(&graph.intents) {
        assert_eq!(series.0, intent.name());
        let exact: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(series.1, exact);
    }
    assert_eq!(graph.reserved.len(), 3);
    assert_eq!(
        graph.reserved[2], graph.snapshots[2].reserved_bytes,
        "reserved figures per frame"
    );
    assert_eq!(hooks.get_memory_graph_data(100).len(), 4);
}

/// One steady engine frame: frame scratch, pool boxes churned, a heap
/// block made and freed.
fn steady_frame(alloc: &SmartAlloc, boxes: &mut Vec<framealloc::PoolBox<[u64; 4]>>, n: u64) {
    let frame = alloc.begin_frame();
    let scratch = frame.alloc_slice_fill_with(512, |i| i as u32 + n as u32);
    assert_eq!(scratch[1], 1 + n as u32);
    drop(scratch);
    frame.end();
    boxes.remove(0);
    boxes.push(alloc.pool_box([n; 4]).unwrap());
    drop(alloc.heap_box([0u8; 5000]).unwrap());
    alloc.advance_frame();
}

fn calls_over_steady_frames(alloc: &SmartAlloc, frames: u64) -> u64 {
    let mut boxes: Vec<_> = (0..16).map(|i| alloc.pool_box([i; 4]).unwrap()).collect();
    for n in 0..WARM_UP {
        steady_frame(alloc, &mut boxes, n);
    }
    let before = calls_on_this_thread();
    for n in 0..frames {
        steady_frame(alloc, &mut boxes, n);
    }
    calls_on_this_thread() - before
}

/// Frames before the counting starts.
const WARM_UP: u64 = 10;

#[test]
fn advancing_warm_frames_makes_no_system_allocation() {
    let frames = crate::support::count(100, 4) as u64;
    let heap_blocks = frames; // the steady frame's one `heap_box` each
    for budgets in [false, true] {
        let config = AllocConfig::default().with_budgets(budgets);
        let alloc = SmartAlloc::new(config.clone());
        // Each heap box is one call to allocate and one to free.
        assert_eq!(calls_over_steady_frames(&alloc, frames), 2 * heap_blocks);
        assert_eq!(
            alloc.diagnostics_hooks().history_len() as u64,
            WARM_UP + frames
        );

        let alloc = SmartAlloc::new(config.clone());
        let events = Arc::new(AtomicU64::new(0));
        let count = events.clone();
        alloc.diagnostics_hooks().add_listener(move |event| {
            if let DiagnosticsEvent::FrameEnd { snapshot, .. } = event {
                count.fetch_add(snapshot.pool_bytes, Ordering::Relaxed);
            }
        });
        assert_eq!(calls_over_steady_frames(&alloc, frames), 2 * heap_blocks);
        // 16 boxes of 32 bytes live at every frame end.
        assert_eq!(events.load(Ordering::Relaxed), (WARM_UP + frames) * 16 * 32);

        let none = SmartAlloc::new(config.with_snapshot_history(0));
        assert_eq!(calls_over_steady_frames(&none, frames), 2 * heap_blocks);
    }
}

#[test]
fn a_listener_panicking_on_every_event_is_reported_without_recursion() {
    let alloc = SmartAlloc::with_defaults();
    let me = std::thread::current().id();
    alloc.diagnostics_hooks().add_listener(move |_| {
        // Other tests' diagnostics reach this listener on their threads.
        if std::thread::current().id() == me {
            panic!("always");
        }
    });
    let capture = Capture::start();
    alloc.advance_frame();
    let codes: Vec<&str> = capture.finish().iter().map(|d| d.code).collect();
    // FrameEnd panics (FA303), the FA303 handed to the listener panics
    // (FA303, not handed on); the same for FrameBegin.
    assert_eq!(codes, ["FA303"; 4]);
}

#[test]
fn the_spec_example_compiles_as_written() {
    #[expect(unused_mut, reason = "the spec's example binds the hooks mutably")]
    let mut hooks = DiagnosticsHooks::new();
    let log: Arc<Mutex<Vec<(u64, usize, usize)>>> = Arc::default();
    let sink = log.clone();
    hooks.add_listener(move |event| match event {
        DiagnosticsEvent::FrameBegin { frame_number } => {
            sink.lock().unwrap().push((*frame_number, 0, 0));
        }
        DiagnosticsEvent::MemoryPressure { current, limit } => {
            sink.lock().unwrap().push((u64::MAX, *current, *limit));
        }
        _ => {}
    });
    let alloc = SmartAlloc::new(AllocConfig::default().with_diagnostics_hooks(hooks.clone()));
    alloc.advance_frame();
    alloc.advance_frame();
    // No budget, so no pressure.
    assert_eq!(*log.lock().unwrap(), [(1, 0, 0), (2, 0, 0)]);
    let graph_data = hooks.get_memory_graph_data(100);
    assert_eq!(graph_data.frame_numbers, [0, 1]);
}
