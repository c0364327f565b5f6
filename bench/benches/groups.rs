//! Groups intent benchmarks (target P12 in BENCHMARKS.md): a framealloc
//! group side by side with `typed-arena`, `bump-scope` and `blink-alloc`,
//! every group measuring all of them in the same run.
//!
//! One iteration allocates 100,000 values whose types implement `Drop` (a
//! `black_box` write, no heap), then frees them all, destructors included.
//! Throughput per value.
//!
//! - `group_100k_drop`: one type (`Drop8`, 8 bytes).
//! - `group_100k_mixed_drop`: three types interleaved (`Drop16`, `Drop32`,
//!   `Drop64`, `Drop16`, ...; 16, 32 and 64 bytes).
//!
//! The contenders:
//!
//! - `framealloc group`: `create_group`, 100,000 `Group::alloc`,
//!   `free_group` (destructors in allocation order; the chunks go back to
//!   the system). The `SmartAlloc` is made once.
//! - `typed-arena`: `Arena::new`, 100,000 `alloc`, drop of the arena. It
//!   holds one type, so the mixed group uses three arenas, one per type.
//! - `bump-scope`: `Bump::alloc` returns a `BumpBox`, which runs the
//!   destructor when it drops (a bump arena does not drop what it holds),
//!   so the boxes are kept in a `Vec` (its capacity reused from iteration
//!   to iteration) and dropped, in allocation order, before the arena.
//! - `blink-alloc`: `Blink::put` (the value's destructor runs at reset or
//!   drop).
//!
//! bump-scope and blink-alloc appear twice: `fresh` makes the arena and
//! drops it in each iteration (the lifecycle of a group and of a typed
//! arena: memory from the system and back), `reset` keeps one arena and
//! resets it at the end of each iteration (its chunks stay warm).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p framealloc-bench --bench groups -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bump_scope::BumpBox;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use criterion::{criterion_group, criterion_main};
use framealloc::SmartAlloc;

/// Values allocated (and dropped) per iteration.
const VALUES: usize = 100_000;

/// Declares a `Drop` type of `$words` `u64`s whose destructor writes
/// through `black_box`.
macro_rules! drop_type {
    ($(#[$doc:meta])* $name:ident, $words:literal) => {
        $(#[$doc])*
        struct $name([u64; $words]);

        impl $name {
            fn new(i: usize) -> Self {
                $name([i as u64; $words])
            }
        }

        impl Drop for $name {
            #[inline]
            fn drop(&mut self) {
                *black_box(&mut self.0[0]) ^= 1;
            }
        }
    };
}

drop_type!(
    /// The value of `group_100k_drop`: 8 bytes.
    Drop8,
    1
);
drop_type!(
    /// The first of the mixed values: 16 bytes.
    Drop16,
    2
);
drop_type!(
    /// The second of the mixed values: 32 bytes.
    Drop32,
    4
);
drop_type!(
    /// The third of the mixed values: 64 bytes.
    Drop64,
    8
);

/// One of the mixed values, boxed in a bump-scope arena (so that one `Vec`
/// keeps all three types, in allocation order).
#[expect(dead_code, reason = "the boxes are held only to be dropped")]
enum Mixed<'b> {
    /// A `Drop16`.
    A(BumpBox<'b, Drop16>),
    /// A `Drop32`.
    B(BumpBox<'b, Drop32>),
    /// A `Drop64`.
    C(BumpBox<'b, Drop64>),
}

/// Runs `$a`, `$b` or `$c` with `$v` bound to the `i`-th value, for `i`
/// in `0..VALUES`, on the type `i % 3` picks: the mixed sequence
/// `Drop16, Drop32, Drop64, Drop16, ...`.
macro_rules! mixed {
    (|$v:ident| $a:expr, $b:expr, $c:expr $(,)?) => {
        for i in 0..VALUES {
            match i % 3 {
                0 => {
                    let $v = Drop16::new(i);
                    $a;
                }
                1 => {
                    let $v = Drop32::new(i);
                    $b;
                }
                _ => {
                    let $v = Drop64::new(i);
                    $c;
                }
            }
        }
    };
}

/// `storage` emptied (its values dropped, in order) and retyped to boxes
/// of another arena borrow, keeping its allocation: the `Vec` of
/// bump-scope boxes is reused from iteration to iteration although each
/// iteration's boxes borrow a different arena (an in-place collect; the
/// closure never runs).
fn recycle<A, B>(mut storage: Vec<A>) -> Vec<B> {
    storage.clear();
    storage.into_iter().map(|_| unreachable!("empty")).collect()
}

/// An empty `Vec` with room for [`VALUES`] elements of `T` (checking once
/// that [`recycle`] keeps that room).
fn storage<T>() -> Vec<T> {
    let storage: Vec<T> = recycle::<T, T>(Vec::with_capacity(VALUES));
    assert!(
        storage.capacity() >= VALUES,
        "in-place collect kept the allocation"
    );
    storage
}

/// A group whose throughput is [`VALUES`] per iteration, flat-sampled
/// (iterations take a millisecond or so).
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(VALUES as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(50);
    group
}

fn group_100k_drop(c: &mut Criterion) {
    let mut group = group(c, "group_100k_drop");

    let alloc = SmartAlloc::with_defaults();
    let groups = alloc.groups();
    group.bench_function("framealloc group", |b| {
        b.iter(|| {
            let g = groups.create_group("bench");
            for i in 0..VALUES {
                black_box(g.alloc(Drop8::new(i)));
            }
            groups.free_group(g)
        });
    });

    group.bench_function("typed-arena", |b| {
        b.iter(|| {
            let arena = typed_arena::Arena::new();
            for i in 0..VALUES {
                black_box(arena.alloc(Drop8::new(i)));
            }
            drop(arena);
        });
    });

    let mut boxes: Vec<BumpBox<'static, Drop8>> = storage();
    group.bench_function("bump-scope fresh", |b| {
        b.iter(|| {
            let bump: bump_scope::Bump = bump_scope::Bump::new();
            let mut held: Vec<BumpBox<'_, Drop8>> = recycle(std::mem::take(&mut boxes));
            for i in 0..VALUES {
                held.push(bump.alloc(Drop8::new(i)));
            }
            black_box(&mut held);
            boxes = recycle(held);
            drop(bump);
        });
    });

    let mut bump: bump_scope::Bump = bump_scope::Bump::new();
    group.bench_function("bump-scope reset", |b| {
        b.iter(|| {
            let mut held: Vec<BumpBox<'_, Drop8>> = recycle(std::mem::take(&mut boxes));
            for i in 0..VALUES {
                held.push(bump.alloc(Drop8::new(i)));
            }
            black_box(&mut held);
            boxes = recycle(held);
            bump.reset();
        });
    });

    group.bench_function("blink-alloc fresh", |b| {
        b.iter(|| {
            let blink = blink_alloc::Blink::new();
            for i in 0..VALUES {
                black_box(blink.put(Drop8::new(i)));
            }
            drop(blink);
        });
    });

    let mut blink = blink_alloc::Blink::new();
    group.bench_function("blink-alloc reset", |b| {
        b.iter(|| {
            for i in 0..VALUES {
                black_box(blink.put(Drop8::new(i)));
            }
            blink.reset();
        });
    });

    group.finish();
}

fn group_100k_mixed_drop(c: &mut Criterion) {
    let mut group = group(c, "group_100k_mixed_drop");

    let alloc = SmartAlloc::with_defaults();
    let groups = alloc.groups();
    group.bench_function("framealloc group", |b| {
        b.iter(|| {
            let g = groups.create_group("bench");
            mixed!(
                |v| black_box(g.alloc(v)),
                black_box(g.alloc(v)),
                black_box(g.alloc(v))
            );
            groups.free_group(g)
        });
    });

    // typed-arena holds one type per arena: three arenas, one per type,
    // dropped one after the other (destructors per type, not in allocation
    // order).
    group.bench_function("typed-arena (3 arenas)", |b| {
        b.iter(|| {
            let a = typed_arena::Arena::new();
            let bb = typed_arena::Arena::new();
            let c = typed_arena::Arena::new();
            mixed!(
                |v| black_box(a.alloc(v)),
                black_box(bb.alloc(v)),
                black_box(c.alloc(v))
            );
            drop((a, bb, c));
        });
    });

    let mut boxes: Vec<Mixed<'static>> = storage();
    group.bench_function("bump-scope fresh", |b| {
        b.iter(|| {
            let bump: bump_scope::Bump = bump_scope::Bump::new();
            let mut held: Vec<Mixed<'_>> = recycle(std::mem::take(&mut boxes));
            mixed!(
                |v| held.push(Mixed::A(bump.alloc(v))),
                held.push(Mixed::B(bump.alloc(v))),
                held.push(Mixed::C(bump.alloc(v))),
            );
            black_box(&mut held);
            boxes = recycle(held);
            drop(bump);
        });
    });

    let mut bump: bump_scope::Bump = bump_scope::Bump::new();
    group.bench_function("bump-scope reset", |b| {
        b.iter(|| {
            let mut held: Vec<Mixed<'_>> = recycle(std::mem::take(&mut boxes));
            mixed!(
                |v| held.push(Mixed::A(bump.alloc(v))),
                held.push(Mixed::B(bump.alloc(v))),
                held.push(Mixed::C(bump.alloc(v))),
            );
            black_box(&mut held);
            boxes = recycle(held);
            bump.reset();
        });
    });

    group.bench_function("blink-alloc fresh", |b| {
        b.iter(|| {
            let blink = blink_alloc::Blink::new();
            mixed!(
                |v| black_box(blink.put(v)),
                black_box(blink.put(v)),
                black_box(blink.put(v))
            );
            drop(blink);
        });
    });

    let mut blink = blink_alloc::Blink::new();
    group.bench_function("blink-alloc reset", |b| {
        b.iter(|| {
            mixed!(
                |v| black_box(blink.put(v)),
                black_box(blink.put(v)),
                black_box(blink.put(v))
            );
            blink.reset();
        });
    });

    group.finish();
}

criterion_group!(benches, group_100k_drop, group_100k_mixed_drop);
criterion_main!(benches);
