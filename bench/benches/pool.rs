//! Pool and heap intent benchmarks (targets P5–P7 in BENCHMARKS.md): framealloc side by
//! side with glibc, mimalloc, jemalloc, `slab` and `sharded-slab`, every
//! group measuring all of them in the same run.
//!
//! - `pool_pair_u64`, `pool_pair_64b`: one allocation (through `black_box`)
//!   and its free per iteration, same thread.
//! - `pool_batch_1m_u64`, `pool_batch_1m_64b`: 1,000,000 allocations, then
//!   all their frees, per iteration; throughput per element.
//! - `remote_free_64b`: the bench thread allocates 16,384 64-byte values, a
//!   worker thread frees them; only the worker's frees are timed
//!   (`iter_custom`), per element. framealloc's owner then takes them back
//!   with `collect_remote_frees`, outside the timed part.
//! - `heap_box`: `SmartAlloc::heap_box` of 64 bytes + drop against
//!   `Box::new` + drop (the global allocator is glibc's).
//!
//! The peers' allocators are called through `GlobalAlloc` directly; none is
//! installed as the global allocator.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-poolbench cargo bench -p framealloc-bench --bench pool -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```

mod pool_common;

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use criterion::{criterion_group, criterion_main};
use framealloc::SmartAlloc;
use pool_common::{
    BATCH, BLOCK, Block64, Pool, REMOTE_BATCH, RemotePool, RemoteRig, batch, for_each_pool,
    for_each_remote_pool, pair,
};

/// A group whose throughput is `elements` per iteration.
fn group<'c>(c: &'c mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements as u64));
    group
}

/// A group of long iterations: few samples, one flat batch of iterations
/// each.
fn long_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    elements: usize,
    samples: usize,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = group(c, name, elements);
    group.sampling_mode(SamplingMode::Flat).sample_size(samples);
    group
}

// Each contender's pool is made once, outside `bench_function`: criterion
// calls that closure once per sample, and a pool made there would be new
// (its memory fresh from the system) in every sample, while the process-wide
// allocators keep theirs warm from sample to sample.

fn bench_pair<T: Copy, P: Pool<T>>(group: &mut BenchmarkGroup<'_, WallTime>, value: T) {
    let mut pool = P::create();
    group.bench_function(P::NAME, |b| b.iter(|| pair(&mut pool, value)));
}

fn bench_batch<T: Copy, P: Pool<T>>(group: &mut BenchmarkGroup<'_, WallTime>, value: T) {
    let mut pool = P::create();
    let mut keys = Vec::with_capacity(BATCH);
    group.bench_function(P::NAME, |b| {
        b.iter(|| batch(&mut pool, &mut keys, value, BATCH));
    });
}

fn bench_remote<P: RemotePool<Block64>>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let mut rig = RemoteRig::<Block64, P>::new(BLOCK);
    group.bench_function(<P as Pool<Block64>>::NAME, |b| {
        b.iter_custom(|rounds| {
            (0..rounds)
                .map(|_| rig.round(REMOTE_BATCH))
                .sum::<Duration>()
        });
    });
}

/// P5: one alloc+free pair, same thread.
fn pool_pair(c: &mut Criterion) {
    let mut u64s = group(c, "pool_pair_u64", 1);
    for_each_pool!(u64, |P| bench_pair::<u64, P>(&mut u64s, 5));
    u64s.finish();
    let mut blocks = group(c, "pool_pair_64b", 1);
    for_each_pool!(Block64, |P| bench_pair::<Block64, P>(&mut blocks, BLOCK));
    blocks.finish();
}

/// 1,000,000 allocations, then their frees.
fn pool_batch(c: &mut Criterion) {
    let mut u64s = long_group(c, "pool_batch_1m_u64", BATCH, 20);
    for_each_pool!(u64, |P| bench_batch::<u64, P>(&mut u64s, 5));
    u64s.finish();
    let mut blocks = long_group(c, "pool_batch_1m_64b", BATCH, 20);
    for_each_pool!(Block64, |P| bench_batch::<Block64, P>(&mut blocks, BLOCK));
    blocks.finish();
}

/// P6: frees from a thread that did not allocate.
fn remote_free(c: &mut Criterion) {
    let mut group = long_group(c, "remote_free_64b", REMOTE_BATCH, 50);
    for_each_remote_pool!(Block64, |P| bench_remote::<P>(&mut group));
    group.finish();
}

/// P7: `heap_box` against `Box` over glibc (budgets off).
fn heap_box(c: &mut Criterion) {
    let mut group = group(c, "heap_box", 1);
    let alloc = SmartAlloc::with_defaults();
    group.bench_function("framealloc", |b| {
        b.iter(|| match alloc.heap_box(BLOCK) {
            Ok(boxed) => drop(black_box(boxed)),
            Err(error) => panic!("heap_box failed: {error}"),
        });
    });
    group.bench_function("Box", |b| b.iter(|| drop(black_box(Box::new(BLOCK)))));
    group.finish();
}

criterion_group!(benches, pool_pair, pool_batch, remote_free, heap_box);
criterion_main!(benches);
