//! The streaming allocator across threads: loaders fill assets while the
//! main thread reads others, with every byte checked; reservations racing
//! for the budget; the refusal's figures; budgets and listeners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use framealloc::{
    AllocConfig, SmartAlloc, StreamId, StreamPriority, StreamState, StreamingAllocator,
};

use crate::support::count;

/// The byte at `offset` of asset number `asset`.
fn pattern(asset: usize, offset: usize) -> u8 {
    (asset.wrapping_mul(31) ^ offset.wrapping_mul(7) ^ (offset >> 8)) as u8
}

#[test]
fn loader_threads_fill_assets_while_the_main_thread_reads_others() {
    let assets = count(200, 12);
    let size = count(64 << 10, 256);
    // Room for a quarter of them: loading the rest evicts.
    let streaming = StreamingAllocator::new(size * assets / 4);
    let evicted = Arc::new(AtomicUsize::new(0));
    let seen = evicted.clone();
    streaming.on_evict(move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let (send, receive) = std::sync::mpsc::channel::<(usize, StreamId)>();
    let (jobs, queue) = std::sync::mpsc::channel::<(usize, framealloc::LoadWriter)>();
    let queue = Mutex::new(queue);
    let in_flight = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // Two loader threads take writers from the queue and fill them.
        for _ in 0..2 {
            let send = send.clone();
            let (queue, in_flight) = (&queue, &in_flight);
            s.spawn(move || {
                loop {
                    let job = queue.lock().unwrap().recv();
                    let Ok((asset, mut writer)) = job else { return };
                    for (offset, byte) in writer.bytes_mut().iter_mut().enumerate() {
                        *byte = pattern(asset, offset);
                    }
                    let id = writer.id();
                    writer.finish();
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    send.send((asset, id)).unwrap();
                }
            });
        }
        drop(send);
        let mut ready: Vec<(usize, StreamId)> = Vec::new();
        let mut checked = 0;
        for asset in 0..assets {
            let id = streaming
                .reserve(size, StreamPriority::Normal)
                .expect("older ready assets are evictable");
            let writer = streaming.begin_load(id).unwrap();
            in_flight.fetch_add(1, Ordering::AcqRel);
            jobs.send((asset, writer)).unwrap();
            // Meanwhile, read what is resident, byte by byte.
            while let Ok(done) = receive.try_recv() {
                ready.push(done);
            }
            for &(number, id) in &ready {
                if let Some(bytes) = streaming.access(id) {
                    assert!(
                        bytes
                            .iter()
                            .enumerate()
                            .all(|(o, b)| *b == pattern(number, o))
                    );
                    checked += 1;
                }
            }
            // Keep the queue short so loads finish before their budget is
            // needed (a reservation cannot evict what is still loading).
            while in_flight.load(Ordering::Acquire) > 1 {
                std::thread::yield_now();
            }
        }
        drop(jobs);
        for done in receive {
            ready.push(done);
        }
        assert!(checked > 0);
        // Every asset that is still resident has every byte it was given.
        let mut resident = 0;
        for &(number, id) in &ready {
            match streaming.state(id) {
                Some(StreamState::Ready) => {
                    let bytes = streaming.access(id).unwrap();
                    assert!(
                        bytes
                            .iter()
                            .enumerate()
                            .all(|(o, b)| *b == pattern(number, o))
                    );
                    resident += 1;
                }
                Some(StreamState::Evicted) => assert!(streaming.access(id).is_none()),
                other => panic!("asset {number} is {other:?}"),
            }
        }
        let stats = streaming.stats();
        assert_eq!(stats.ready_assets, resident);
        assert_eq!(stats.evictions as usize, evicted.load(Ordering::Relaxed));
        assert_eq!(stats.evictions as usize + resident, assets);
    });
}

#[test]
fn racing_reservations_never_pass_the_budget_together() {
    let streaming = StreamingAllocator::new(1000);
    for _ in 0..count(200, 5) {
        let results: Vec<_> = std::thread::scope(|s| {
            let a = s.spawn(|| streaming.reserve(600, StreamPriority::Normal));
            let b = s.spawn(|| streaming.reserve(600, StreamPriority::Normal));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        let granted: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(
            granted.len(),
            1,
            "exactly one of two 600-byte reservations fits in 1,000"
        );
        assert!(streaming.stats().used <= 1000);
        streaming.release(*granted[0]).unwrap();
    }
}

#[test]
fn a_guard_keeps_its_asset_resident_against_eviction() {
    let streaming = StreamingAllocator::new(100);
    let held = streaming.reserve(100, StreamPriority::Low).unwrap();
    streaming.begin_load(held).unwrap().finish();
    let guard = streaming.access(held).unwrap();
    let err = streaming.reserve(10, StreamPriority::Critical).unwrap_err();
    assert_eq!(err.code(), "FA402");
    assert!(matches!(
        err,
        framealloc::AllocError::StreamingBudgetExhausted {
            requested: 10,
            budget: 100,
            used: 100,
            unevictable: 100
        }
    ));
    assert_eq!(guard.len(), 100);
    drop(guard);
    streaming.reserve(10, StreamPriority::Critical).unwrap();
    assert_eq!(streaming.state(held), Some(StreamState::Evicted));
    assert!(streaming.access(held).is_none(), "no stale bytes");
}

#[test]
fn eviction_takes_the_lowest_priority_then_the_least_recently_used() {
    let streaming = StreamingAllocator::new(300);
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    streaming.on_evict(move |eviction| seen.lock().unwrap().push(eviction.id));
    let ready = |priority| {
        let id = streaming.reserve(100, priority).unwrap();
        streaming.begin_load(id).unwrap().finish();
        id
    };
    let high = ready(StreamPriority::High);
    let low_old = ready(StreamPriority::Low);
    let low_new = ready(StreamPriority::Low);
    drop(streaming.access(low_old)); // `low_new` is now the least recently used low
    for _ in 0..3 {
        streaming.reserve(100, StreamPriority::Critical).unwrap();
    }
    assert_eq!(*log.lock().unwrap(), [low_new, low_old, high]);
}

#[test]
fn loading_and_reserved_assets_are_never_evicted() {
    let streaming = StreamingAllocator::new(200);
    let loading = streaming.reserve(100, StreamPriority::Low).unwrap();
    let writer = streaming.begin_load(loading).unwrap();
    let _reserved = streaming.reserve(100, StreamPriority::Low).unwrap();
    assert_eq!(
        streaming
            .reserve(1, StreamPriority::Critical)
            .unwrap_err()
            .code(),
        "FA402"
    );
    assert!(matches!(
        streaming.state(loading),
        Some(StreamState::Loading { .. })
    ));
    drop(writer); // an abandoned load goes back to reserved
    assert_eq!(streaming.state(loading), Some(StreamState::Reserved));
}

#[test]
fn streaming_memory_is_charged_to_the_allocators_budgets() {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_streaming_budget(1 << 20),
    );
    let textures = framealloc::AllocationTag::new("textures");
    alloc
        .budgets()
        .set_tag_limits(textures, None, Some(300 << 10))
        .unwrap();
    let streaming = alloc.streaming();
    let a = alloc
        .with_tag(textures, || {
            streaming.reserve(200 << 10, StreamPriority::Normal)
        })
        .unwrap();
    assert_eq!(alloc.budgets().usage(textures).used, 200 << 10);
    let err = alloc
        .with_tag(textures, || {
            streaming.reserve(200 << 10, StreamPriority::Normal)
        })
        .unwrap_err();
    assert_eq!(err.code(), "FA302");
    assert_eq!(alloc.stats().streaming.used, 200 << 10);
    streaming.release(a).unwrap();
    assert_eq!(alloc.budgets().usage(textures).used, 0);
    assert_eq!(alloc.budgets().global_usage().used, 0);
}
