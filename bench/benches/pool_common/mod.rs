//! The pool-intent contenders, behind one small interface.
//!
//! Shared by `pool.rs` (criterion timings) and `pool_probe.rs` (instruction
//! counts under callgrind), so both measure exactly the same code:
//!
//! - framealloc: `SmartAlloc::pool_box`, freed by dropping the `PoolBox`;
//! - glibc, mimalloc, jemalloc: their `GlobalAlloc` types called directly
//!   (none of them is the global allocator, which stays glibc, so
//!   framealloc's own pages come from the system allocator);
//! - `slab::Slab` and `sharded_slab::Slab`: insert and remove;
//! - `free-list-floor` ([`free_list::FreeList`]): a bare LIFO free list in a
//!   plain struct, the floor for a pair on this machine.
//!
//! One *pair* is an allocation whose result goes through `black_box`, then
//! its free. A *batch* allocates [`BATCH`] values, then frees them all in
//! allocation order. A *remote round* allocates [`REMOTE_BATCH`] values on
//! the calling thread and frees them on a worker thread, which times its
//! frees alone.

// The raw allocators are called through `GlobalAlloc`, whose methods are
// `unsafe`; every use says why it is sound.
#![allow(unsafe_code, reason = "calls GlobalAlloc::alloc/dealloc directly")]

use std::alloc::{GlobalAlloc, Layout, System, handle_alloc_error};
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use framealloc::{PoolBox, SmartAlloc};
pub use free_list::FreeList;

mod free_list;
use mimalloc::MiMalloc;
use tikv_jemallocator::Jemalloc;

/// Values allocated, then freed, per batch.
pub const BATCH: usize = 1_000_000;

/// Values freed by the other thread per remote round.
pub const REMOTE_BATCH: usize = 16_384;

/// A 64-byte plain value (align 8).
#[derive(Clone, Copy)]
pub struct Block64(#[allow(dead_code, reason = "written, never read back")] pub [u64; 8]);

/// The 64-byte value every 64-byte case allocates.
pub const BLOCK: Block64 = Block64([7; 8]);

/// A pool of `T` values: `insert` allocates room and moves the value in,
/// `remove` frees it (running no destructor the peers would skip: every
/// `T` used here is `Copy`).
pub trait Pool<T>: Sized {
    /// The name used in benchmark ids and probe cases.
    const NAME: &'static str;
    /// What an allocation hands back.
    type Key;
    /// A new, empty pool.
    fn create() -> Self;
    /// Allocates room for `value` and moves it in.
    fn insert(&mut self, value: T) -> Self::Key;
    /// Frees what `insert` returned, on the thread that allocated it.
    fn remove(&mut self, key: Self::Key);
}

/// A pool whose values can be freed by another thread.
pub trait RemotePool<T>: Pool<T, Key: Send + 'static> {
    /// What the freeing thread holds to free with.
    type Freer: Send + 'static;
    /// A freer for another thread.
    fn freer(&self) -> Self::Freer;
    /// Frees `key` on the calling thread, which did not allocate it.
    fn free_remote(freer: &Self::Freer, key: Self::Key);
    /// Run by the allocating thread after the other thread's frees, outside
    /// the timed part (framealloc takes its remote frees back here).
    fn reclaim(&mut self) {}
}

/// framealloc's pool intent; with `HOOKED`, in an allocator built with
/// profiler hooks attached and no callback set: what watching costs when
/// nothing listens yet (every allocation and free takes the slow path).
pub struct Framealloc<const HOOKED: bool = false>(SmartAlloc);

/// [`Framealloc`] with profiler hooks attached.
pub type FrameallocHooked = Framealloc<true>;

impl<T, const HOOKED: bool> Pool<T> for Framealloc<HOOKED> {
    const NAME: &'static str = if HOOKED {
        "framealloc-hooked"
    } else {
        "framealloc"
    };
    type Key = PoolBox<T>;

    fn create() -> Self {
        let mut config = framealloc::AllocConfig::default();
        if HOOKED {
            config = config.with_profiler_hooks(framealloc::diagnostics::ProfilerHooks::new());
        }
        Framealloc(SmartAlloc::new(config))
    }

    #[inline(always)]
    fn insert(&mut self, value: T) -> PoolBox<T> {
        match self.0.pool_box(value) {
            Ok(boxed) => boxed,
            Err(error) => panic!("pool_box failed: {error}"),
        }
    }

    #[inline(always)]
    fn remove(&mut self, key: PoolBox<T>) {
        drop(key);
    }
}

impl<T: Send + 'static> RemotePool<T> for Framealloc {
    type Freer = ();

    fn freer(&self) {}

    #[inline(always)]
    fn free_remote((): &(), key: PoolBox<T>) {
        drop(key);
    }

    fn reclaim(&mut self) {
        self.0.collect_remote_frees();
    }
}

/// A general-purpose allocator called through `GlobalAlloc`.
pub trait RawAllocator: GlobalAlloc + Sync + 'static {
    /// The name used in benchmark ids and probe cases.
    const NAME: &'static str;
    /// The allocator (all three are unit structs).
    const INSTANCE: Self;
}

impl RawAllocator for System {
    const NAME: &'static str = "glibc";
    const INSTANCE: Self = System;
}

impl RawAllocator for MiMalloc {
    const NAME: &'static str = "mimalloc";
    const INSTANCE: Self = MiMalloc;
}

impl RawAllocator for Jemalloc {
    const NAME: &'static str = "jemalloc";
    const INSTANCE: Self = Jemalloc;
}

/// One `T` from a [`RawAllocator`]: a `malloc` + `free` pair per value.
pub struct Raw<A>(A);

/// glibc's `malloc`/`free` (`std::alloc::System`).
pub type Glibc = Raw<System>;
/// mimalloc through `GlobalAlloc`.
pub type Mimalloc = Raw<MiMalloc>;
/// jemalloc (tikv-jemallocator, prefixed symbols) through `GlobalAlloc`.
pub type Jemallocator = Raw<Jemalloc>;

/// A block holding a `T`, from [`Raw`].
pub struct RawBox<T>(NonNull<T>);

// SAFETY: the block is owned like a `Box<T>`; the allocators free a block
// from any thread.
unsafe impl<T: Send> Send for RawBox<T> {}

impl<A: RawAllocator> Raw<A> {
    #[inline(always)]
    fn free<T>(key: RawBox<T>) {
        // SAFETY: the block came from `A::INSTANCE.alloc` with `T`'s layout
        // in `insert`, and is freed once (the key is consumed).
        unsafe { A::INSTANCE.dealloc(key.0.as_ptr().cast(), Layout::new::<T>()) }
    }
}

impl<A: RawAllocator, T> Pool<T> for Raw<A> {
    const NAME: &'static str = A::NAME;
    type Key = RawBox<T>;

    fn create() -> Self {
        Raw(A::INSTANCE)
    }

    #[inline(always)]
    fn insert(&mut self, value: T) -> RawBox<T> {
        const { assert!(size_of::<T>() != 0) };
        let layout = Layout::new::<T>();
        // SAFETY: the layout has a non-zero size (asserted above).
        let block = unsafe { self.0.alloc(layout) }.cast::<T>();
        let Some(block) = NonNull::new(block) else {
            handle_alloc_error(layout)
        };
        // SAFETY: a fresh block with `T`'s layout.
        unsafe { block.write(value) };
        RawBox(block)
    }

    #[inline(always)]
    fn remove(&mut self, key: RawBox<T>) {
        Self::free(key);
    }
}

impl<A: RawAllocator, T: Send + 'static> RemotePool<T> for Raw<A> {
    type Freer = ();

    fn freer(&self) {}

    #[inline(always)]
    fn free_remote((): &(), key: RawBox<T>) {
        Self::free(key);
    }
}

impl<T> Pool<T> for slab::Slab<T> {
    const NAME: &'static str = "slab";
    type Key = usize;

    fn create() -> Self {
        slab::Slab::new()
    }

    #[inline(always)]
    fn insert(&mut self, value: T) -> usize {
        slab::Slab::insert(self, value)
    }

    #[inline(always)]
    fn remove(&mut self, key: usize) {
        slab::Slab::remove(self, key);
    }
}

/// A `sharded_slab::Slab`, shared with the threads that free into it.
pub struct ShardedSlab<T>(Arc<sharded_slab::Slab<T>>);

impl<T> ShardedSlab<T> {
    #[inline(always)]
    fn free(slab: &sharded_slab::Slab<T>, key: usize) {
        assert!(slab.remove(key), "sharded-slab: no value at {key}");
    }
}

impl<T> Pool<T> for ShardedSlab<T> {
    const NAME: &'static str = "sharded-slab";
    type Key = usize;

    fn create() -> Self {
        ShardedSlab(Arc::new(sharded_slab::Slab::new()))
    }

    #[inline(always)]
    fn insert(&mut self, value: T) -> usize {
        match self.0.insert(value) {
            Some(key) => key,
            None => panic!("sharded-slab: this thread's shard is full"),
        }
    }

    #[inline(always)]
    fn remove(&mut self, key: usize) {
        Self::free(&self.0, key);
    }
}

impl<T: Send + Sync + 'static> RemotePool<T> for ShardedSlab<T> {
    type Freer = Arc<sharded_slab::Slab<T>>;

    fn freer(&self) -> Self::Freer {
        Arc::clone(&self.0)
    }

    #[inline(always)]
    fn free_remote(freer: &Self::Freer, key: usize) {
        Self::free(freer, key);
    }
}

/// One pair: allocate `value` (through `black_box`), then free it.
#[inline(always)]
pub fn pair<T, P: Pool<T>>(pool: &mut P, value: T) {
    let key = black_box(pool.insert(value));
    pool.remove(key);
}

/// One batch: `keys.len()` grows by `count` allocations of `value` (each
/// through `black_box`), then every key is freed in allocation order.
/// `keys` comes in empty and leaves empty, its capacity kept.
#[inline(always)]
pub fn batch<T: Copy, P: Pool<T>>(pool: &mut P, keys: &mut Vec<P::Key>, value: T, count: usize) {
    for _ in 0..count {
        keys.push(black_box(pool.insert(value)));
    }
    for key in keys.drain(..) {
        pool.remove(key);
    }
}

/// Frees every key in `keys` on the calling (non-allocating) thread; the
/// only code timed in a remote round, and the function the probe counts.
#[inline(never)]
pub fn remote_free_all<T, P: RemotePool<T>>(freer: &P::Freer, keys: &mut Vec<P::Key>) {
    for key in keys.drain(..) {
        P::free_remote(freer, key);
    }
}

/// A pool owned by the calling thread and a worker thread that frees what
/// it allocates.
pub struct RemoteRig<T, P: RemotePool<T>> {
    pool: P,
    /// Keys' storage, reused round after round.
    spare: Vec<P::Key>,
    jobs: Option<Sender<Vec<P::Key>>>,
    done: Receiver<(Vec<P::Key>, Duration)>,
    worker: Option<JoinHandle<()>>,
    value: T,
}

impl<T: Copy, P: RemotePool<T>> RemoteRig<T, P> {
    /// A new pool of `P` and its freeing thread; rounds allocate `value`.
    pub fn new(value: T) -> Self {
        let pool = P::create();
        let freer = pool.freer();
        let (jobs, inbox) = mpsc::channel::<Vec<P::Key>>();
        let (outbox, done) = mpsc::channel();
        let worker = thread::Builder::new()
            .name(format!("{}-remote-free", P::NAME))
            .spawn(move || {
                for mut keys in inbox {
                    let start = Instant::now();
                    remote_free_all::<T, P>(&freer, &mut keys);
                    let elapsed = start.elapsed();
                    if outbox.send((keys, elapsed)).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the freeing thread");
        RemoteRig {
            pool,
            spare: Vec::with_capacity(REMOTE_BATCH),
            jobs: Some(jobs),
            done,
            worker: Some(worker),
            value,
        }
    }

    /// One round: allocates `count` values here, has the worker free them,
    /// then lets the pool reclaim. Returns the worker's time for its frees.
    pub fn round(&mut self, count: usize) -> Duration {
        let mut keys = std::mem::take(&mut self.spare);
        for _ in 0..count {
            keys.push(black_box(self.pool.insert(self.value)));
        }
        let jobs = self.jobs.as_ref().expect("the worker runs until drop");
        jobs.send(keys).expect("the freeing thread is alive");
        let (keys, elapsed) = self.done.recv().expect("the freeing thread answers");
        self.spare = keys;
        self.pool.reclaim();
        elapsed
    }
}

impl<T, P: RemotePool<T>> Drop for RemoteRig<T, P> {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Evaluates `$body` once per type in the list, with the type alias
/// `$pool` naming it.
macro_rules! for_each_type {
    (|$pool:ident| $body:expr, [$($contender:ty),* $(,)?]) => {{
        $({
            type $pool = $contender;
            $body;
        })*
    }};
}

/// Evaluates `$body` once per contender for items of type `$item`, with the
/// type alias `$pool` naming the contender: framealloc, glibc, mimalloc,
/// jemalloc, `slab`, `sharded-slab` and the free-list floor.
macro_rules! for_each_pool {
    ($item:ty, |$pool:ident| $body:expr) => {
        $crate::pool_common::for_each_type!(|$pool| $body, [
            $crate::pool_common::Framealloc,
            $crate::pool_common::FrameallocHooked,
            $crate::pool_common::Glibc,
            $crate::pool_common::Mimalloc,
            $crate::pool_common::Jemallocator,
            slab::Slab<$item>,
            $crate::pool_common::ShardedSlab<$item>,
            $crate::pool_common::FreeList<$item>,
        ])
    };
}

/// As [`for_each_pool`], for the contenders that can free from another
/// thread (all but `slab` and the free-list floor).
macro_rules! for_each_remote_pool {
    ($item:ty, |$pool:ident| $body:expr) => {
        $crate::pool_common::for_each_type!(|$pool| $body, [
            $crate::pool_common::Framealloc,
            $crate::pool_common::Glibc,
            $crate::pool_common::Mimalloc,
            $crate::pool_common::Jemallocator,
            $crate::pool_common::ShardedSlab<$item>,
        ])
    };
}

pub(crate) use {for_each_pool, for_each_remote_pool, for_each_type};
