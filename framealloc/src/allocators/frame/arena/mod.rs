//! The per-thread frame arena: a bump cursor over a list of chunks.
//!
//! An [`Arena`] is owned by one thread at a time (see `thread_arena`); all
//! of its `Cell`s are touched only by that thread. Other threads read the
//! [`Published`] atomics, which the owner refreshes when a frame ends.
//!
//! Invariants the code relies on:
//! - `cursor`, `end` and `chunk_start` point into (or one past) the chunk
//!   `chunks[entered - 1]`, or are all the same dangling pointer when
//!   `entered == 0`;
//! - `chunk_start <= floor <= cursor <= end`, and `cursor` is a multiple of
//!   [`MIN_ALIGN`]; `floor` is where the newest frame or scope on the arena
//!   began (or the chunk's start, if later): the cursor never moves back
//!   below it, so a frame's memory and figures are never given to an older
//!   frame's free;
//! - every pointer the arena stores or hands out is derived from its chunk's
//!   own pointer (moved with `with_addr`), never from a pointer a caller
//!   passed in, so it carries the whole chunk's provenance;
//! - the list only grows while a frame is open; chunks are released only by
//!   the reset, which runs when no frame is open on the arena.
//!
//! The arena decides when its memory dies. Frames tell it only that they
//! begin and end ([`Arena::begin`], [`Arena::end`], [`Arena::open_scope`],
//! [`Arena::close_scope`]); the depth count, the scope checkpoints, and the
//! choice to reset or rewind are private to this file.

#![expect(unsafe_code, reason = "the bump cursor moves through raw chunk memory")]

use core::alloc::Layout;
use core::cell::{Cell, RefCell};
use core::ptr::NonNull;

use super::chunk::{ArenaLimits, CHUNK_ALIGN, Chunk};
use crate::allocators::counter::Counter;
use crate::budget::Events;
use crate::error::{AllocError, reported};

mod lifetime;

pub(crate) use lifetime::{FrameHold, ScopeHold};

/// Every allocation's size is rounded up to this, so the cursor stays aligned
/// and the common case (`align <= 8`) needs no padding arithmetic.
pub(crate) const MIN_ALIGN: usize = 8;

/// A new chunk is at most this large unless one allocation needs more.
const MAX_GROWTH_CHUNK: usize = 16 << 20;

/// Figures the owning thread publishes for other threads' `stats()` calls.
/// Each field has a single writer (the arena's owner), so updates are plain
/// relaxed loads and stores, never read-modify-write.
#[derive(Default)]
pub(crate) struct Published {
    pub(crate) frames_completed: Counter,
    pub(crate) allocations: Counter,
    pub(crate) bytes: Counter,
    pub(crate) peak_frame_bytes: Counter,
    pub(crate) reserved_bytes: Counter,
    pub(crate) chunks_held: Counter,
    pub(crate) chunk_allocations: Counter,
}

/// What one frame on this arena did, measured between two marks.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    pub(crate) allocations: u64,
    pub(crate) position: usize,
}

/// A frame arena. Aligned to two cache lines so two threads' arenas never
/// share one; `repr(C)` keeps the three fields every allocation touches
/// together at the start, on one cache line.
#[repr(C, align(128))]
pub(crate) struct Arena {
    // Touched by every allocation.
    cursor: Cell<NonNull<u8>>,
    end: Cell<NonNull<u8>>,
    allocations: Cell<u64>,
    // Touched on chunk changes, frame begin and end.
    chunk_start: Cell<NonNull<u8>>,
    /// The cursor never moves back below this (see the module invariants).
    floor: Cell<NonNull<u8>>,
    bytes_before_chunk: Cell<usize>,
    entered: Cell<usize>,
    depth: Cell<u32>,
    frames_begun: Cell<u64>,
    allocations_at_reset: Cell<u64>,
    /// The highest position a rewound sub-scope reached, since the
    /// innermost open scope opened (or the last reset): what the scope's
    /// memory peaked at before it was given back (`FrameReport::peak_bytes`).
    scope_high_water: Cell<usize>,
    chunks: RefCell<ChunkList>,
    pub(crate) published: Published,
    /// Its position among its allocator's arenas (`FrameStats::per_arena`),
    /// named by `FrameReset` events.
    index: usize,
}

#[derive(Default)]
struct ChunkList {
    chunks: Vec<Chunk>,
    used_last_frame: usize,
    reserved: usize,
}

impl Arena {
    /// A new arena, the allocator's `index`-th.
    pub(crate) fn new(index: usize) -> Arena {
        let nowhere = NonNull::<u64>::dangling().cast::<u8>();
        Arena {
            cursor: Cell::new(nowhere),
            end: Cell::new(nowhere),
            allocations: Cell::new(0),
            chunk_start: Cell::new(nowhere),
            floor: Cell::new(nowhere),
            bytes_before_chunk: Cell::new(0),
            entered: Cell::new(0),
            depth: Cell::new(0),
            frames_begun: Cell::new(0),
            allocations_at_reset: Cell::new(0),
            scope_high_water: Cell::new(0),
            chunks: RefCell::new(ChunkList::default()),
            published: Published::default(),
            index,
        }
    }

    /// The fast path: bumps the cursor by `size` (non-zero) at `align`, or
    /// returns `None` when the current chunk cannot hold it.
    #[inline(always)]
    pub(crate) fn bump(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        debug_assert!(size > 0 && align.is_power_of_two());
        let cursor = self.cursor.get();
        let remaining = self.end.get().addr().get() - cursor.addr().get();
        // For `align <= MIN_ALIGN` the cursor is already aligned; the test
        // folds away whenever the layout is known at compile time.
        let padding = if align <= MIN_ALIGN {
            0
        } else {
            cursor.addr().get().wrapping_neg() & (align - 1)
        };
        // `size` comes from a valid `Layout` (at most `isize::MAX` rounded to
        // its alignment), so neither sum below can overflow.
        let rounded = (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1);
        if padding + rounded > remaining {
            return None;
        }
        // SAFETY: `padding <= padding + rounded <= remaining`, so the offset
        // stays within the current chunk, one live allocation (type
        // invariant).
        let start = unsafe { cursor.add(padding) };
        // SAFETY: as above: `start + rounded` is at most one past the end.
        let next = unsafe { start.add(rounded) };
        self.cursor.set(next);
        self.allocations.set(self.allocations.get() + 1);
        Some(start)
    }

    /// Allocates `layout` (which may be zero-sized), taking the slow path
    /// when the current chunk is full.
    #[inline(always)]
    pub(crate) fn alloc_layout(
        &self,
        layout: Layout,
        limits: &ArenaLimits,
    ) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            return Ok(dangling_for(layout.align()));
        }
        match self.bump(layout.size(), layout.align()) {
            Some(ptr) => Ok(ptr),
            None => self.alloc_slow(layout, limits),
        }
    }

    /// Moves to the next kept chunk, or brings in a new one, and allocates
    /// there. Refusals are reported as diagnostics (FA003, FA005, FA301).
    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_slow(
        &self,
        layout: Layout,
        limits: &ArenaLimits,
    ) -> Result<NonNull<u8>, AllocError> {
        let (size, align) = (layout.size(), layout.align());
        let need = round_to_min_align(size);
        let next = self.entered.get();
        let reuse = self
            .chunks
            .borrow()
            .chunks
            .get(next)
            .is_some_and(|chunk| chunk.fits(need, align));
        // Budget events wait until the allocation is done and nothing is
        // borrowed: a listener may open a frame on this very arena.
        let mut events = Events::default();
        // A chunk the system just handed over, reported once the arena is
        // consistent and nothing is borrowed (a callback may open a frame).
        let mut fresh = None;
        if !reuse {
            // No borrow is held while a chunk is acquired: diagnostics sinks
            // run on the refusal path and may open a frame here too.
            let reserved = self.chunks.borrow().reserved;
            let chunk = match self.acquire_chunk(reserved, layout, limits, &mut events) {
                Ok((chunk, from_system)) => {
                    if from_system {
                        fresh = Some((chunk.start(), chunk.capacity()));
                    }
                    chunk
                }
                Err(error) => {
                    limits.emit(events);
                    return Err(reported(error));
                }
            };
            let mut list = self.chunks.borrow_mut();
            list.reserved += chunk.capacity();
            // Re-read the position: a nested frame may have moved it.
            let next = self.entered.get();
            list.chunks.insert(next, chunk);
            self.publish_holdings(&list);
        }
        let next = self.entered.get();
        let list = self.chunks.borrow();
        self.enter_chunk(&list.chunks[next], next + 1);
        drop(list);
        let result = self.bump(size, align).ok_or_else(|| {
            reported(AllocError::Internal {
                what: "a fresh frame chunk could not hold the allocation it was sized for",
            })
        });
        limits.emit(events);
        if let Some((start, capacity)) = fresh {
            limits.chunk_taken(start, capacity);
        }
        result
    }

    /// A chunk for `layout`: from the shared pool (`false`) or fresh from
    /// the system (`true`).
    fn acquire_chunk(
        &self,
        reserved: usize,
        layout: Layout,
        limits: &ArenaLimits,
        events: &mut Events,
    ) -> Result<(Chunk, bool), AllocError> {
        // The bump path rounds every size up to `MIN_ALIGN`, so every
        // comparison below uses the rounded size: a chunk sized to the raw
        // request could not hold it.
        let (need, align) = (round_to_min_align(layout.size()), layout.align());
        let room = limits.cap.saturating_sub(reserved);
        // A fresh chunk is aligned to `max(align, CHUNK_ALIGN)`, so `need`
        // bytes is all it needs.
        if need > room {
            return Err(AllocError::ArenaExhausted {
                requested: need,
                reserved,
                limit: limits.cap,
            });
        }
        if let Some(chunk) = limits.pool.take(need, align, room) {
            return Ok((chunk, false));
        }
        let growth = reserved.clamp(limits.first_chunk, MAX_GROWTH_CHUNK.max(limits.first_chunk));
        let capacity = growth.max(need).min(room);
        let chunk = limits.new_chunk(capacity, align.max(CHUNK_ALIGN), events)?;
        self.published.chunk_allocations.add(1);
        Ok((chunk, true))
    }

    fn enter_chunk(&self, chunk: &Chunk, entered: usize) {
        let used_in_previous = self.cursor.get().addr().get() - self.chunk_start.get().addr().get();
        self.bytes_before_chunk
            .set(self.bytes_before_chunk.get() + used_in_previous);
        self.cursor.set(chunk.start());
        self.end.set(chunk.end());
        self.chunk_start.set(chunk.start());
        self.floor.set(chunk.start());
        self.entered.set(entered);
    }

    fn publish_holdings(&self, list: &ChunkList) {
        self.published.reserved_bytes.set(list.reserved as u64);
        self.published.chunks_held.set(list.chunks.len() as u64);
    }

    /// Bytes handed out since the last reset (padding included).
    pub(crate) fn position(&self) -> usize {
        self.bytes_before_chunk.get()
            + (self.cursor.get().addr().get() - self.chunk_start.get().addr().get())
    }

    /// The most bytes held at once since the innermost open scope opened
    /// (or the last reset): the position now, or higher where a rewound
    /// sub-scope reached.
    pub(crate) fn high_water(&self) -> usize {
        self.scope_high_water.get().max(self.position())
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            allocations: self.allocations.get(),
            position: self.position(),
        }
    }

    /// Calls `visit` with the start and size of every chunk the arena
    /// holds (to report them freed as the allocator drops).
    pub(crate) fn for_each_chunk(&self, mut visit: impl FnMut(NonNull<u8>, usize)) {
        for chunk in &self.chunks.borrow().chunks {
            visit(chunk.start(), chunk.capacity());
        }
    }

    /// Chunks in use by the frames open on this arena.
    pub(crate) fn chunks_in_use(&self) -> usize {
        self.entered.get()
    }

    /// Whether `ptr .. ptr + size` is the most recent allocation: it ends
    /// exactly at the cursor *and* starts at or above the floor. The second
    /// test keeps the cursor in the current chunk when the global allocator
    /// placed the previous chunk right before it (a block of that chunk
    /// then also ends at the cursor), and keeps an older frame's free from
    /// moving the cursor below a newer frame's start.
    fn is_last(&self, ptr: NonNull<u8>, size: usize) -> bool {
        let addr = ptr.addr().get();
        size != 0
            && addr >= self.floor.get().addr().get()
            && addr.checked_add(round_to_min_align(size)) == Some(self.cursor.get().addr().get())
    }

    /// Whether `ptr` lies in one of this arena's chunks.
    pub(crate) fn owns(&self, ptr: NonNull<u8>) -> bool {
        let addr = ptr.addr().get();
        let inside = |start: NonNull<u8>, end: NonNull<u8>| {
            (start.addr().get()..end.addr().get()).contains(&addr)
        };
        inside(self.chunk_start.get(), self.end.get())
            || self
                .chunks
                .borrow()
                .chunks
                .iter()
                .any(|chunk| inside(chunk.start(), chunk.end()))
    }

    /// Resizes the most recent allocation where it stands, and returns the
    /// block's pointer with the chunk's provenance (which covers the new
    /// size; `ptr`'s may not). Returns `None`, changing nothing, when `ptr`
    /// is not the most recent allocation or the chunk has no room.
    ///
    /// # Safety
    ///
    /// - `ptr .. ptr + old_size` is a live block of this arena that the
    ///   caller owns (it came from this arena with that size and nothing
    ///   else uses it): resizing gives its tail, or all of it for a size of
    ///   0, back to the arena.
    pub(crate) unsafe fn resize_in_place(
        &self,
        ptr: NonNull<u8>,
        old_size: usize,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        if !self.is_last(ptr, old_size) {
            return None;
        }
        let room = self.end.get().addr().get() - ptr.addr().get();
        let rounded = round_to_min_align(new_size);
        if rounded > room {
            return None;
        }
        // `floor <= ptr` and `ptr + rounded <= end` (tested above): both
        // addresses lie in the current chunk, so moving the chunk's own
        // pointer there keeps it in bounds. `ptr` is at least the floor,
        // which is never 0.
        let chunk = self.chunk_start.get();
        let block = chunk.with_addr(ptr.addr());
        self.cursor
            .set(block.map_addr(|addr| addr.saturating_add(rounded)));
        Some(block)
    }
}

/// Rounds a `Layout` size up to [`MIN_ALIGN`]. Layout sizes are at most
/// `isize::MAX`, so this cannot overflow.
#[inline(always)]
pub(crate) const fn round_to_min_align(size: usize) -> usize {
    (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1)
}

/// A well-aligned, non-null pointer with no provenance, for zero-sized
/// allocations.
#[inline(always)]
pub(crate) fn dangling_for(align: usize) -> NonNull<u8> {
    NonNull::without_provenance(
        core::num::NonZeroUsize::new(align).unwrap_or(core::num::NonZeroUsize::MIN),
    )
}
