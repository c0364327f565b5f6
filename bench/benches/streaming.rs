//! Streaming intent benchmarks (target P13 in BENCHMARKS.md): framealloc's
//! `StreamingAllocator` side by side with `quick_cache` (a concurrent,
//! sharded, weighted cache) and `lru` (a single-threaded LRU map, here
//! behind a `std::sync::Mutex`, since a streaming allocator is shared
//! across threads), every group measuring all of them in the same run.
//! Every asset is 4 KiB; every contender holds the same assets, filled with
//! the same bytes.
//!
//! - `streaming_access_resident`: 1,024 resident assets in a budget that
//!   holds them all. One iteration looks up one asset (cycling through the
//!   1,024 keys in one pre-shuffled order: a seeded xorshift shuffle, the
//!   same for every contender), reads its first byte through `black_box`
//!   and lets go of it. framealloc: `access(id)`, read through the
//!   `AccessGuard`, drop the guard (pin, LRU clock tick, unpin).
//!   `quick_cache`: `sync::Cache<u32, Arc<[u8]>, _>` with a weighter that
//!   counts bytes; `get` (an `Arc` clone), read, drop the `Arc`. Its
//!   weight capacity is twice the bytes held, as its shards each get an
//!   equal part of the capacity and the keys do not spread evenly; the
//!   setup checks that all 1,024 assets stayed. `lru`:
//!   `Mutex<LruCache<u32, Box<[u8]>>>` of capacity 1,024; lock, `get`
//!   (moves the entry to the front), read, unlock.
//! - `streaming_reserve_evicting_one/N` for N = 256 (1 MiB budget) and
//!   N = 4,096 (16 MiB budget): each contender full of N ready assets. One
//!   iteration brings in one new, zeroed 4 KiB asset, which evicts the
//!   least recently used one, so the steady state stays full. framealloc
//!   (all timed): `reserve(4 KiB, Normal)` (evicts the oldest ready asset,
//!   frees its bytes, allocates and zeroes the new ones), `begin_load` +
//!   `finish` (no bytes written), then `release` of the evicted asset's
//!   id, which the bench tracks in a queue (without it every evicted
//!   asset would keep its slot, and the slot table, which eviction scans,
//!   would grow by one per iteration). After the measurement the bench
//!   checks that every iteration evicted exactly one asset and the budget
//!   is still full. `quick_cache`: `insert` of a new key with a zeroed
//!   `Arc<[u8]>` into the full cache (weight capacity N × 4 KiB); it
//!   evicts and drops the victim. `lru`: lock, `push` of a new key with a
//!   zeroed `Box<[u8]>` into the full cache of capacity N; it hands back
//!   the evicted entry, which is dropped.
//!
//! framealloc's eviction scans the slot table (O(N)) to find its victim;
//! the N = 4,096 variant shows how that scales.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p framealloc-bench --bench streaming -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```

use std::collections::VecDeque;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use framealloc::{StreamId, StreamPriority, StreamingAllocator};
use lru::LruCache;

/// Bytes per asset.
const ASSET: usize = 4 << 10;

/// Resident assets in `streaming_access_resident` (a power of two: the
/// cursor wraps with a mask).
const RESIDENT: usize = 1024;

/// Asset counts of `streaming_reserve_evicting_one`.
const FULL: [usize; 2] = [256, 4096];

/// Seed of the access order's shuffle.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// `quick_cache`'s weighter: an asset weighs its bytes.
#[derive(Clone, Copy)]
struct Bytes;

impl quick_cache::Weighter<u32, Arc<[u8]>> for Bytes {
    #[inline]
    fn weight(&self, _key: &u32, value: &Arc<[u8]>) -> u64 {
        value.len() as u64
    }
}

type QuickCache = quick_cache::sync::Cache<u32, Arc<[u8]>, Bytes>;

type Lru = Mutex<LruCache<u32, Box<[u8]>>>;

/// A permutation of `0..len`: a Fisher–Yates shuffle driven by xorshift64
/// from [`SEED`], so every contender gets the same order.
fn shuffled_order(len: usize) -> Vec<usize> {
    let mut state = SEED;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// A group whose throughput is one operation per iteration.
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group
}

/// Reserves and loads a ready asset of [`ASSET`] bytes, all `fill`.
fn load(streaming: &StreamingAllocator, fill: u8) -> StreamId {
    let id = streaming
        .reserve(ASSET, StreamPriority::Normal)
        .expect("room in the budget");
    let mut writer = streaming.begin_load(id).expect("reserved");
    writer.bytes_mut().fill(fill);
    writer.finish();
    id
}

/// A zeroed asset for `quick_cache` (one allocation, no copy).
#[inline]
fn zeroed_arc() -> Arc<[u8]> {
    std::iter::repeat_n(0u8, ASSET).collect()
}

/// A zeroed asset for `lru`.
#[inline]
fn zeroed_box() -> Box<[u8]> {
    vec![0u8; ASSET].into_boxed_slice()
}

/// P13: one access of a resident asset.
fn access_resident(c: &mut Criterion) {
    let order = shuffled_order(RESIDENT);
    let mut group = group(c, "streaming_access_resident");

    let streaming = StreamingAllocator::new(RESIDENT * ASSET);
    let ids: Vec<StreamId> = (0..RESIDENT).map(|i| load(&streaming, i as u8)).collect();
    let keys: Vec<StreamId> = order.iter().map(|&i| ids[i]).collect();
    group.bench_function("framealloc", |b| {
        let mut cursor = 0;
        b.iter(|| {
            let id = keys[cursor];
            cursor = (cursor + 1) & (RESIDENT - 1);
            let guard = streaming.access(id).expect("resident");
            black_box(guard[0])
        });
    });
    assert_eq!(streaming.stats().ready_assets, RESIDENT);
    drop(streaming);

    let cache = QuickCache::with_weighter(RESIDENT, 2 * (RESIDENT * ASSET) as u64, Bytes);
    for i in 0..RESIDENT {
        cache.insert(i as u32, std::iter::repeat_n(i as u8, ASSET).collect());
    }
    assert_eq!(cache.len(), RESIDENT, "quick_cache kept every asset");
    let keys: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    group.bench_function("quick_cache", |b| {
        let mut cursor = 0;
        b.iter(|| {
            let key = keys[cursor];
            cursor = (cursor + 1) & (RESIDENT - 1);
            let asset = cache.get(&key).expect("resident");
            black_box(asset[0])
        });
    });
    assert_eq!(cache.len(), RESIDENT);
    drop(cache);

    let capacity = NonZeroUsize::new(RESIDENT).expect("non-zero");
    let lru: Lru = Mutex::new(LruCache::new(capacity));
    for i in 0..RESIDENT {
        let evicted = lru
            .lock()
            .expect("unpoisoned")
            .push(i as u32, vec![i as u8; ASSET].into_boxed_slice());
        assert!(evicted.is_none());
    }
    group.bench_function("lru+Mutex", |b| {
        let mut cursor = 0;
        b.iter(|| {
            let key = keys[cursor];
            cursor = (cursor + 1) & (RESIDENT - 1);
            let mut cache = lru.lock().expect("unpoisoned");
            let asset = cache.get(&key).expect("resident");
            black_box(asset[0])
        });
    });
    group.finish();
}

/// framealloc full of `n` ready assets; one iteration brings a new one in.
fn bench_framealloc_evicting(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let streaming = StreamingAllocator::new(n * ASSET);
    // Loaded in order and never accessed: the front is the least recently
    // used, the one the next reservation evicts.
    let mut live: VecDeque<StreamId> = (0..n).map(|i| load(&streaming, i as u8)).collect();
    let before = streaming.stats().evictions;
    let mut reservations = 0u64;
    group.bench_function(BenchmarkId::new("framealloc", n), |b| {
        b.iter(|| {
            let id = streaming
                .reserve(ASSET, StreamPriority::Normal)
                .expect("an evictable asset");
            streaming.begin_load(id).expect("reserved").finish();
            let evicted = live.pop_front().expect("full");
            streaming.release(evicted).expect("evicted, releasable");
            live.push_back(id);
            reservations += 1;
            id
        });
    });
    let stats = streaming.stats();
    assert_eq!(stats.evictions - before, reservations, "one eviction each");
    assert_eq!((stats.used, stats.ready_assets), (n * ASSET, n));
}

/// `quick_cache` full of `n` assets; one iteration inserts a new one.
fn bench_quick_cache_evicting(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let cache = QuickCache::with_weighter(n, (n * ASSET) as u64, Bytes);
    // Twice `n` inserts: full, and past its first evictions.
    let mut next = 0u32;
    while (next as usize) < 2 * n {
        cache.insert(next, zeroed_arc());
        next += 1;
    }
    assert!(cache.weight() > ((n - n / 8) * ASSET) as u64, "full");
    group.bench_function(BenchmarkId::new("quick_cache", n), |b| {
        b.iter(|| {
            cache.insert(next, zeroed_arc());
            next = next.wrapping_add(1);
        });
    });
    assert!(cache.weight() <= (n * ASSET) as u64);
}

/// `lru` full of `n` assets; one iteration pushes a new one.
fn bench_lru_evicting(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let lru: Lru = Mutex::new(LruCache::new(NonZeroUsize::new(n).expect("non-zero")));
    let mut next = 0u32;
    while (next as usize) < n {
        lru.lock().expect("unpoisoned").push(next, zeroed_box());
        next += 1;
    }
    group.bench_function(BenchmarkId::new("lru+Mutex", n), |b| {
        b.iter(|| {
            let evicted = lru.lock().expect("unpoisoned").push(next, zeroed_box());
            next = next.wrapping_add(1);
            evicted.map(|(key, _)| key)
        });
    });
    assert_eq!(lru.lock().expect("unpoisoned").len(), n);
}

/// P13: one reservation that evicts one asset from a full budget.
fn reserve_evicting_one(c: &mut Criterion) {
    let mut group = group(c, "streaming_reserve_evicting_one");
    for n in FULL {
        bench_framealloc_evicting(&mut group, n);
        bench_quick_cache_evicting(&mut group, n);
        bench_lru_evicting(&mut group, n);
    }
    group.finish();
}

criterion_group!(benches, access_resident, reserve_evicting_one);
criterion_main!(benches);
