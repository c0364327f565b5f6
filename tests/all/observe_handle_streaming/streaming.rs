//! The streaming half of `observe_handle_streaming`: reservations,
//! evictions and releases in order, tags, a callback that re-enters the
//! streaming allocator, a panicking callback (both intents), results
//! unchanged by hooks (both intents), and with the `debug` feature the
//! leak report across a defragmentation and an eviction.

use std::sync::{Arc, Mutex};

use framealloc::diagnostics::{Capture, Intent, MemoryEvent, ProfilerHooks};
use framealloc::{
    AllocConfig, AllocationTag, Defragmentation, Handle, HandleAllocator, HandleStats, Place,
    SmartAlloc, StreamId, StreamPriority, StreamingAllocator, StreamingStats, WeakAlloc,
};

use super::{
    Log, Seen, alloc_addr, asset_address, recording, seen, stream_alloc, stream_free, take,
};

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
    assert!(report.entries.iter().all(|site| site.file == file!()));
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
