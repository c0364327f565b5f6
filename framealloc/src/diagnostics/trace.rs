//! `tracing` events (feature `tracing`) at engine-frame boundaries and on
//! slow paths. Without the feature every function here is empty and
//! inlined away; with it, each is one call to a cold function that builds
//! the event only when a subscriber wants it.
//!
//! Fast paths (a frame's begin and end, a pool slot's pop and push, a bump)
//! emit nothing. The library never installs a subscriber. Targets name the
//! intent or service, in the shape of a module path:
//!
//! | target | level | message | fields |
//! |---|---|---|---|
//! | `framealloc::frame` | debug | `"engine frame ended"` | `frame`, `frame_reserved_bytes`, `pool_bytes`, `heap_bytes`, `group_bytes`, `streaming_bytes`, `reserved_bytes` (a [`MemorySnapshot`](super::MemorySnapshot)'s figures) |
//! | `framealloc::frame` | debug | `"frame arena chunk allocated"` | `bytes` |
//! | `framealloc::pool` | debug | `"pool size class refilled from a new page"` | `class_size` |
//! | `framealloc::budget` | warn | `"budget refused an allocation"` | `tag` (`"global"` for the global budget), `requested`, `used`, `limit` |
//! | `framealloc::streaming` | debug | `"streamed asset evicted"` | `id`, `bytes` |
//! | `framealloc::handle` | debug | `"handles defragmented"` | `bytes_moved`, `relocations`, `complete` |
//!
//! Frame arena chunks are reported only by allocators that watch their
//! frames: built while a subscriber was interested in
//! `framealloc::frame` at debug level (or with profiler hooks, Tracy or
//! `debug`), because watching adds a branch to every frame's end.

use super::MemorySnapshot;
use super::profiler::Intent;
use crate::AllocationTag;

/// Whether a subscriber wants the frame-arena events now (read when an
/// allocator is built: see [`Observer::watches_frames`](super::Observer::watches_frames)).
#[inline]
pub(crate) fn wants_frames() -> bool {
    #[cfg(feature = "tracing")]
    {
        tracing::enabled!(target: "framealloc::frame", tracing::Level::DEBUG)
    }
    #[cfg(not(feature = "tracing"))]
    {
        false
    }
}

/// An engine frame ended (`SmartAlloc::advance_frame`) with these
/// figures.
#[inline(always)]
pub(crate) fn frame_ended(snapshot: &MemorySnapshot) {
    #[cfg(feature = "tracing")]
    traced::frame_ended(snapshot);
    #[cfg(not(feature = "tracing"))]
    let _ = snapshot;
}

/// Memory handed out; only a frame arena's new chunk is a slow path worth
/// an event (pool and heap allocations are their own fast paths).
#[inline(always)]
pub(crate) fn alloc(size: usize, intent: Intent) {
    #[cfg(feature = "tracing")]
    if intent == Intent::Frame {
        traced::chunk_grown(size);
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (size, intent);
}

/// A pool size class took a new page.
#[inline(always)]
pub(crate) fn refill(class_size: usize) {
    #[cfg(feature = "tracing")]
    traced::refill(class_size);
    #[cfg(not(feature = "tracing"))]
    let _ = class_size;
}

/// A budget refused `requested` bytes: `used` of `limit` were in use
/// (`tag` is `None` for the global budget).
#[inline(always)]
pub(crate) fn budget_refused(
    tag: Option<AllocationTag>,
    requested: usize,
    used: usize,
    limit: usize,
) {
    #[cfg(feature = "tracing")]
    traced::budget_refused(tag, requested, used, limit);
    #[cfg(not(feature = "tracing"))]
    let _ = (tag, requested, used, limit);
}

/// A streamed asset was evicted.
#[inline(always)]
pub(crate) fn evicted(id: u64, bytes: usize) {
    #[cfg(feature = "tracing")]
    traced::evicted(id, bytes);
    #[cfg(not(feature = "tracing"))]
    let _ = (id, bytes);
}

/// A handle allocator's defragmentation (or step) ended.
#[inline(always)]
pub(crate) fn defragmented(bytes_moved: usize, relocations: usize, complete: bool) {
    #[cfg(feature = "tracing")]
    traced::defragmented(bytes_moved, relocations, complete);
    #[cfg(not(feature = "tracing"))]
    let _ = (bytes_moved, relocations, complete);
}

/// The events themselves, out of line.
#[cfg(feature = "tracing")]
mod traced {
    use super::MemorySnapshot;
    use crate::AllocationTag;

    #[cold]
    #[inline(never)]
    pub(super) fn frame_ended(snapshot: &MemorySnapshot) {
        tracing::debug!(
            target: "framealloc::frame",
            frame = snapshot.frame_number,
            frame_reserved_bytes = snapshot.frame_reserved_bytes,
            pool_bytes = snapshot.pool_bytes,
            heap_bytes = snapshot.heap_bytes,
            group_bytes = snapshot.group_bytes,
            streaming_bytes = snapshot.streaming_bytes,
            reserved_bytes = snapshot.reserved_bytes,
            "engine frame ended"
        );
    }

    #[cold]
    #[inline(never)]
    pub(super) fn chunk_grown(bytes: usize) {
        tracing::debug!(target: "framealloc::frame", bytes, "frame arena chunk allocated");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn refill(class_size: usize) {
        tracing::debug!(
            target: "framealloc::pool",
            class_size,
            "pool size class refilled from a new page"
        );
    }

    #[cold]
    #[inline(never)]
    pub(super) fn budget_refused(
        tag: Option<AllocationTag>,
        requested: usize,
        used: usize,
        limit: usize,
    ) {
        tracing::warn!(
            target: "framealloc::budget",
            tag = tag.map_or("global", AllocationTag::name),
            requested,
            used,
            limit,
            "budget refused an allocation"
        );
    }

    #[cold]
    #[inline(never)]
    pub(super) fn evicted(id: u64, bytes: usize) {
        tracing::debug!(target: "framealloc::streaming", id, bytes, "streamed asset evicted");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn defragmented(bytes_moved: usize, relocations: usize, complete: bool) {
        tracing::debug!(
            target: "framealloc::handle",
            bytes_moved,
            relocations,
            complete,
            "handles defragmented"
        );
    }
}
