//! Allocation statistics.

use crate::allocators::pool::HeapReport;
use crate::shared::Shared;

/// A snapshot of what an allocator has done, from [`SmartAlloc::stats`].
///
/// Frame figures are published by each thread when its outermost frame ends,
/// so a frame still open is not counted yet; [`Frame::report`] gives the
/// figures of an open frame. Every frame allocation is also counted as
/// deallocated when its frame ends, so `allocation_count -
/// deallocation_count` is the number of live allocations.
///
/// [`SmartAlloc::stats`]: crate::SmartAlloc::stats
/// [`Frame::report`]: crate::Frame::report
///
/// # Example
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// frame.alloc(1u64);
/// frame.alloc(2u64);
/// frame.end();
/// let stats = alloc.stats();
/// assert_eq!(stats.frame.frames_completed, 1);
/// assert_eq!(stats.frame.allocations, 2);
/// assert_eq!(stats.frame.bytes_allocated, 16);
/// assert_eq!(stats.allocation_count - stats.deallocation_count, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocStats {
    /// Allocations of every intent.
    pub allocation_count: u64,
    /// Deallocations of every intent (frame memory counts as freed when its
    /// frame ends).
    pub deallocation_count: u64,
    /// Frame intent figures.
    pub frame: FrameStats,
    /// Pool intent figures (`pool_box`, `pool_alloc`).
    pub pool: IntentStats,
    /// Heap intent figures (`heap_box`, `heap_alloc`, and pool requests too
    /// large for the pool).
    pub heap: IntentStats,
    /// Groups intent figures ([`SmartAlloc::groups`](crate::SmartAlloc::groups)).
    pub groups: crate::GroupsStats,
    /// Streaming intent figures ([`SmartAlloc::streaming`](crate::SmartAlloc::streaming)).
    pub streaming: crate::StreamingStats,
    /// Pool pages held (64 KiB each), in thread heaps or free.
    pub pool_pages: usize,
    /// Pool pages free for any thread or size class.
    pub pool_free_pages: usize,
    /// The same pool and heap figures for each thread heap (one per thread
    /// that allocated; a heap passes to a new thread when its thread exits).
    pub per_thread: Vec<ThreadStats>,
}

/// Pool or heap intent figures inside [`AllocStats`].
///
/// Every free is counted where it happens: on the owning thread without
/// atomics, on another thread by the one atomic operation that hands the
/// memory back. So the figures are true whenever they are read, on any
/// thread, with no collection first: after every box is dropped, on any
/// thread, `live_bytes` is 0 and `allocations == deallocations`.
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let boxed = alloc.pool_box([0u8; 100])?; // a 112-byte slot
/// let pool = alloc.stats().pool;
/// assert_eq!((pool.allocations, pool.live_bytes), (1, 112));
/// # drop(boxed);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntentStats {
    /// Allocations made.
    pub allocations: u64,
    /// Deallocations counted.
    pub deallocations: u64,
    /// Bytes live: slot sizes for the pool, the values' own sizes for the
    /// heap (heap blocks have no header).
    pub live_bytes: u64,
    /// The sum of each thread heap's highest live bytes. The pool samples it
    /// when a thread refills a size class (and `stats()` when it reads), so
    /// it may lag by one refill batch, about 4 KiB per size class.
    pub peak_bytes: u64,
}

impl IntentStats {
    fn add(&mut self, other: IntentStats) {
        self.allocations += other.allocations;
        self.deallocations += other.deallocations;
        self.live_bytes += other.live_bytes;
        self.peak_bytes += other.peak_bytes;
    }
}

/// One thread heap's figures, inside [`AllocStats::per_thread`].
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let here = alloc.pool_box(1u32)?;
/// std::thread::scope(|s| {
///     s.spawn(|| drop(alloc.heap_box([0u8; 64])));
/// });
/// let threads = alloc.stats().per_thread;
/// assert_eq!(threads.len(), 2);
/// assert_eq!(alloc.thread_stats().pool.allocations, 1);
/// # drop(here);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// Whether a live thread owns this heap now (otherwise it is idle,
    /// waiting for a new thread).
    pub owned: bool,
    /// Pool intent figures of this heap.
    pub pool: IntentStats,
    /// Heap intent figures of this heap.
    pub heap: IntentStats,
    /// Pool pages in this heap.
    pub pages: u64,
}

impl ThreadStats {
    pub(crate) fn of(report: HeapReport) -> ThreadStats {
        let figures = report.figures;
        ThreadStats {
            owned: report.owned,
            pool: IntentStats {
                allocations: figures.pool_allocs,
                deallocations: figures.pool_frees,
                live_bytes: figures.pool_live_bytes,
                peak_bytes: report.pool_peak_bytes.max(figures.pool_live_bytes),
            },
            heap: IntentStats {
                allocations: figures.heap_allocs,
                deallocations: figures.heap_frees,
                live_bytes: figures.heap_live_bytes,
                peak_bytes: report.heap_peak_bytes.max(figures.heap_live_bytes),
            },
            pages: report.pages,
        }
    }
}

/// Frame intent figures inside [`AllocStats`].
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// alloc.begin_frame().alloc_slice_copy(&[0u64; 8]);
/// let frame = alloc.stats().frame;
/// assert_eq!((frame.frames_completed, frame.bytes_allocated, frame.arenas), (1, 64, 1));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameStats {
    /// Outermost frames ended, on all threads.
    pub frames_completed: u64,
    /// Allocations made in those frames.
    pub allocations: u64,
    /// Bytes handed out in those frames, alignment padding included.
    pub bytes_allocated: u64,
    /// The most bytes one thread's frame used.
    pub peak_frame_bytes: usize,
    /// Bytes of chunks the arenas hold now.
    pub reserved_bytes: usize,
    /// Chunks the arenas hold now.
    pub chunks_held: usize,
    /// Bytes of spare chunks in the shared pool.
    pub pooled_bytes: usize,
    /// Spare chunks in the shared pool.
    pub pooled_chunks: usize,
    /// Chunks requested from the global allocator since the start. It stops
    /// rising once frames repeat (the arenas keep their chunks).
    pub chunk_allocations: u64,
    /// Arenas created (one per thread that opened a frame, reused after a
    /// thread exits).
    pub arenas: usize,
    /// Arenas waiting for a new thread.
    pub idle_arenas: usize,
    /// The same figures for each arena, in the order the arenas were
    /// created, with the thread that holds each one now.
    pub per_arena: Vec<FrameArenaStats>,
}

/// One frame arena's figures, inside [`FrameStats::per_arena`].
///
/// An arena belongs to one thread at a time: the thread that opened a frame
/// on it, until that thread exits; then the next new thread adopts it, warm.
/// Its figures therefore cover every thread that held it.
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// alloc.begin_frame().alloc(1u64);
/// let worker = alloc.clone();
/// std::thread::spawn(move || {
///     worker.begin_frame().alloc_slice_copy(&[0u8; 24]);
/// })
/// .join() // `join` waits for the thread's exit, where it gives its arena up
/// .unwrap();
/// let arenas = alloc.stats().frame.per_arena;
/// assert_eq!(arenas.len(), 2);
/// assert_eq!(arenas[0].thread, Some(std::thread::current().id()));
/// assert_eq!((arenas[0].bytes_allocated, arenas[1].bytes_allocated), (8, 24));
/// assert_eq!(arenas[1].thread, None, "its thread exited: the arena is idle");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameArenaStats {
    /// The arena's position in [`FrameStats::per_arena`], stable for the
    /// allocator's life.
    pub index: usize,
    /// The thread holding the arena now; `None` while it is idle.
    pub thread: Option<std::thread::ThreadId>,
    /// That thread's name, if it has one.
    pub thread_name: Option<String>,
    /// Outermost frames ended on the arena.
    pub frames_completed: u64,
    /// Allocations made in those frames.
    pub allocations: u64,
    /// Bytes handed out in those frames, alignment padding included.
    pub bytes_allocated: u64,
    /// The most bytes one of those frames used.
    pub peak_frame_bytes: usize,
    /// Bytes of chunks the arena holds now.
    pub reserved_bytes: usize,
    /// Chunks the arena took from the global allocator since it was made.
    pub chunk_allocations: u64,
}

impl AllocStats {
    pub(crate) fn collect(shared: &Shared) -> AllocStats {
        let report = shared.frames.report();
        let frame = FrameStats {
            frames_completed: report.frames_completed,
            allocations: report.allocations,
            bytes_allocated: report.bytes,
            peak_frame_bytes: report.peak_frame_bytes as usize,
            reserved_bytes: report.reserved_bytes as usize,
            chunks_held: report.chunks_held as usize,
            pooled_bytes: report.pooled_bytes,
            pooled_chunks: report.pooled_chunks,
            chunk_allocations: report.chunk_allocations,
            arenas: report.arenas,
            idle_arenas: report.idle_arenas,
            per_arena: shared
                .frames
                .arena_reports()
                .into_iter()
                .map(|arena| FrameArenaStats {
                    index: arena.index,
                    thread: arena.holder.as_ref().map(std::thread::Thread::id),
                    thread_name: arena
                        .holder
                        .as_ref()
                        .and_then(|thread| thread.name().map(str::to_owned)),
                    frames_completed: arena.frames_completed,
                    allocations: arena.allocations,
                    bytes_allocated: arena.bytes,
                    peak_frame_bytes: arena.peak_frame_bytes as usize,
                    reserved_bytes: arena.reserved_bytes as usize,
                    chunk_allocations: arena.chunk_allocations,
                })
                .collect(),
        };

        let per_thread: Vec<ThreadStats> = shared
            .pools
            .reports()
            .into_iter()
            .map(ThreadStats::of)
            .collect();
        let (mut pool, mut heap) = (IntentStats::default(), IntentStats::default());
        for thread in &per_thread {
            pool.add(thread.pool);
            heap.add(thread.heap);
        }
        let (pool_pages, pool_free_pages) = shared.pools.page_counts();
        let groups = shared.groups.stats();
        AllocStats {
            allocation_count: frame.allocations
                + pool.allocations
                + heap.allocations
                + groups.allocations,
            deallocation_count: frame.allocations
                + pool.deallocations
                + heap.deallocations
                + groups.deallocations,
            frame,
            pool,
            heap,
            groups,
            streaming: shared.streaming.stats(),
            pool_pages,
            pool_free_pages,
            per_thread,
        }
    }
}

/// The figures of [`AllocStats`] that a [`MemorySnapshot`] holds, read
/// under the same locks but without allocating: diagnostics read them at
/// the end of every engine frame, where a warm game must make no system
/// allocation.
///
/// [`MemorySnapshot`]: crate::diagnostics::MemorySnapshot
pub(crate) fn frame_figures(shared: &Shared) -> crate::diagnostics::FrameFigures {
    let frames = shared.frames.report();
    let (mut pool, mut heap) = (IntentStats::default(), IntentStats::default());
    shared.pools.for_each_heap(|_, figures| {
        pool.allocations += figures.pool_allocs;
        pool.deallocations += figures.pool_frees;
        pool.live_bytes += figures.pool_live_bytes;
        heap.allocations += figures.heap_allocs;
        heap.deallocations += figures.heap_frees;
        heap.live_bytes += figures.heap_live_bytes;
    });
    let (pool_pages, _) = shared.pools.page_counts();
    let groups = shared.groups.totals();
    let streaming = shared.streaming.stats();
    let budgets = &shared.budgets;
    let global = budgets.is_enabled().then(|| budgets.global_usage());
    let global = global.and_then(|usage| {
        let limit = match (usage.soft_limit, usage.hard_limit) {
            (Some(soft), Some(hard)) => Some(soft.min(hard)),
            (soft, hard) => soft.or(hard),
        };
        limit.map(|limit| (usage.used, limit))
    });
    let snapshot = crate::diagnostics::MemorySnapshot {
        frame_number: 0,
        // The running total: the hooks turn it into this frame's bytes.
        frame_bytes: frames.bytes,
        frame_reserved_bytes: frames.reserved_bytes,
        pool_bytes: pool.live_bytes,
        heap_bytes: heap.live_bytes,
        group_bytes: groups.bytes,
        group_reserved_bytes: groups.reserved_bytes,
        streaming_bytes: streaming.used as u64,
        // Pool pages are 64 KiB each.
        reserved_bytes: frames.reserved_bytes
            + frames.pooled_bytes as u64
            + (pool_pages as u64) * (64 << 10)
            + heap.live_bytes
            + groups.reserved_bytes
            + streaming.used as u64,
        allocation_count: frames.allocations
            + pool.allocations
            + heap.allocations
            + groups.allocations,
        deallocation_count: frames.allocations
            + pool.deallocations
            + heap.deallocations
            + groups.deallocations,
    };
    crate::diagnostics::FrameFigures {
        snapshot,
        streaming_evictions: streaming.evictions,
        streaming_budget: streaming.budget,
        global,
    }
}
