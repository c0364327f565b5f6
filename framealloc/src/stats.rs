//! Allocation statistics.

use core::sync::atomic::Ordering::Relaxed;

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
}

/// Frame intent figures inside [`AllocStats`].
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
}

impl AllocStats {
    pub(crate) fn collect(shared: &Shared) -> AllocStats {
        let mut frame = FrameStats::default();
        shared.frames.for_each_published(|published| {
            frame.frames_completed += published.frames_completed.load(Relaxed);
            frame.allocations += published.allocations.load(Relaxed);
            frame.bytes_allocated += published.bytes.load(Relaxed);
            frame.peak_frame_bytes = frame
                .peak_frame_bytes
                .max(published.peak_frame_bytes.load(Relaxed));
            frame.reserved_bytes += published.reserved_bytes.load(Relaxed);
            frame.chunks_held += published.chunks_held.load(Relaxed);
            frame.chunk_allocations += published.chunk_allocations.load(Relaxed);
        });
        (frame.pooled_chunks, frame.pooled_bytes) = shared.frames.limits.pool.totals();
        (frame.arenas, frame.idle_arenas) = shared.frames.arena_counts();
        AllocStats {
            allocation_count: frame.allocations,
            deallocation_count: frame.allocations,
            frame,
        }
    }
}
