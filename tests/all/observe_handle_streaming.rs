//! `ProfilerHooks` on the handle and streaming intents: the exact events
//! of each allocation, free, relocation and eviction; the relocations of a
//! defragmentation against its report and against where the handles now
//! resolve; callbacks that re-enter the allocator or panic; results
//! unchanged by hooks; and, with the `debug` feature, freed handle memory
//! poisoned.

use std::sync::{Arc, Mutex};

use framealloc::diagnostics::{Capture, Intent, MemoryEvent, ProfilerHooks};
use framealloc::{
    AllocConfig, AllocationTag, Defragmentation, Handle, HandleAllocator, HandleStats, Place,
    SmartAlloc, StreamId, StreamPriority, StreamingAllocator, StreamingStats, WeakAlloc,
};

/// An event with its addresses as numbers, so it can be stored and sent.
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
    Relocated {
        from: usize,
        to: usize,
        size: usize,
    },
    /// An `on_evict` listener ran (recorded by the test itself, to check
    /// the order against the observer's events).
    Listener {
        size: usize,
    },
    Other,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn seen(event: &MemoryEvent) -> Seen {
    match *event {
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
        MemoryEvent::Relocated { from, to, size, .. } => Seen::Relocated {
            from: from.addr(),
            to: to.addr(),
            size,
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

fn take(log: &Log) -> Vec<Seen> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn handle_alloc(addr: usize, size: usize) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag: None,
        intent: Intent::Handle,
    }
}

fn handle_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Handle,
    }
}

fn stream_alloc(addr: usize, size: usize) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag: None,
        intent: Intent::Streaming,
    }
}

fn stream_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Streaming,
    }
}

fn address<T>(handles: &HandleAllocator, handle: Handle<T>) -> usize {
    handles.resolve(handle).unwrap().as_ptr().addr()
}

/// The address of a ready asset's bytes.
fn asset_address(streaming: &StreamingAllocator, id: StreamId) -> usize {
    streaming.access(id).unwrap().as_ptr().addr()
}

/// Where the Alloc event in `events` put its memory.
fn alloc_addr(event: Seen) -> usize {
    match event {
        Seen::Alloc { addr, .. } => addr,
        other => panic!("not an Alloc: {other:?}"),
    }
}

#[test]
fn handle_values_report_their_alloc_and_free() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([1u64; 4]).unwrap();
    let b = handles.alloc(7u32).unwrap();
    let unit = handles.alloc(()).unwrap(); // zero-sized: takes no memory, not reported
    let (addr_a, addr_b) = (address(&handles, a), address(&handles, b));
    assert_eq!(addr_b, addr_a + 32);
    assert_eq!(
        take(&log),
        [handle_alloc(addr_a, 32), handle_alloc(addr_b, 4)]
    );
    assert_eq!(handles.free(a), Some([1; 4]));
    assert_eq!(take(&log), [handle_free(addr_a, 32)]);
    // A stale free reports FA401 and no memory event.
    let capture = Capture::start();
    assert_eq!(handles.free(a), None);
    assert_eq!(capture.finish()[0].code, "FA401");
    assert_eq!(handles.free(unit), Some(()));
    assert_eq!(take(&log), []);
    // The values still alive when the allocator drops are freed then.
    let c = handles.alloc(String::from("sword")).unwrap();
    let addr_c = address(&handles, c);
    let size_c = size_of::<String>();
    drop(handles);
    assert_eq!(
        take(&log),
        [
            handle_alloc(addr_c, size_c),
            handle_free(addr_b, 4),
            handle_free(addr_c, size_c)
        ]
    );
}

#[test]
fn handle_events_carry_the_allocators_tag() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let meshes = AllocationTag::new("observe-handle-meshes");
    let mut handles = alloc.with_tag(meshes, || alloc.handle_allocator());
    let h = handles.alloc([0u8; 48]).unwrap();
    let addr = address(&handles, h);
    assert_eq!(
        take(&log),
        [Seen::Alloc {
            addr,
            size: 48,
            tag: Some(meshes),
            intent: Intent::Handle
        }]
    );
}

/// The relocations of `report` as the events they must have made, given
/// each moved value's address before (`before`) and where its handle
/// resolves now.
fn expected_relocations(
    report: &Defragmentation,
    all: &[Handle<[u64; 8]>],
    before: &[usize],
    handles: &HandleAllocator,
) -> Vec<Seen> {
    report
        .relocations
        .iter()
        .map(|relocation| {
            let i = all
                .iter()
                .position(|h| h.erase() == relocation.handle)
                .unwrap();
            Seen::Relocated {
                from: before[i],
                to: address(handles, all[i]),
                size: relocation.size,
            }
        })
        .collect()
}

#[test]
fn a_defragmentation_reports_one_relocation_per_value_moved() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    let all: Vec<Handle<[u64; 8]>> = (0..10u64).map(|i| handles.alloc([i; 8]).unwrap()).collect();
    // Holes at 0, 3 and 4; 6 is pinned. 1-2 slide together (one memmove,
    // two events), 5 slides alone; 7-9 already sit right above the pin.
    for i in [0, 3, 4] {
        handles.free(all[i]);
    }
    handles.pin(all[6]).unwrap();
    let live: Vec<usize> = (0..10).filter(|i| ![0, 3, 4].contains(i)).collect();
    let before: Vec<usize> = (0..10)
        .map(|i| {
            if live.contains(&i) {
                address(&handles, all[i])
            } else {
                0
            }
        })
        .collect();
    take(&log);
    let report = handles.defragment();
    assert_eq!(report.relocations.len(), 3); // 1, 2, 5: 7-9 stay above the pin
    assert_eq!(report.bytes_moved, 3 * 64);
    let events = take(&log);
    assert_eq!(
        events,
        expected_relocations(&report, &all, &before, &handles)
    );
    // Spelled out: 1 and 2 one slot down, 5 two slots down.
    let base = before[1] - 64;
    assert_eq!(
        events,
        [
            Seen::Relocated {
                from: base + 64,
                to: base,
                size: 64
            },
            Seen::Relocated {
                from: base + 128,
                to: base + 64,
                size: 64
            },
            Seen::Relocated {
                from: base + 5 * 64,
                to: base + 128,
                size: 64
            },
        ]
    );
    for &i in &live {
        assert_eq!(handles.get(all[i]), Some(&[i as u64; 8]));
    }
    // A second defragmentation has nothing to move: no event.
    assert!(handles.defragment().relocations.is_empty());
    assert_eq!(take(&log), []);
}

#[test]
fn defragmentation_steps_and_moves_across_chunks_report_every_relocation() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    // 16 KiB values: four fill the first 64 KiB chunk, four the second.
    let all: Vec<Handle<[u8; 16384]>> = (0..8u8)
        .map(|i| handles.alloc([i; 16384]).unwrap())
        .collect();
    assert_eq!(handles.stats().chunks, 2);
    handles.free(all[1]);
    handles.free(all[2]);
    let live = [0usize, 3, 4, 5, 6, 7];
    let before: Vec<usize> = (0..8)
        .map(|i| {
            if live.contains(&i) {
                address(&handles, all[i])
            } else {
                0
            }
        })
        .collect();
    take(&log);
    // A step of 32 KiB moves two values: 3 down within the first chunk,
    // then 4 from the second chunk into the first.
    let step = handles.defragment_step(32 << 10);
    assert!(!step.complete);
    assert_eq!(step.relocations.len(), 2);
    let first = take(&log);
    let to: Vec<usize> = [3, 4].map(|i| address(&handles, all[i])).to_vec();
    assert_eq!(
        first,
        [
            Seen::Relocated {
                from: before[3],
                to: to[0],
                size: 16384
            },
            Seen::Relocated {
                from: before[4],
                to: to[1],
                size: 16384
            },
        ]
    );
    assert_eq!(to[0], before[0] + 16384); // where 1 was
    assert_eq!(to[1], before[0] + 2 * 16384); // where 2 was
    let mut moved_so_far = before.clone();
    moved_so_far[3] = to[0];
    moved_so_far[4] = to[1];
    let rest = handles.defragment();
    assert!(rest.complete);
    let events = take(&log);
    assert_eq!(events.len(), rest.relocations.len());
    assert_eq!(
        events,
        rest.relocations
            .iter()
            .map(|relocation| {
                let i = all
                    .iter()
                    .position(|h| h.erase() == relocation.handle)
                    .unwrap();
                Seen::Relocated {
                    from: moved_so_far[i],
                    to: address(&handles, all[i]),
                    size: relocation.size,
                }
            })
            .collect::<Vec<_>>()
    );
    // 5 joined the first chunk; 6 and 7 slid to the second one's start.
    assert_eq!(rest.relocations.len(), 3);
    assert_eq!(address(&handles, all[5]), before[0] + 3 * 16384);
    for i in live {
        assert_eq!(handles.get(all[i]).unwrap()[16383], i as u8);
    }
}

#[test]
fn streaming_reserve_eviction_and_release_report_in_order() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_profiler_hooks(hooks)
            .with_streaming_budget(300),
    );
    let streaming = alloc.streaming();
    let listener_log = log.clone();
    streaming.on_evict(move |eviction| {
        listener_log.lock().unwrap().push(Seen::Listener {
            size: eviction.size,
        });
    });
    let sky = streaming.reserve(200, StreamPriority::Low).unwrap();
    let events = take(&log);
    assert_eq!(events.len(), 1);
    let sky_addr = alloc_addr(events[0]);
    assert_eq!(events, [stream_alloc(sky_addr, 200)]);
    streaming.begin_load(sky).unwrap().finish();
    assert_eq!(asset_address(streaming, sky), sky_addr);
    assert_eq!(take(&log), []); // loading and access report nothing
    // The hero needs the sky's room: Free of the sky, its listener, then
    // the hero's Alloc.
    let hero = streaming.reserve(200, StreamPriority::High).unwrap();
    let events = take(&log);
    assert_eq!(events.len(), 3);
    let hero_addr = alloc_addr(events[2]);
    assert_eq!(
        events,
        [
            stream_free(sky_addr, 200),
            Seen::Listener { size: 200 },
            stream_alloc(hero_addr, 200)
        ]
    );
    // Releasing the evicted sky frees nothing more; releasing the hero
    // frees its bytes.
    streaming.release(sky).unwrap();
    assert_eq!(take(&log), []);
    streaming.release(hero).unwrap();
    assert_eq!(take(&log), [stream_free(hero_addr, 200)]);
    // `evict` reports like an eviction by `reserve`.
    let map = streaming.reserve(50, StreamPriority::Normal).unwrap();
    streaming.begin_load(map).unwrap().finish();
    let map_addr = asset_address(streaming, map);
    streaming.evict(map).unwrap();
    assert_eq!(
        take(&log),
        [
            stream_alloc(map_addr, 50),
            stream_free(map_addr, 50),
            Seen::Listener { size: 50 }
        ]
    );
    // A refused reservation reports nothing.
    let capture = Capture::start();
    assert_eq!(
        streaming
            .reserve(400, StreamPriority::Critical)
            .unwrap_err()
            .code(),
        "FA402"
    );
    assert_eq!(capture.finish().len(), 1);
    assert_eq!(take(&log), []);
    // An asset still held when the allocator drops is freed then.
    let kept = streaming.reserve(10, StreamPriority::Normal).unwrap();
    let kept_addr = alloc_addr(take(&log)[0]);
    assert_eq!(
        streaming.state(kept),
        Some(framealloc::StreamState::Reserved)
    );
    drop(alloc);
    assert_eq!(take(&log), [stream_free(kept_addr, 10)]);
}

#[test]
fn streaming_events_carry_the_reserving_threads_tag() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_profiler_hooks(hooks)
            .with_streaming_budget(1024),
    );
    let textures = AllocationTag::new("observe-streaming-textures");
    let id = alloc.with_tag(textures, || {
        alloc
            .streaming()
            .reserve(64, StreamPriority::Normal)
            .unwrap()
    });
    alloc.streaming().begin_load(id).unwrap().finish();
    let addr = asset_address(alloc.streaming(), id);
    assert_eq!(
        take(&log),
        [Seen::Alloc {
            addr,
            size: 64,
            tag: Some(textures),
            intent: Intent::Streaming
        }]
    );
}

/// A callback that calls back into the streaming allocator for every
/// event: it reserves (or releases) and reads the figures, which take the
/// table lock, so it would deadlock if the event came while the lock was
/// held. Its own events are dropped.
#[test]
fn a_streaming_callback_may_reenter_the_streaming_allocator() {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    // The callback reaches the allocator through a weak handle, so the
    // allocator and its hooks do not keep each other alive.
    let slot: Arc<Mutex<Option<WeakAlloc>>> = Arc::default();
    let nested: Arc<Mutex<Vec<(StreamId, usize)>>> = Arc::default();
    {
        let (log, slot, nested) = (log.clone(), slot.clone(), nested.clone());
        hooks.set_callback(move |event| {
            log.lock().unwrap().push(seen(event));
            let Some(alloc) = slot.lock().unwrap().as_ref().and_then(WeakAlloc::upgrade) else {
                return;
            };
            let streaming = alloc.streaming();
            let used = streaming.stats().used;
            if let MemoryEvent::Alloc { .. } = event {
                let id = streaming.reserve(8, StreamPriority::Critical).unwrap();
                nested.lock().unwrap().push((id, used));
            } else {
                let ids: Vec<_> = nested.lock().unwrap().drain(..).collect();
                for (id, _) in ids {
                    streaming.release(id).unwrap();
                }
            }
        });
    }
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_profiler_hooks(hooks)
            .with_streaming_budget(300),
    );
    *slot.lock().unwrap() = Some(alloc.downgrade());
    let streaming = alloc.streaming();
    let old = streaming.reserve(200, StreamPriority::Low).unwrap();
    let old_addr = alloc_addr(take(&log)[0]);
    // The callback saw the figures with the reservation made, and
    // reserved 8 bytes of its own (unreported).
    assert_eq!(nested.lock().unwrap().clone()[0].1, 200);
    assert_eq!(streaming.stats().used, 208);
    streaming.begin_load(old).unwrap().finish();
    // 208 + 100 > 300 evicts `old` (the nested asset is only reserved).
    // The events come after the new reservation is made: the Free's
    // callback releases the nested asset (unreported), the Alloc's
    // callback then sees 100 bytes used and reserves another one.
    let new = streaming.reserve(100, StreamPriority::High).unwrap();
    let events = take(&log);
    let new_addr = alloc_addr(events[1]);
    assert_eq!(
        events,
        [stream_free(old_addr, 200), stream_alloc(new_addr, 100)]
    );
    assert_eq!(nested.lock().unwrap().clone()[0].1, 100);
    assert_eq!(streaming.stats().used, 108);
    assert_eq!(streaming.stats().evictions, 1);
    // Release: the Free's callback releases the nested asset again.
    streaming.release(new).unwrap();
    assert_eq!(take(&log), [stream_free(new_addr, 100)]);
    assert!(nested.lock().unwrap().is_empty());
    assert_eq!(streaming.stats().used, 0);
}

/// A callback that allocates handle values (in another handle allocator of
/// the same `SmartAlloc`) and pool memory: its own events are dropped.
#[test]
fn a_handle_callback_may_allocate_from_the_same_allocator() {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    let slot: Arc<Mutex<Option<WeakAlloc>>> = Arc::default();
    let made = Arc::new(Mutex::new(0usize));
    {
        let (log, slot, made) = (log.clone(), slot.clone(), made.clone());
        hooks.set_callback(move |event| {
            log.lock().unwrap().push(seen(event));
            let Some(alloc) = slot.lock().unwrap().as_ref().and_then(WeakAlloc::upgrade) else {
                return;
            };
            let mut scratch = alloc.handle_allocator();
            let h = scratch.alloc([9u64; 16]).unwrap();
            let boxed = alloc.pool_box(5u32).unwrap();
            assert_eq!((scratch.get(h), *boxed), (Some(&[9; 16]), 5));
            *made.lock().unwrap() += 2;
        });
    }
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    *slot.lock().unwrap() = Some(alloc.downgrade());
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([1u32; 3]).unwrap();
    let addr = address(&handles, a);
    handles.free(a);
    assert_eq!(take(&log), [handle_alloc(addr, 12), handle_free(addr, 12)]);
    assert_eq!(*made.lock().unwrap(), 4); // each callback made both
}

#[test]
fn a_panicking_callback_is_caught_and_the_allocators_go_on() {
    let hooks = ProfilerHooks::new();
    hooks.set_callback(|event| {
        if !matches!(event, MemoryEvent::Relocated { .. }) {
            panic!("profiler bug");
        }
    });
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_profiler_hooks(hooks)
            .with_streaming_budget(100),
    );
    let capture = Capture::start();
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc(1u64).unwrap();
    let b = handles.alloc(2u64).unwrap();
    assert_eq!(handles.free(a), Some(1));
    assert_eq!(handles.defragment().relocations.len(), 1);
    assert_eq!(handles.get(b), Some(&2));
    let streaming = alloc.streaming();
    let id = streaming.reserve(60, StreamPriority::Normal).unwrap();
    streaming.begin_load(id).unwrap().finish();
    let other = streaming.reserve(60, StreamPriority::Normal).unwrap(); // evicts `id`
    streaming.release(other).unwrap();
    let seen = capture.finish();
    // Handle: alloc, alloc, free. Streaming: alloc, free (eviction),
    // alloc, free (release).
    assert_eq!(seen.len(), 7);
    for diagnostic in &seen {
        assert_eq!(diagnostic.code, "FA303");
        assert!(diagnostic.note.as_deref().unwrap().contains("profiler bug"));
    }
    assert_eq!(streaming.state(id), Some(framealloc::StreamState::Evicted));
    assert_eq!(streaming.stats().used, 0);
    assert_eq!(handles.stats().live, 1);
}

/// A defragmentation report with each handle as its slot and generation
/// (handles of two allocators differ in their allocator's id).
type Report = (Vec<(u32, u32, usize, Place, Place)>, [usize; 5], bool);

fn report(defragmentation: Defragmentation) -> Report {
    let d = defragmentation;
    (
        d.relocations
            .iter()
            .map(|r| {
                (
                    r.handle.index(),
                    r.handle.generation(),
                    r.size,
                    r.from,
                    r.to,
                )
            })
            .collect(),
        [
            d.bytes_moved,
            d.bytes_in_use_before,
            d.bytes_in_use_after,
            d.reserved_before,
            d.reserved_after,
        ],
        d.complete,
    )
}

/// Everything a handle and streaming workload gives back: the same with
/// and without hooks.
fn workload(alloc: &SmartAlloc) -> (Vec<Report>, HandleStats, StreamingStats, Vec<u64>) {
    let mut handles = alloc.handle_allocator();
    let all: Vec<Handle<[u64; 5]>> = (0..40u64).map(|i| handles.alloc([i; 5]).unwrap()).collect();
    for h in all.iter().step_by(3) {
        handles.free(*h);
    }
    handles.pin(all[10]).unwrap();
    let mut reports = vec![report(handles.defragment_step(200))];
    reports.push(report(handles.defragment()));
    let values = all
        .iter()
        .filter_map(|h| handles.get(*h).map(|v| v[4]))
        .collect();
    let streaming = alloc.streaming();
    let mut ids = Vec::new();
    for i in 0..10 {
        let id = streaming.reserve(100 + i, StreamPriority::Normal).unwrap();
        streaming.begin_load(id).unwrap().finish();
        ids.push(id);
    }
    streaming.release(ids[9]).unwrap();
    (reports, handles.stats(), streaming.stats(), values)
}

#[test]
fn hooks_change_no_result() {
    let config = AllocConfig::default().with_streaming_budget(500);
    let plain = workload(&SmartAlloc::new(config.clone()));
    let (hooks, log) = recording();
    let watched = workload(&SmartAlloc::new(config.with_profiler_hooks(hooks)));
    assert_eq!(plain, watched);
    assert_eq!(plain.0[0].0.len(), 5); // 200 bytes: five 40-byte values
    assert!(plain.0[1].2);
    assert_eq!(plain.2.evictions, 6); // 10 assets of 100-109 bytes in 500
    assert!(!take(&log).is_empty());
    // A standalone handle allocator (a detached observer) agrees too.
    let mut alone = HandleAllocator::new();
    let h = alone.alloc([3u64; 5]).unwrap();
    alone.free(h);
    assert_eq!(alone.defragment().bytes_in_use_after, 0);
    let alone_streaming = StreamingAllocator::new(500);
    let id = alone_streaming
        .reserve(100, StreamPriority::Normal)
        .unwrap();
    alone_streaming.release(id).unwrap();
    assert_eq!(alone_streaming.stats().used, 0);
}

/// With the `debug` feature, a handle value's bytes are poisoned when it
/// is freed, and a defragmentation poisons the stale copies above each
/// chunk's new top. Both stay inside the live chunk, so reading them
/// through a kept pointer is allowed (it is what the feature is for).
#[cfg(feature = "debug")]
#[test]
#[expect(unsafe_code, reason = "the poisoned bytes are read through pointers kept from `resolve`")]
fn debug_poisons_freed_and_vacated_handle_memory() {
    use framealloc::diagnostics::FREED_BYTE;

    let mut handles = HandleAllocator::new();
    let a = handles.alloc([0x11u8; 64]).unwrap();
    let b = handles.alloc([0x22u8; 64]).unwrap();
    let c = handles.alloc([0x33u8; 64]).unwrap();
    let (pa, pb, pc) = (
        handles.resolve(a).unwrap().cast::<u8>(),
        handles.resolve(b).unwrap().cast::<u8>(),
        handles.resolve(c).unwrap().cast::<u8>(),
    );
    let read = |p: core::ptr::NonNull<u8>| -> Vec<u8> {
        // SAFETY: `p` points into the allocator's first chunk, which is
        // alive and initialised (values or poison); no reference into the
        // heap is alive.
        unsafe { core::slice::from_raw_parts(p.as_ptr(), 64) }.to_vec()
    };
    assert_eq!(handles.free(a), Some([0x11; 64]));
    assert_eq!(read(pa), [FREED_BYTE; 64]);
    assert_eq!(read(pb), [0x22; 64]);
    // b and c slide down by 64: c's old place is above the new top.
    handles.defragment();
    assert_eq!(read(pa), [0x22; 64]);
    assert_eq!(read(pb), [0x33; 64]);
    assert_eq!(read(pc), [FREED_BYTE; 64]);
    assert_eq!(handles.get(c), Some(&[0x33; 64]));
    // Freeing the newest value moves the top back; its bytes are poisoned
    // before the next value reuses them.
    handles.free(c);
    assert_eq!(read(pb), [FREED_BYTE; 64]);
    let d = handles.alloc([0x44u8; 64]).unwrap();
    assert_eq!(handles.resolve(d).unwrap().cast::<u8>(), pb);
    assert_eq!(read(pb), [0x44; 64]);
}

/// With the `debug` feature, the leak report names the lines that
/// allocated live handle values and streamed assets, follows handle values
/// through a defragmentation (so freeing a moved value is no FA203), and
/// forgets evicted and released assets.
#[cfg(feature = "debug")]
#[test]
fn debug_leak_report_follows_handles_and_assets() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_streaming_budget(100));
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([1u64; 4]).unwrap();
    let b = handles.alloc([2u64; 4]).unwrap();
    let handle_line = line!() - 1;
    handles.free(a);
    let capture = Capture::start();
    assert_eq!(handles.defragment().relocations.len(), 1); // b moves down
    let streaming = alloc.streaming();
    let sky = streaming.reserve(60, StreamPriority::Low).unwrap();
    streaming.begin_load(sky).unwrap().finish();
    let hero = streaming.reserve(60, StreamPriority::High).unwrap(); // evicts the sky
    let stream_line = line!() - 1;
    let report = alloc.leak_report();
    let sites: Vec<(u32, Intent, usize, usize)> = report
        .entries
        .iter()
        .map(|site| (site.line, site.intent, site.count, site.bytes))
        .collect();
    assert!(
        report
            .entries
            .iter()
            .all(|site| site.file.ends_with("observe_handle_streaming.rs"))
    );
    let mut expected = vec![
        (handle_line, Intent::Handle, 1, 32),
        (stream_line, Intent::Streaming, 1, 60),
    ];
    let mut sorted = sites.clone();
    sorted.sort_by_key(|site| site.0);
    expected.sort_by_key(|site| site.0);
    assert_eq!(sorted, expected);
    assert_eq!(handles.free(b), Some([2; 4]));
    streaming.release(hero).unwrap();
    streaming.release(sky).unwrap();
    assert!(alloc.leak_report().is_empty());
    assert_eq!(capture.finish(), []); // no FA203: every free matched
}
