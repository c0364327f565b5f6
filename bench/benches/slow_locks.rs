//! Slow-path locks, std's against parking_lot's (issue 14, item 6).
//!
//! The library picks its lock implementation with the `parking_lot` cargo
//! feature, so one binary holds only one of them: run this bench once
//! without and once with the feature, and compare. Every benchmark id of
//! the library's slow paths ends in the implementation compiled in (`std`
//! or `parking_lot`), so the two runs land side by side in
//! `target/criterion`.
//!
//! What one binary *can* hold is both mutex types themselves, so each run
//! also measures them raw, side by side:
//!
//! - `raw_mutex_uncontended`: one lock, increment, unlock of a
//!   `Mutex<u64>`, on one thread.
//! - `raw_mutex_contended_2_threads`: two threads each locking,
//!   incrementing and unlocking the same mutex; the time per iteration is
//!   the wall-clock time for one such operation on each thread.
//!
//! The library's slow paths (each takes one or more of the locks that the
//! feature switches):
//!
//! - `slow_frame_adopt`: a new thread calls `begin_frame`, adopting the idle
//!   arena of the thread before it (the arena registry's lock, twice: adopt
//!   and give back at thread exit), beside `spawn_only`, the same thread
//!   spawn and join without the frame: the difference is the adoption.
//! - `slow_trim`: `SmartAlloc::trim` with nothing to give back (the chunk
//!   pool's, the page registry's and the heap set's locks).
//! - `slow_group_create_free`: `create_group` and `free_group` of an empty
//!   group (the groups registry's lock, twice).
//! - `slow_streaming_reserve_release`: `reserve` and `release` of a 64-byte
//!   asset (the streaming table's lock, twice), on one thread and on two
//!   threads sharing one allocator (contended).
//! - `slow_pool_page_cycle`: 2,000 `pool_box(u64)` (one page taken from the
//!   page registry), all dropped, then `trim` (the page goes back to the
//!   registry and to the system).
//!
//! ```text
//! cargo bench -p framealloc-bench --bench slow_locks -- --warm-up-time 1 --measurement-time 3
//! cargo bench -p framealloc-bench --bench slow_locks --features parking_lot -- --warm-up-time 1 --measurement-time 3
//! bash bench/benches/slow_locks_callgrind.sh
//! ```
//!
//! The timings move with the machine's load (see BENCHMARKS.md, "Slow-path
//! locks"); the instruction counts of `slow_locks_callgrind.sh` (which runs
//! this binary with `SLOW_LOCKS_COUNT`, see [`count_mode`]) do not.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use framealloc::{SmartAlloc, StreamPriority, StreamingAllocator};

/// The lock implementation the library was compiled with.
const LIBRARY_LOCKS: &str = if cfg!(feature = "parking_lot") {
    "parking_lot"
} else {
    "std"
};

/// Pool boxes per iteration of `slow_pool_page_cycle`: they fill one
/// 64 KiB page of the 8-byte class (see `SmartAlloc::trim`'s example).
const PAGE_BOXES: u64 = 2_000;

/// Runs `op(i)` for `i` in `0..iters` on two threads at once (this one and
/// one spawned), both released by one barrier; returns the wall-clock time
/// until both are done.
fn on_two_threads(iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            barrier.wait();
            (0..iters).for_each(&op);
        });
        barrier.wait();
        let start = Instant::now();
        (0..iters).for_each(&op);
        other.join().expect("the other thread does not panic");
        start.elapsed()
    })
}

/// std's and parking_lot's mutexes, one thread.
fn raw_mutex_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw_mutex_uncontended");
    group.throughput(Throughput::Elements(1));
    let std_mutex = std::sync::Mutex::new(0_u64);
    group.bench_function("std", |b| {
        b.iter(|| *black_box(&std_mutex).lock().expect("never poisoned") += 1);
    });
    let pl_mutex = parking_lot::Mutex::new(0_u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&pl_mutex).lock() += 1);
    });
    group.finish();
}

/// std's and parking_lot's mutexes, two threads on one mutex.
fn raw_mutex_contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw_mutex_contended_2_threads");
    group.throughput(Throughput::Elements(2));
    let std_mutex = std::sync::Mutex::new(0_u64);
    group.bench_function("std", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, |_| {
                *black_box(&std_mutex).lock().expect("never poisoned") += 1;
            })
        });
    });
    let pl_mutex = parking_lot::Mutex::new(0_u64);
    group.bench_function("parking_lot", |b| {
        b.iter_custom(|iters| on_two_threads(iters, |_| *black_box(&pl_mutex).lock() += 1));
    });
    group.finish();
}

/// A new thread adopting an idle arena, beside a bare thread spawn.
fn frame_adopt(c: &mut Criterion) {
    let mut group = c.benchmark_group("slow_frame_adopt");
    let alloc = SmartAlloc::with_defaults();
    // The first thread creates the arena; from then on each new thread
    // adopts the one the thread before it gave back.
    let warm = alloc.clone();
    std::thread::spawn(move || drop(warm.begin_frame()))
        .join()
        .expect("the warm-up thread does not panic");
    group.bench_function(BenchmarkId::new("spawn_only", LIBRARY_LOCKS), |b| {
        b.iter(|| {
            let handle = alloc.clone();
            std::thread::spawn(move || drop(black_box(handle)))
                .join()
                .expect("the thread does not panic");
        });
    });
    group.bench_function(
        BenchmarkId::new("spawn_and_begin_frame", LIBRARY_LOCKS),
        |b| {
            b.iter(|| {
                let handle = alloc.clone();
                std::thread::spawn(move || drop(black_box(handle.begin_frame())))
                    .join()
                    .expect("the thread does not panic");
            });
        },
    );
    assert_eq!(
        alloc.stats().frame.arenas,
        1,
        "every thread adopted the one arena"
    );
    group.finish();
}

/// `trim` with nothing to give back.
fn trim(c: &mut Criterion) {
    let mut group = c.benchmark_group("slow_trim");
    let alloc = SmartAlloc::with_defaults();
    drop(alloc.begin_frame());
    drop(alloc.pool_box(1_u64));
    alloc.trim();
    group.bench_function(LIBRARY_LOCKS, |b| b.iter(|| black_box(alloc.trim())));
    group.finish();
}

/// An empty group made and freed.
fn group_create_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("slow_group_create_free");
    let alloc = SmartAlloc::with_defaults();
    let groups = alloc.groups();
    group.bench_function(LIBRARY_LOCKS, |b| {
        b.iter(|| black_box(groups.free_group(groups.create_group("bench"))));
    });
    group.finish();
}

/// One 64-byte asset reserved and released, on one thread and on two.
fn streaming_reserve_release(c: &mut Criterion) {
    let mut group = c.benchmark_group("slow_streaming_reserve_release");
    let streaming = StreamingAllocator::new(1 << 20);
    let cycle = || {
        let id = streaming
            .reserve(64, StreamPriority::Normal)
            .expect("room in the budget");
        streaming.release(black_box(id)).expect("reserved just now");
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("1_thread", LIBRARY_LOCKS), |b| {
        b.iter(cycle);
    });
    group.throughput(Throughput::Elements(2));
    group.bench_function(BenchmarkId::new("2_threads", LIBRARY_LOCKS), |b| {
        b.iter_custom(|iters| on_two_threads(iters, |_| cycle()));
    });
    assert_eq!(streaming.stats().used, 0, "every asset was released");
    group.finish();
}

/// One pool page taken, filled, emptied and given back.
fn pool_page_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("slow_pool_page_cycle");
    let alloc = SmartAlloc::with_defaults();
    let mut boxes = Vec::with_capacity(PAGE_BOXES as usize);
    group.bench_function(LIBRARY_LOCKS, |b| {
        b.iter(|| {
            for i in 0..PAGE_BOXES {
                boxes.push(alloc.pool_box(i).expect("memory"));
            }
            boxes.clear();
            black_box(alloc.trim())
        });
    });
    assert_eq!(
        alloc.stats().pool_pages,
        0,
        "each iteration gave its page back"
    );
    group.finish();
}

criterion_group!(
    benches,
    raw_mutex_uncontended,
    raw_mutex_contended,
    frame_adopt,
    trim,
    group_create_free,
    streaming_reserve_release,
    pool_page_cycle
);

/// `SLOW_LOCKS_COUNT=<case>:<n>`: runs one single-threaded case `n` times
/// and exits, for `slow_locks_callgrind.sh`, which counts instructions
/// (independent of the machine's load) as `(Ir(n) - Ir(0)) / n`.
fn count_mode(spec: &str) {
    let (case, n) = spec.split_once(':').expect("SLOW_LOCKS_COUNT=<case>:<n>");
    let n: u64 = n.parse().expect("n is a number");
    let alloc = SmartAlloc::with_defaults();
    let streaming = StreamingAllocator::new(1 << 20);
    let std_mutex = std::sync::Mutex::new(0_u64);
    let pl_mutex = parking_lot::Mutex::new(0_u64);
    // Warm every case's state once, outside the counted repetitions'
    // difference (it is in both Ir(n) and Ir(0)).
    let warm = alloc.clone();
    std::thread::spawn(move || drop(warm.begin_frame()))
        .join()
        .expect("the warm-up thread does not panic");
    drop(alloc.pool_box(1_u64));
    alloc.trim();
    let mut boxes = Vec::with_capacity(PAGE_BOXES as usize);
    for _ in 0..n {
        match case {
            "raw_std" => *black_box(&std_mutex).lock().expect("never poisoned") += 1,
            "raw_parking_lot" => *black_box(&pl_mutex).lock() += 1,
            "spawn_only" => {
                let handle = alloc.clone();
                std::thread::spawn(move || drop(black_box(handle)))
                    .join()
                    .expect("the thread does not panic");
            }
            "spawn_and_begin_frame" => {
                let handle = alloc.clone();
                std::thread::spawn(move || drop(black_box(handle.begin_frame())))
                    .join()
                    .expect("the thread does not panic");
            }
            "trim" => {
                black_box(alloc.trim());
            }
            "group_create_free" => {
                let groups = alloc.groups();
                black_box(groups.free_group(groups.create_group("bench")));
            }
            "streaming_reserve_release" => {
                let id = streaming
                    .reserve(64, StreamPriority::Normal)
                    .expect("room in the budget");
                streaming.release(black_box(id)).expect("reserved just now");
            }
            "pool_page_cycle" => {
                for i in 0..PAGE_BOXES {
                    boxes.push(alloc.pool_box(i).expect("memory"));
                }
                boxes.clear();
                black_box(alloc.trim());
            }
            other => panic!("unknown case {other}"),
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SLOW_LOCKS_COUNT") {
        count_mode(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
