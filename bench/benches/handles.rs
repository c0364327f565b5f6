//! Handles intent benchmarks (targets P10 and P11 in BENCHMARKS.md):
//! framealloc's `HandleAllocator` side by side with `slotmap` (`SlotMap`,
//! `DenseSlotMap`), `thunderdome` and a plain `Vec`, and its `defragment`
//! side by side with one `memmove` of the same bytes, every group measuring
//! all of them in the same run.
//!
//! - `handle_get_random_100k`: 100,000 live `[u64; 4]` values (32 bytes)
//!   per container; one iteration looks up all 100,000 keys in one
//!   pre-shuffled order (a seeded xorshift shuffle, the same order for
//!   every contender) and sums one field through `black_box`. Throughput
//!   per lookup. The `Vec` is indexed by `usize` (no generation check).
//! - `handle_get_sequential_100k`: the same with the keys in insertion
//!   order.
//! - `handle_insert_remove`: containers holding 100,000 live values; one
//!   iteration inserts one value and removes it (through `black_box`). The
//!   `Vec` pushes and pops.
//! - `defragment_vs_memmove` (P11): a `HandleAllocator` of 4 MiB of values
//!   (16,384 of 256 bytes, or 65,536 of 64 bytes) with every other value
//!   freed, so `defragment` moves 2 MiB; set up untimed (`iter_batched_ref`,
//!   `BatchSize::LargeInput`), only `defragment()` is timed. The peer is one
//!   overlapping downward `copy_within` (a `memmove`) of 2 MiB inside a
//!   `Vec<u8>`, set up the same way. Throughput in bytes moved.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p framealloc-bench --bench handles -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use framealloc::{Handle, HandleAllocator};

/// Live values per container.
const LIVE: usize = 100_000;

/// The 32-byte value the lookup and insert/remove groups store.
type Value = [u64; 4];

/// Seed of the lookup order's shuffle.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A keyed container: framealloc's handle allocator or one of its peers.
trait Container {
    /// The benchmark id.
    const NAME: &'static str;
    /// What `insert` returns and `get` / `remove` take.
    type Key: Copy;
    /// An empty container.
    fn create() -> Self;
    /// Moves `value` in.
    fn insert(&mut self, value: Value) -> Self::Key;
    /// The value `key` names.
    fn get(&self, key: Self::Key) -> Option<&Value>;
    /// Moves the value `key` names out.
    fn remove(&mut self, key: Self::Key) -> Option<Value>;
}

impl Container for HandleAllocator {
    const NAME: &'static str = "framealloc";
    type Key = Handle<Value>;

    fn create() -> Self {
        HandleAllocator::new()
    }

    #[inline]
    fn insert(&mut self, value: Value) -> Self::Key {
        self.alloc(value).expect("handle allocation")
    }

    #[inline]
    fn get(&self, key: Self::Key) -> Option<&Value> {
        HandleAllocator::get(self, key)
    }

    #[inline]
    fn remove(&mut self, key: Self::Key) -> Option<Value> {
        self.free(key)
    }
}

impl Container for slotmap::SlotMap<slotmap::DefaultKey, Value> {
    const NAME: &'static str = "slotmap SlotMap";
    type Key = slotmap::DefaultKey;

    fn create() -> Self {
        slotmap::SlotMap::new()
    }

    #[inline]
    fn insert(&mut self, value: Value) -> Self::Key {
        slotmap::SlotMap::insert(self, value)
    }

    #[inline]
    fn get(&self, key: Self::Key) -> Option<&Value> {
        slotmap::SlotMap::get(self, key)
    }

    #[inline]
    fn remove(&mut self, key: Self::Key) -> Option<Value> {
        slotmap::SlotMap::remove(self, key)
    }
}

impl Container for slotmap::DenseSlotMap<slotmap::DefaultKey, Value> {
    const NAME: &'static str = "slotmap DenseSlotMap";
    type Key = slotmap::DefaultKey;

    fn create() -> Self {
        slotmap::DenseSlotMap::new()
    }

    #[inline]
    fn insert(&mut self, value: Value) -> Self::Key {
        slotmap::DenseSlotMap::insert(self, value)
    }

    #[inline]
    fn get(&self, key: Self::Key) -> Option<&Value> {
        slotmap::DenseSlotMap::get(self, key)
    }

    #[inline]
    fn remove(&mut self, key: Self::Key) -> Option<Value> {
        slotmap::DenseSlotMap::remove(self, key)
    }
}

impl Container for thunderdome::Arena<Value> {
    const NAME: &'static str = "thunderdome";
    type Key = thunderdome::Index;

    fn create() -> Self {
        thunderdome::Arena::new()
    }

    #[inline]
    fn insert(&mut self, value: Value) -> Self::Key {
        thunderdome::Arena::insert(self, value)
    }

    #[inline]
    fn get(&self, key: Self::Key) -> Option<&Value> {
        thunderdome::Arena::get(self, key)
    }

    #[inline]
    fn remove(&mut self, key: Self::Key) -> Option<Value> {
        thunderdome::Arena::remove(self, key)
    }
}

/// The baseline: a `Vec` indexed by `usize`. `insert` pushes; `remove`
/// pops, so it only takes the last index (what `handle_insert_remove`
/// gives it).
impl Container for Vec<Value> {
    const NAME: &'static str = "Vec (usize index)";
    type Key = usize;

    fn create() -> Self {
        Vec::new()
    }

    #[inline]
    fn insert(&mut self, value: Value) -> Self::Key {
        self.push(value);
        self.len() - 1
    }

    #[inline]
    fn get(&self, key: Self::Key) -> Option<&Value> {
        <[Value]>::get(self, key)
    }

    #[inline]
    fn remove(&mut self, key: Self::Key) -> Option<Value> {
        debug_assert_eq!(key + 1, self.len(), "the Vec only pops");
        self.pop()
    }
}

/// Calls `$bench::<C>($args)` for framealloc and each peer, in that order.
macro_rules! for_each_container {
    ($bench:ident($($arg:expr),* $(,)?)) => {
        $bench::<HandleAllocator>($($arg),*);
        $bench::<slotmap::SlotMap<slotmap::DefaultKey, Value>>($($arg),*);
        $bench::<slotmap::DenseSlotMap<slotmap::DefaultKey, Value>>($($arg),*);
        $bench::<thunderdome::Arena<Value>>($($arg),*);
        $bench::<Vec<Value>>($($arg),*);
    };
}

/// The `i`-th value inserted.
fn value(i: usize) -> Value {
    let i = i as u64;
    [i, i ^ 1, i ^ 2, i ^ 3]
}

/// A container holding [`LIVE`] values, and their keys in insertion
/// order.
fn filled<C: Container>() -> (C, Vec<C::Key>) {
    let mut container = C::create();
    let keys = (0..LIVE).map(|i| container.insert(value(i))).collect();
    (container, keys)
}

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

/// Looks up every key in `keys` and sums the first field of each value.
#[inline]
fn sum_lookups<C: Container>(container: &C, keys: &[C::Key]) -> u64 {
    let mut sum = 0u64;
    for &key in keys {
        let value = container.get(key).expect("live key");
        sum = sum.wrapping_add(black_box(value)[0]);
    }
    sum
}

/// Benchmarks looking up all [`LIVE`] keys of a filled `C`, in `order`
/// (positions in insertion order).
fn bench_get<C: Container>(group: &mut BenchmarkGroup<'_, WallTime>, order: &[usize]) {
    let (container, keys) = filled::<C>();
    let keys: Vec<C::Key> = order.iter().map(|&i| keys[i]).collect();
    let expected = order
        .iter()
        .map(|&i| value(i)[0])
        .fold(0u64, u64::wrapping_add);
    assert_eq!(sum_lookups(&container, &keys), expected);
    group.bench_function(C::NAME, |b| {
        b.iter(|| black_box(sum_lookups(&container, &keys)));
    });
}

/// Benchmarks one insert and its remove in a `C` holding [`LIVE`] values.
fn bench_insert_remove<C: Container>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let (mut container, _keys) = filled::<C>();
    let fresh = value(LIVE);
    group.bench_function(C::NAME, |b| {
        b.iter(|| {
            let key = black_box(container.insert(black_box(fresh)));
            black_box(container.remove(key))
        });
    });
}

/// A group whose throughput is `elements` per iteration.
fn group<'c>(c: &'c mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements as u64));
    group
}

fn handle_get(c: &mut Criterion) {
    let random = shuffled_order(LIVE);
    let mut random_group = group(c, "handle_get_random_100k", LIVE);
    for_each_container!(bench_get(&mut random_group, &random));
    random_group.finish();

    let sequential: Vec<usize> = (0..LIVE).collect();
    let mut sequential_group = group(c, "handle_get_sequential_100k", LIVE);
    for_each_container!(bench_get(&mut sequential_group, &sequential));
    sequential_group.finish();
}

fn handle_insert_remove(c: &mut Criterion) {
    let mut group = group(c, "handle_insert_remove", 1);
    for_each_container!(bench_insert_remove(&mut group));
    group.finish();
}

/// Bytes of values in the allocator before the frees (4 MiB).
const DEFRAG_SPAN: usize = 4 << 20;

/// Bytes `defragment` moves: every other value survives (2 MiB).
const DEFRAG_MOVED: usize = DEFRAG_SPAN / 2;

/// A handle allocator of [`DEFRAG_SPAN`] bytes of `[u8; SIZE]` values in
/// which every value at an even position was freed: every survivor moves
/// down, so `defragment` moves [`DEFRAG_MOVED`] bytes.
fn fragmented<const SIZE: usize>() -> HandleAllocator {
    let mut handles = HandleAllocator::new();
    let keys: Vec<Handle<[u8; SIZE]>> = (0..DEFRAG_SPAN / SIZE)
        .map(|i| handles.alloc([i as u8; SIZE]).expect("handle allocation"))
        .collect();
    for key in keys.iter().step_by(2) {
        handles.free(*key).expect("live handle");
    }
    handles
}

/// Benchmarks `defragment` over [`fragmented::<SIZE>`](fragmented), after
/// checking once that it moves [`DEFRAG_MOVED`] bytes.
fn bench_defragment<const SIZE: usize>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let report = fragmented::<SIZE>().defragment();
    assert_eq!(report.bytes_moved, DEFRAG_MOVED, "{SIZE}-byte values");
    assert_eq!(
        report.relocations.len(),
        DEFRAG_MOVED / SIZE,
        "{SIZE}-byte values"
    );
    assert!(report.complete);
    group.bench_function(
        BenchmarkId::new("framealloc defragment", format!("{SIZE}B values")),
        |b| {
            b.iter_batched_ref(
                fragmented::<SIZE>,
                |handles| handles.defragment(),
                BatchSize::LargeInput,
            );
        },
    );
}

fn defragment_vs_memmove(c: &mut Criterion) {
    let mut group = c.benchmark_group("defragment_vs_memmove");
    group.throughput(Throughput::Bytes(DEFRAG_MOVED as u64));
    bench_defragment::<256>(&mut group);
    bench_defragment::<64>(&mut group);
    // One overlapping move down by 256 bytes of the same 2 MiB.
    group.bench_function(BenchmarkId::new("memmove", "copy_within 2 MiB"), |b| {
        b.iter_batched_ref(
            || vec![1u8; DEFRAG_MOVED + 256],
            |buf| {
                buf.copy_within(256.., 0);
                black_box(buf);
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(
    benches,
    handle_get,
    handle_insert_remove,
    defragment_vs_memmove
);
criterion_main!(benches);
