//! `ProfilerHooks` on the frame and group intents: the exact events of
//! chunk growth, resets, merges, trims, group frees and the allocator's
//! drop; that attaching hooks changes no figure; and, with the `debug`
//! feature, that reset frame memory, rewound scope memory and freed group
//! chunks read `0xDD`, and that group values name their call sites in the
//! leak report until their group is freed.

use std::sync::{Arc, Mutex};

use framealloc::diagnostics::{Intent, MemoryEvent, ProfilerHooks};
use framealloc::{AllocConfig, AllocStats, AllocationTag, FrameBox, SmartAlloc};

/// An event with its addresses as numbers, so it can be stored and sent.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    FrameReset {
        arena: usize,
        bytes: usize,
    },
    GroupFreed {
        name: String,
        bytes: usize,
        id: u64,
    },
    Other,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn seen(event: &MemoryEvent) -> Seen {
    match event {
        MemoryEvent::Alloc {
            ptr,
            size,
            tag,
            intent,
            ..
        } => Seen::Alloc {
            addr: ptr.addr(),
            size: *size,
            tag: *tag,
            intent: *intent,
        },
        MemoryEvent::Free {
            ptr, size, intent, ..
        } => Seen::Free {
            addr: ptr.addr(),
            size: *size,
            intent: *intent,
        },
        MemoryEvent::FrameReset { arena, bytes, .. } => Seen::FrameReset {
            arena: *arena,
            bytes: *bytes,
        },
        MemoryEvent::GroupFreed {
            name, bytes, id, ..
        } => Seen::GroupFreed {
            name: name.to_string(),
            bytes: *bytes,
            id: *id,
        },
        _ => Seen::Other,
    }
}

/// Hooks whose callback records every event in the returned log.
fn recording() -> (ProfilerHooks, Log) {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    let sink = log.clone();
    hooks.set_callback(move |event| sink.lock().unwrap().push(seen(event)));
    (hooks, log)
}

/// Empties `log`, returning what it held.
fn take(log: &Log) -> Vec<Seen> {
    core::mem::take(&mut *log.lock().unwrap())
}

/// Frames with 4 KiB chunks: small enough to outgrow on purpose.
fn frame_config() -> AllocConfig {
    AllocConfig::default().with_frame_chunk_size(4096)
}

fn frame_alloc(addr: usize, size: usize) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag: None,
        intent: Intent::Frame,
    }
}

fn frame_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Frame,
    }
}

fn addr_of<T: ?Sized>(boxed: &FrameBox<'_, T>) -> usize {
    FrameBox::as_ptr(boxed).cast::<u8>().addr()
}

#[test]
fn the_first_frame_takes_one_chunk_and_reports_its_reset() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    let frame = alloc.begin_frame();
    assert_eq!(take(&log), [], "beginning a frame takes no chunk");
    let first = frame.alloc(1u64);
    let chunk = addr_of(&first);
    let rest = frame.alloc_slice_fill_with(100, |i| i as u8); // 104 bytes with rounding
    frame.alloc(2u64);
    drop((first, rest));
    assert_eq!(take(&log), [frame_alloc(chunk, 4096)]);
    assert_eq!(frame.end().bytes_used, 120);
    assert_eq!(
        take(&log),
        [Seen::FrameReset {
            arena: 0,
            bytes: 120
        }]
    );
    assert_eq!(alloc.stats().frame.chunk_allocations, 1);
}

#[test]
fn repeated_frames_report_only_their_resets() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    alloc.begin_frame().alloc_slice_fill_with(50, |i| i as u64);
    assert_eq!(take(&log).len(), 2, "the first chunk and the first reset");
    for frame_index in 1..6 {
        let frame = alloc.begin_frame();
        frame.alloc_slice_fill_with(50 * frame_index, |i| i as u8);
        let nested = alloc.begin_frame(); // an inner frame: no reset of its own
        nested.alloc(0u32);
        drop(nested);
        assert_eq!(take(&log), [], "nothing until the outermost frame ends");
        drop(frame);
        let bytes = (50 * frame_index).next_multiple_of(8) + 8;
        assert_eq!(take(&log), [Seen::FrameReset { arena: 0, bytes }]);
    }
    assert_eq!(alloc.stats().frame.chunk_allocations, 1);
}

#[test]
fn a_frame_growing_into_a_second_chunk_reports_it_and_the_merge() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    let frame = alloc.begin_frame();
    let a = frame.alloc_slice_fill_with(375, |i| i as u64); // 3,000 bytes
    let b = frame.alloc_slice_fill_with(375, |i| i as u64); // does not fit: a new chunk
    let (first, second) = (addr_of(&a), addr_of(&b));
    drop((a, b));
    assert_eq!(frame.report().chunks, 2);
    assert_eq!(
        take(&log),
        [frame_alloc(first, 4096), frame_alloc(second, 4096)]
    );
    drop(frame);
    // The reset merges the two chunks into one of 8 KiB: it is taken, the
    // two go back, then the reset is reported.
    let events = take(&log);
    assert_eq!(events.len(), 4, "{events:?}");
    let Seen::Alloc { addr: merged, .. } = events[0] else {
        panic!("the merged chunk first: {events:?}");
    };
    assert_eq!(
        events,
        [
            frame_alloc(merged, 8192),
            frame_free(first, 4096),
            frame_free(second, 4096),
            Seen::FrameReset {
                arena: 0,
                bytes: 6000
            },
        ]
    );
    // The same frame again fits in the merged chunk: only its reset.
    let frame = alloc.begin_frame();
    let a = frame.alloc_slice_fill_with(375, |i| i as u64);
    assert_eq!(addr_of(&a), merged);
    frame.alloc_slice_fill_with(375, |i| i as u64);
    drop(a);
    drop(frame);
    assert_eq!(
        take(&log),
        [Seen::FrameReset {
            arena: 0,
            bytes: 6000
        }]
    );
    let stats = alloc.stats().frame;
    assert_eq!((stats.chunk_allocations, stats.reserved_bytes), (3, 8192));
}

/// A frame whose scope outgrew the first chunk leaves the second chunk
/// spare at its reset: it goes to the shared pool (no event: it is still
/// the allocator's frame memory), and `trim` gives it to the system.
#[test]
fn trim_reports_the_pooled_chunks_it_frees() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    let first = addr_of(&alloc.begin_frame().alloc(1u64));
    assert_eq!(
        take(&log),
        [
            frame_alloc(first, 4096),
            Seen::FrameReset { arena: 0, bytes: 8 }
        ]
    );
    let mut frame = alloc.begin_frame();
    frame.alloc(2u64);
    let second = {
        let scope = frame.scope();
        scope.alloc_slice_fill_with(375, |i| i as u64); // fits after the u64
        let spilled = scope.alloc_slice_fill_with(375, |i| i as u64);
        addr_of(&spilled)
    };
    drop(frame);
    assert_eq!(
        take(&log),
        [
            frame_alloc(second, 4096),
            Seen::FrameReset { arena: 0, bytes: 8 }
        ],
        "the scope's memory was rewound: the frame used 8 bytes"
    );
    let stats = alloc.stats().frame;
    assert_eq!((stats.pooled_chunks, stats.pooled_bytes), (1, 4096));
    assert_eq!(alloc.trim(), 4096);
    assert_eq!(take(&log), [frame_free(second, 4096)]);
    assert_eq!(alloc.stats().frame.pooled_chunks, 0);
    assert_eq!(alloc.trim(), 0);
    assert_eq!(take(&log), []);
}

/// Every chunk `Alloc` has exactly one `Free` once the allocator is gone
/// (frame chunks held by the arenas of two threads, group chunks), except
/// the chunk of a group still alive, freed with the group; each thread's
/// resets name its arena.
#[test]
fn every_chunk_reported_taken_is_reported_freed_by_the_drop() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    alloc
        .begin_frame()
        .alloc_slice_fill_with(1000, |i| i as u64); // one 8,000-byte chunk
    std::thread::scope(|threads| {
        threads.spawn(|| {
            alloc.begin_frame().alloc(1u8);
        });
    });
    let kept = alloc.groups().create_group("kept");
    let kept_chunk = core::ptr::from_mut(kept.alloc(3u16)).addr();
    let group = alloc.groups().create_group("g");
    group.alloc_slice_fill_with(100_000, |i| i as u8); // one chunk of its size
    drop(group);
    drop(alloc); // `kept` outlives the allocator's handles
    let events = take(&log);
    let resets: Vec<&Seen> = events
        .iter()
        .filter(|event| matches!(event, Seen::FrameReset { .. }))
        .collect();
    assert_eq!(
        resets,
        [
            &Seen::FrameReset {
                arena: 0,
                bytes: 8000
            },
            &Seen::FrameReset { arena: 1, bytes: 8 }
        ]
    );
    let mut live = Vec::new();
    let mut freed = Vec::new();
    // Matches each `Free` with the live `Alloc` of the same chunk.
    let pair = |events: Vec<Seen>, live: &mut Vec<(usize, usize)>, freed: &mut Vec<usize>| {
        for event in events {
            match event {
                Seen::Alloc { addr, size, .. } => live.push((addr, size)),
                Seen::Free { addr, size, .. } => {
                    let index = live.iter().position(|&chunk| chunk == (addr, size));
                    live.swap_remove(index.expect("a free of a chunk reported taken"));
                    freed.push(size);
                }
                _ => {}
            }
        }
    };
    pair(events, &mut live, &mut freed);
    assert_eq!(
        live,
        [(kept_chunk, 64 << 10)],
        "only the live group's chunk"
    );
    let id = kept.stats().id;
    drop(kept);
    let last = take(&log);
    assert_eq!(
        last[0],
        Seen::GroupFreed {
            name: "kept".into(),
            bytes: 2,
            id
        }
    );
    pair(last, &mut live, &mut freed);
    assert_eq!(live, [], "every chunk taken was given back");
    // In order: the group, then the arenas in creation order, then `kept`.
    assert_eq!(freed, [100_000, 8000, 4096, 64 << 10]);
}

fn group_chunk(addr: usize, size: usize, tag: Option<AllocationTag>) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag,
        intent: Intent::Group,
    }
}

fn group_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Group,
    }
}

#[test]
fn a_group_reports_its_chunk_its_free_then_the_chunk_going_back() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let groups = alloc.groups();
    let level = groups.create_group("level");
    assert_eq!(take(&log), [], "an empty group takes no memory");
    let hp = level.alloc(100u64);
    let chunk = core::ptr::from_mut(hp).addr();
    level.alloc_str("castle");
    level.alloc(String::from("keep")); // a destructor: a run header, not counted in bytes
    assert_eq!(take(&log), [group_chunk(chunk, 64 << 10, None)]);
    let id = level.stats().id;
    let stats = groups.free_group(level);
    assert_eq!(stats.bytes, 8 + 6 + 24);
    assert_eq!(
        take(&log),
        [
            Seen::GroupFreed {
                name: "level".into(),
                bytes: 38,
                id
            },
            group_free(chunk, 64 << 10)
        ]
    );
    // A group that never allocated is freed too, with no chunk.
    let empty = groups.create_group("empty");
    let id = empty.stats().id;
    drop(empty);
    assert_eq!(
        take(&log),
        [Seen::GroupFreed {
            name: "empty".into(),
            bytes: 0,
            id
        }]
    );
}

#[test]
fn group_chunks_carry_the_tag_they_are_charged_to() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_profiler_hooks(hooks),
    );
    let audio = AllocationTag::new("observe_frame_group::audio");
    let bank = alloc.with_tag(audio, || alloc.groups().create_group("bank"));
    // Allocated outside the tag: the group was charged to it at creation.
    let first = core::ptr::from_mut(bank.alloc(0u32)).addr();
    let big = bank.alloc_slice_fill_with(100 << 10, |i| i as u8); // past the first chunk
    let second = big.as_ptr().addr();
    assert_eq!(
        take(&log),
        [
            group_chunk(first, 64 << 10, Some(audio)),
            group_chunk(second, 128 << 10, Some(audio))
        ]
    );
    let id = bank.stats().id;
    drop(bank); // dropping frees the group as `free_group` does
    assert_eq!(
        take(&log),
        [
            Seen::GroupFreed {
                name: "bank".into(),
                bytes: 4 + (100 << 10),
                id
            },
            group_free(first, 64 << 10),
            group_free(second, 128 << 10)
        ]
    );
    // Budgets off: no tag is charged, and none is reported.
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let plain = alloc.with_tag(audio, || alloc.groups().create_group("plain"));
    let addr = core::ptr::from_mut(plain.alloc(1u8)).addr();
    assert_eq!(take(&log), [group_chunk(addr, 64 << 10, None)]);
}

/// The same work, with and without hooks: every figure is the same.
#[test]
fn hooks_change_no_frame_or_group_figure() {
    fn work(alloc: &SmartAlloc) -> (AllocStats, usize, Vec<u64>) {
        let mut sums = Vec::new();
        for round in 0..4 {
            let mut frame = alloc.begin_frame();
            let values = frame.alloc_slice_fill_with(200 * round + 1, |i| i as u64);
            sums.push(values.iter().sum());
            drop(values);
            let scope = frame.scope();
            scope.alloc_slice_fill_with(900, |i| i as u32);
            drop(scope);
        }
        let groups = alloc.groups();
        let level = groups.create_group("level");
        let tiles = level.alloc_slice_fill_with(50_000, |i| (i % 7) as u16);
        sums.push(tiles.iter().map(|&tile| u64::from(tile)).sum());
        level.alloc(String::from("name"));
        let kept = groups.create_group("kept");
        kept.alloc(5u8);
        let freed = groups.free_group(level);
        sums.push(freed.bytes);
        let stats = alloc.stats();
        let trimmed = alloc.trim();
        drop(kept);
        (stats, trimmed, sums)
    }
    let (hooks, log) = recording();
    let watched = SmartAlloc::new(frame_config().with_profiler_hooks(hooks));
    let plain = SmartAlloc::new(frame_config());
    let with_hooks = work(&watched);
    assert!(log.lock().unwrap().len() > 10, "the hooks heard the work");
    assert_eq!(with_hooks, work(&plain));
    assert_eq!(watched.stats(), plain.stats());
}

/// With the `debug` feature, reset frame memory reads `0xDD` through a
/// pointer kept from before the reset. The arena keeps its chunk across
/// frames, so the memory is still allocated; the pointer is the box's own
/// (`FrameBox::as_ptr`, never through a reference), so it may read it.
#[cfg(feature = "debug")]
#[test]
#[expect(unsafe_code, reason = "the poisoned bytes are read through pointers kept from the boxes")]
fn reset_frame_memory_reads_freed_bytes() {
    use framealloc::diagnostics::FREED_BYTE;
    let alloc = SmartAlloc::new(frame_config());
    let frame = alloc.begin_frame();
    let kept = frame.alloc([0x11u8; 24]);
    let value = FrameBox::as_ptr(&kept).cast::<u8>();
    let slice = frame.alloc_slice_fill_with(1000, |_| 0x22u8);
    let tail = FrameBox::as_ptr(&slice).cast::<u8>();
    // SAFETY: live, initialised frame memory, through the boxes' own
    // pointers.
    let written = unsafe { value.read_volatile() };
    // SAFETY: as above.
    let filled = unsafe { tail.read_volatile() };
    assert_eq!((written, filled), (0x11, 0x22));
    let past = frame.alloc(0x66u8);
    let top = FrameBox::as_ptr(&past).addr() + 8; // the frame's last byte, rounded
    drop((kept, slice, past));
    drop(frame);
    for offset in 0..top - value.addr() {
        // SAFETY: the arena still holds the chunk (no frame since the
        // reset), and the pointer is the box's own, with the chunk's
        // provenance.
        let byte = unsafe { value.wrapping_add(offset).read_volatile() };
        assert_eq!(byte, FREED_BYTE, "offset {offset}");
    }
    // The next frame starts where the last one did.
    assert_eq!(addr_of(&alloc.begin_frame().alloc(0u8)), value.addr());
}

/// With the `debug` feature, memory a sub-scope gave back reads `0xDD`
/// while its frame is still open, across the chunks the scope entered; what
/// the frame allocated before the scope is untouched.
#[cfg(feature = "debug")]
#[test]
#[expect(unsafe_code, reason = "the poisoned bytes are read through pointers kept from the boxes")]
fn rewound_scope_memory_reads_freed_bytes() {
    use framealloc::diagnostics::FREED_BYTE;
    let alloc = SmartAlloc::new(frame_config());
    let mut frame = alloc.begin_frame();
    let kept = frame.alloc(0x33u64);
    let before = FrameBox::as_ptr(&kept);
    drop(kept); // a `u64` has no destructor: the value stays until the reset
    let (near, far) = {
        let scope = frame.scope();
        let near = scope.alloc_slice_fill_with(500, |_| 0x44u8);
        let far = scope.alloc_slice_fill_with(4000, |_| 0x55u8); // a second chunk
        (
            FrameBox::as_ptr(&near).cast::<u8>(),
            FrameBox::as_ptr(&far).cast::<u8>(),
        )
    };
    for offset in 0..500 {
        // SAFETY: the frame is open, so its chunks are held; the pointer is
        // the box's own.
        let byte = unsafe { near.wrapping_add(offset).read_volatile() };
        assert_eq!(byte, FREED_BYTE, "offset {offset}");
    }
    for offset in 0..4000 {
        // SAFETY: as above (the scope's second chunk stays with the arena
        // until the frame resets).
        let byte = unsafe { far.wrapping_add(offset).read_volatile() };
        assert_eq!(byte, FREED_BYTE, "offset {offset}");
    }
    // SAFETY: the frame's own value, still alive.
    assert_eq!(unsafe { before.read_volatile() }, 0x33);
    // The next scope reuses the rewound memory.
    let again = frame.scope();
    assert_eq!(addr_of(&again.alloc(0u8)), near.addr());
}

/// With the `debug` feature, a freed group's chunks read `0xDD` by the
/// time they are reported freed: the callback reads each chunk it hears
/// of, before the memory goes back to the system.
#[cfg(feature = "debug")]
#[test]
#[expect(unsafe_code, reason = "the callback reads the chunk through the event's pointer")]
fn freed_group_chunks_are_poisoned_before_they_go_back() {
    use framealloc::diagnostics::FREED_BYTE;
    let hooks = ProfilerHooks::new();
    let checked = Arc::new(Mutex::new(Vec::new()));
    let sink = checked.clone();
    hooks.set_callback(move |event| {
        if let MemoryEvent::Free {
            ptr,
            size,
            intent: Intent::Group,
            ..
        } = *event
        {
            let poisoned = (0..size)
                // SAFETY: the chunk is reported before it is freed, and the
                // event's pointer is the chunk's own.
                .all(|offset| unsafe { ptr.wrapping_add(offset).read_volatile() } == FREED_BYTE);
            sink.lock().unwrap().push((size, poisoned));
        }
    });
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let group = alloc.groups().create_group("poisoned");
    group.alloc_slice_fill_with(70_000, |_| 0x77u8);
    group.alloc(String::from("dropped first"));
    drop(group);
    assert_eq!(
        *checked.lock().unwrap(),
        [(70_000, true), (128 << 10, true)],
        "a first chunk of the first request's size, then 128 KiB"
    );
}

/// With the `debug` feature, each group value is recorded with its call
/// site until its group is freed.
#[cfg(feature = "debug")]
#[test]
fn group_values_name_their_sites_until_the_group_is_freed() {
    let alloc = SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("level");
    let line = line!() + 1;
    level.alloc(7u64);
    level.try_alloc(8u32).unwrap();
    let slice_line = line!() + 1;
    level.alloc_slice_copy(&[1u16, 2, 3]);
    level.alloc_str("castle");
    level.alloc_slice_fill_with(10, |i| i as u8);
    groups.alloc_val(&level, 9u64).unwrap();
    level.alloc(()); // zero-sized: nothing to record
    let report = alloc.leak_report();
    let mut sites: Vec<(u32, usize, usize)> = report
        .entries
        .iter()
        .filter(|site| site.intent == Intent::Group)
        .map(|site| {
            assert_eq!(site.file, file!());
            (site.line, site.count, site.bytes)
        })
        .collect();
    sites.sort_unstable();
    assert_eq!(
        sites,
        [
            (line, 1, 8),
            (line + 1, 1, 4),
            (slice_line, 1, 6),
            (slice_line + 1, 1, 6),
            (slice_line + 2, 1, 10),
            (slice_line + 3, 1, 8),
        ]
    );
    groups.free_group(level);
    assert!(alloc.leak_report().is_empty(), "{:?}", alloc.leak_report());
}
