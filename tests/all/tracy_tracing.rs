//! Features `tracy` and `tracing`.
//!
//! Tracy: compiled in with no client running (no test starts one: a
//! started client broadcasts on the network), every intent works, nothing
//! panics and no socket opens.
//!
//! `tracing`: a recording subscriber (installed for the test's thread
//! only) sees the slow-path events with their targets and exact fields,
//! and the allocator's results are the same with and without it.

#[cfg(feature = "tracy")]
mod tracy {
    use framealloc::{AllocConfig, HandleAllocator, SmartAlloc, StreamPriority};

    /// Sockets this process has open: entries of `/proc/self/fd` that
    /// link to `socket:[inode]`.
    fn open_sockets() -> usize {
        std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// UDP sockets bound to Tracy's broadcast port (8086, `1F96` in
    /// `/proc/net/udp`) in this network namespace.
    fn tracy_udp_sockets() -> usize {
        let table = std::fs::read_to_string("/proc/self/net/udp").expect("/proc/self/net/udp");
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let local = line.split_whitespace().nth(1).unwrap_or("");
                local.ends_with(":1F96")
            })
            .count()
    }

    #[test]
    fn every_intent_works_with_tracy_compiled_in_and_no_client_running() {
        let sockets = open_sockets();
        let udp = tracy_udp_sockets();

        let alloc = SmartAlloc::new(
            AllocConfig::default()
                .with_frame_chunk_size(4096)
                .with_streaming_budget(1 << 16),
        );
        let pooled: Vec<_> = (0..100u64).map(|i| alloc.pool_box(i).unwrap()).collect();
        let big = alloc.heap_box([7u8; 8192]).unwrap();
        for round in 0..3u64 {
            let frame = alloc.begin_frame();
            let small = frame.alloc(round);
            // Past the first 4 KiB chunk: the arena grows.
            let wide = frame.alloc_slice_fill_with(2000, |i| i as u32 + round as u32);
            assert_eq!((*small, wide[1999]), (round, 1999 + round as u32));
            drop((small, wide));
            drop(frame);
            assert_eq!(alloc.advance_frame(), round + 1);
        }
        let group = alloc.groups().create_group("level");
        assert_eq!(group.alloc([3u16; 100])[99], 3);
        assert_eq!(alloc.groups().free_group(group).allocations, 1);
        let id = alloc
            .streaming()
            .reserve(1000, StreamPriority::Normal)
            .unwrap();
        let mut writer = alloc.streaming().begin_load(id).unwrap();
        writer.bytes_mut().fill(9);
        writer.finish();
        assert_eq!(alloc.streaming().access(id).unwrap()[999], 9);
        alloc.streaming().evict(id).unwrap();
        let mut handles = HandleAllocator::new();
        let a = handles.alloc(1u64).unwrap();
        let b = handles.alloc(2u64).unwrap();
        handles.free(a);
        assert_eq!(handles.defragment().relocations.len(), 1);
        assert_eq!(handles.get(b), Some(&2));

        assert_eq!(pooled.iter().map(|b| **b).sum::<u64>(), 4950);
        assert_eq!(big[8191], 7);
        drop((pooled, big));
        let stats = alloc.stats();
        assert_eq!(stats.frame.frames_completed, 3);
        assert_eq!((stats.pool.allocations, stats.pool.live_bytes), (100, 0));
        assert_eq!((stats.heap.allocations, stats.heap.live_bytes), (1, 0));
        drop(alloc);

        assert_eq!(open_sockets(), sockets, "a socket was opened");
        assert_eq!(tracy_udp_sockets(), udp, "Tracy's broadcast port is bound");
    }
}

#[cfg(feature = "tracing")]
mod tracing_events {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use framealloc::{AllocConfig, AllocError, AllocationTag, HandleAllocator, SmartAlloc};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    /// One event: its target, level, and fields (the message under
    /// `"message"`), each written with `Debug`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Seen {
        target: String,
        level: Level,
        fields: BTreeMap<String, String>,
    }

    impl Seen {
        fn message(&self) -> &str {
            &self.fields["message"]
        }
    }

    /// A subscriber that keeps every framealloc event it is given (the
    /// test harness logs nothing through `tracing`, but stay precise); with
    /// `wants: false` it declines every callsite.
    #[derive(Clone)]
    struct Recorder {
        seen: Arc<Mutex<Vec<Seen>>>,
        wants: bool,
    }

    impl Recorder {
        fn new(wants: bool) -> Recorder {
            Recorder {
                seen: Arc::default(),
                wants,
            }
        }
    }

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            self.wants
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let metadata = event.metadata();
            if !metadata.target().starts_with("framealloc") {
                return;
            }
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.seen.lock().unwrap().push(Seen {
                target: metadata.target().to_owned(),
                level: *metadata.level(),
                fields,
            });
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Runs `work` with a recorder as this thread's subscriber.
    fn recorded<R>(work: impl FnOnce() -> R) -> (R, Vec<Seen>) {
        recorded_by(Recorder::new(true), work)
    }

    fn recorded_by<R>(recorder: Recorder, work: impl FnOnce() -> R) -> (R, Vec<Seen>) {
        let result = tracing::subscriber::with_default(recorder.clone(), work);
        let seen = recorder.seen.lock().unwrap().clone();
        (result, seen)
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn seen(target: &str, level: Level, pairs: &[(&str, &str)]) -> Seen {
        Seen {
            target: target.to_owned(),
            level,
            fields: fields(pairs),
        }
    }

    /// The slow paths each test drives, with what they return.
    fn pool_refills() -> (u64, u64) {
        let alloc = SmartAlloc::with_defaults();
        // The first u64 takes a page for the 8-byte class; the next ones
        // are carved from it.
        let first = alloc.pool_box(1u64).unwrap();
        let second = alloc.pool_box(2u64).unwrap();
        // A 100-byte value: the 112-byte class, a page of its own.
        let third = alloc.pool_box([3u8; 100]).unwrap();
        (*first + *second, u64::from(third[99]))
    }

    #[test]
    fn a_pool_refill_from_a_new_page_is_a_debug_event_of_framealloc_pool() {
        let (result, events) = recorded(pool_refills);
        assert_eq!(result, (3, 3));
        let message = "pool size class refilled from a new page";
        assert_eq!(
            events,
            vec![
                seen(
                    "framealloc::pool",
                    Level::DEBUG,
                    &[("message", message), ("class_size", "8")]
                ),
                seen(
                    "framealloc::pool",
                    Level::DEBUG,
                    &[("message", message), ("class_size", "112")]
                ),
            ]
        );
        assert_eq!(pool_refills(), result, "the subscriber changes nothing");
    }

    /// A frame that outgrows its first 4 KiB chunk; returns what it read
    /// back and the allocator's chunk figures afterwards.
    fn frame_growth() -> (u32, u64, usize) {
        let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(4096));
        let frame = alloc.begin_frame();
        let small = frame.alloc(5u32);
        let wide = frame.alloc_slice_fill_with(1250, |i| i as u32); // 5000 bytes
        let read = *small + wide[1249];
        drop((small, wide));
        drop(frame);
        let stats = alloc.stats().frame;
        (read, stats.chunk_allocations, stats.reserved_bytes)
    }

    #[test]
    fn frame_chunk_growth_is_a_debug_event_of_framealloc_frame() {
        let ((read, chunk_allocations, reserved), events) = recorded(frame_growth);
        assert_eq!(read, 1254);
        let grown = |bytes: &str| {
            seen(
                "framealloc::frame",
                Level::DEBUG,
                &[("message", "frame arena chunk allocated"), ("bytes", bytes)],
            )
        };
        // The first chunk (4 KiB), the one the 5000 bytes needed; at the
        // frame's end the arena merges them into one chunk for the next
        // frame, also from the system.
        assert_eq!(events[..2], [grown("4096"), grown("5000")]);
        assert_eq!(events.len() as u64, chunk_allocations);
        assert_eq!(events[2..], [grown(&reserved.to_string())]);
        assert_eq!(frame_growth(), (read, chunk_allocations, reserved));
    }

    fn refusals() -> (AllocError, AllocError, usize) {
        let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
        alloc.budgets().set_global_limits(None, Some(100)).unwrap();
        let kept = alloc.pool_box([0u8; 64]).unwrap();
        let global = alloc.heap_box([0u8; 48]).unwrap_err();
        let ui = AllocationTag::new("ui");
        alloc.budgets().set_tag_limits(ui, None, Some(16)).unwrap();
        let tagged = alloc
            .with_tag(ui, || alloc.pool_box([0u8; 32]))
            .unwrap_err();
        drop(kept);
        (global, tagged, alloc.budgets().global_usage().used)
    }

    #[test]
    fn a_budget_refusal_is_a_warn_event_of_framealloc_budget() {
        let (result, events) = recorded(refusals);
        let (global, tagged, used) = result.clone();
        assert_eq!(
            global,
            AllocError::GlobalBudgetExceeded {
                requested: 48,
                used: 64,
                limit: 100
            }
        );
        assert_eq!(tagged.code(), "FA302");
        assert_eq!(used, 0);
        let message = "budget refused an allocation";
        // The kept box's pool refill comes first; then the refusals.
        assert_eq!(events[0].fields["class_size"], "64");
        assert_eq!(
            events[1..],
            vec![
                seen(
                    "framealloc::budget",
                    Level::WARN,
                    &[
                        ("message", message),
                        ("tag", "global"),
                        ("requested", "48"),
                        ("used", "64"),
                        ("limit", "100"),
                    ]
                ),
                seen(
                    "framealloc::budget",
                    Level::WARN,
                    &[
                        ("message", message),
                        ("tag", "ui"),
                        ("requested", "32"),
                        ("used", "0"),
                        ("limit", "16"),
                    ]
                ),
            ]
        );
        assert_eq!(refusals(), result);
    }

    fn defragmentation() -> (usize, usize, Vec<u64>) {
        let mut handles = HandleAllocator::new();
        let all: Vec<_> = (0..4u64).map(|i| handles.alloc([i; 4]).unwrap()).collect();
        handles.free(all[0]);
        handles.free(all[2]);
        let report = handles.defragment();
        let values = all[1..]
            .iter()
            .filter_map(|h| handles.get(*h).map(|v| v[0]))
            .collect();
        (report.bytes_moved, report.relocations.len(), values)
    }

    #[test]
    fn a_defragmentation_is_a_debug_event_of_framealloc_handle() {
        let (result, events) = recorded(defragmentation);
        // Values 1 and 3 (32 bytes each) slide down.
        assert_eq!(result, (64, 2, vec![1, 3]));
        assert_eq!(
            events,
            vec![seen(
                "framealloc::handle",
                Level::DEBUG,
                &[
                    ("message", "handles defragmented"),
                    ("bytes_moved", "64"),
                    ("relocations", "2"),
                    ("complete", "true"),
                ]
            )]
        );
        assert_eq!(defragmentation(), result);
    }

    #[test]
    fn an_eviction_is_a_debug_event_of_framealloc_streaming() {
        let ((), events) = recorded(|| {
            let streaming = framealloc::StreamingAllocator::new(1000);
            let first = streaming
                .reserve(600, framealloc::StreamPriority::Normal)
                .unwrap();
            streaming.begin_load(first).unwrap().finish();
            // No room for 600 more: the first asset goes.
            streaming
                .reserve(600, framealloc::StreamPriority::Normal)
                .unwrap();
            assert!(streaming.access(first).is_none());
        });
        let evictions: Vec<_> = events
            .iter()
            .filter(|e| e.message() == "streamed asset evicted")
            .collect();
        assert_eq!(evictions.len(), 1);
        assert_eq!(evictions[0].target, "framealloc::streaming");
        assert_eq!(evictions[0].fields["bytes"], "600");
    }

    fn engine_frames() -> (u64, u64) {
        let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(4096));
        let pooled = alloc.pool_box([1u8; 64]).unwrap();
        let big = alloc.heap_box([2u8; 8192]).unwrap();
        let frame = alloc.begin_frame();
        let value = *frame.alloc(3u64);
        drop(frame);
        let number = alloc.advance_frame();
        drop((pooled, big));
        (value, number)
    }

    #[test]
    fn advance_frame_is_a_debug_event_of_framealloc_frame_with_the_snapshot() {
        let (result, events) = recorded(engine_frames);
        assert_eq!(result, (3, 1));
        let ended: Vec<_> = events
            .iter()
            .filter(|e| e.message() == "engine frame ended")
            .cloned()
            .collect();
        assert_eq!(
            ended,
            vec![seen(
                "framealloc::frame",
                Level::DEBUG,
                &[
                    ("message", "engine frame ended"),
                    ("frame", "0"),
                    ("frame_reserved_bytes", "4096"),
                    ("pool_bytes", "64"),
                    ("heap_bytes", "8192"),
                    ("group_bytes", "0"),
                    ("streaming_bytes", "0"),
                    // The frame chunk, one 64 KiB pool page, the heap block.
                    ("reserved_bytes", "77824"),
                ]
            )]
        );
        assert_eq!(engine_frames(), result);
    }

    #[test]
    fn a_subscriber_that_wants_nothing_gets_nothing_and_changes_nothing() {
        let declining = || Recorder::new(false);
        let (refills, events) = recorded_by(declining(), pool_refills);
        assert_eq!((refills, events), ((3, 3), vec![]));
        // Built while nobody wanted frame events, the allocator does not
        // watch its frames; its figures are the same.
        let (growth, events) = recorded_by(declining(), frame_growth);
        assert_eq!((growth, events), (frame_growth(), vec![]));
        let (refused, events) = recorded_by(declining(), refusals);
        assert_eq!((refused, events), (refusals(), vec![]));
    }
}
