//! Frame arena benchmarks: framealloc side by side with bumpalo, bump-scope
//! and blink-alloc, each group measuring all of them in the same run.
//!
//! Every round is one frame (framealloc) or the span between two resets (the
//! peers), so each timing includes the frame end / reset. Results go through
//! `std::hint::black_box`. Throughput is per element (per allocation, per
//! push, or per frame in `frame_begin_end/empty`).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p framealloc-bench --bench frame -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Block64, Contender, Counted, FRAME_ALLOCS, LAYOUT, SMALL_FRAME_ALLOCS, Scope, VEC_PUSHES,
    empty_rounds, push_api2_vec, run_rounds, vec_rounds,
};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use framealloc::SmartAlloc;

/// Calls `$bench::<C>($args)` for framealloc and each peer, in that order.
macro_rules! for_each_contender {
    ($bench:ident($($arg:expr),* $(,)?)) => {
        $bench::<SmartAlloc>($($arg),*);
        $bench::<bumpalo::Bump>($($arg),*);
        $bench::<bump_scope::Bump>($($arg),*);
        $bench::<blink_alloc::Blink>($($arg),*);
    };
}

/// A group whose throughput is `elements` per iteration.
fn group<'c>(c: &'c mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements as u64));
    group
}

/// Benchmarks one frame of [`FRAME_ALLOCS`] operations `op` on `C`, frame
/// end included, under `id`.
fn frame_of_ops<C: Contender>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    op: impl Fn(&C::Scope<'_>, u64) + Copy,
) {
    group.bench_function(id, |b| {
        let mut arena = C::create();
        b.iter(|| run_rounds(&mut arena, FRAME_ALLOCS, FRAME_ALLOCS, op));
    });
}

fn bench_u64<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    frame_of_ops::<C>(group, BenchmarkId::from_parameter(C::NAME), |s, i| {
        s.op_alloc(i)
    });
}

fn bench_block64<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    frame_of_ops::<C>(group, BenchmarkId::from_parameter(C::NAME), |s, i| {
        s.op_alloc(Block64([i; 8]));
    });
}

fn bench_layout<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    frame_of_ops::<C>(group, BenchmarkId::new("alloc_layout", C::NAME), |s, _| {
        s.op_alloc_layout(black_box(LAYOUT));
    });
    frame_of_ops::<C>(group, BenchmarkId::new("allocate", C::NAME), |s, _| {
        s.op_allocate(black_box(LAYOUT));
    });
}

fn bench_drop<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    frame_of_ops::<C>(group, BenchmarkId::new("drop", C::NAME), |s, i| {
        s.op_alloc_owned(Counted(i));
    });
}

fn bench_plain_u64<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    frame_of_ops::<C>(group, BenchmarkId::new("plain_u64", C::NAME), |s, i| {
        s.op_alloc(i)
    });
}

fn bench_vec<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    vec_of::<C>(group, BenchmarkId::from_parameter(C::NAME), |s, n| {
        s.op_push_vec(n)
    });
}

/// Benchmarks one round that pushes [`VEC_PUSHES`] elements with `push`.
fn vec_of<C: Contender>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    push: impl Fn(&C::Scope<'_>, usize) + Copy,
) {
    group.bench_function(id, |b| {
        let mut arena = C::create();
        b.iter(|| vec_rounds(&mut arena, VEC_PUSHES, push));
    });
}

fn bench_begin_end<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("empty", C::NAME), |b| {
        let mut arena = C::create();
        b.iter(|| empty_rounds(&mut arena, 1));
    });
    group.throughput(Throughput::Elements(SMALL_FRAME_ALLOCS as u64));
    group.bench_function(BenchmarkId::new("64_allocs", C::NAME), |b| {
        let mut arena = C::create();
        b.iter(|| {
            run_rounds(
                &mut arena,
                SMALL_FRAME_ALLOCS,
                SMALL_FRAME_ALLOCS,
                |s, i| s.op_alloc(i),
            )
        });
    });
}

fn bench_threads<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>) {
    for threads in [1, 2] {
        group.bench_function(
            BenchmarkId::new(format!("{threads}_thread"), C::NAME),
            |b| {
                b.iter_custom(|iters| time_threads::<C>(threads, iters));
            },
        );
    }
}

/// Frames per iteration in `two_threads`, split over the threads.
const THREADED_FRAMES: usize = 2;

/// Times `iters` iterations of [`THREADED_FRAMES`] frames of [`FRAME_ALLOCS`]
/// u64 allocations, split evenly over `threads` threads with an arena each
/// (for framealloc, clones of one `SmartAlloc`). Only the allocating part
/// is timed: spawning and three warm-up frames per thread happen before the
/// start barrier.
fn time_threads<C: Contender>(threads: usize, iters: u64) -> Duration {
    let frames = iters * (THREADED_FRAMES / threads) as u64;
    let parent = C::create();
    let barrier = Barrier::new(threads + 1);
    thread::scope(|scope| {
        for _ in 0..threads {
            let mut arena = parent.sibling();
            let barrier = &barrier;
            scope.spawn(move || {
                let frame = |arena: &mut C| {
                    run_rounds(arena, FRAME_ALLOCS, FRAME_ALLOCS, |s, i| s.op_alloc(i));
                };
                for _ in 0..3 {
                    frame(&mut arena);
                }
                barrier.wait();
                for _ in 0..frames {
                    frame(&mut arena);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn alloc_u64(c: &mut Criterion) {
    let mut group = group(c, "alloc_u64", FRAME_ALLOCS);
    for_each_contender!(bench_u64(&mut group));
    group.finish();
}

fn alloc_64b(c: &mut Criterion) {
    let mut group = group(c, "alloc_64b", FRAME_ALLOCS);
    for_each_contender!(bench_block64(&mut group));
    group.finish();
}

fn alloc_layout(c: &mut Criterion) {
    let mut group = group(c, "alloc_layout", FRAME_ALLOCS);
    for_each_contender!(bench_layout(&mut group));
    group.finish();
}

fn vec_push_1m(c: &mut Criterion) {
    let mut group = group(c, "vec_push_1m", VEC_PUSHES);
    group.sample_size(20);
    for_each_contender!(bench_vec(&mut group));
    // The allocator-api2 0.2 `Vec` over `&Bump`: the same container type as
    // framealloc's row, so only the allocator differs.
    vec_of::<bumpalo::Bump>(
        &mut group,
        BenchmarkId::from_parameter("bumpalo-api2-vec"),
        |s, n| {
            push_api2_vec(s, n);
        },
    );
    group.finish();
}

fn frame_begin_end(c: &mut Criterion) {
    let mut group = group(c, "frame_begin_end", 1);
    for_each_contender!(bench_begin_end(&mut group));
    group.finish();
}

fn drop_type(c: &mut Criterion) {
    let mut group = group(c, "drop_type", FRAME_ALLOCS);
    for_each_contender!(bench_drop(&mut group));
    // The plain allocation P4 compares framealloc's `Drop` case against.
    bench_plain_u64::<SmartAlloc>(&mut group);
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let mut group = group(c, "two_threads", THREADED_FRAMES * FRAME_ALLOCS);
    group.sample_size(30);
    for_each_contender!(bench_threads(&mut group));
    group.finish();
}

criterion_group!(
    benches,
    alloc_u64,
    alloc_64b,
    alloc_layout,
    vec_push_1m,
    frame_begin_end,
    drop_type,
    two_threads
);
criterion_main!(benches);
