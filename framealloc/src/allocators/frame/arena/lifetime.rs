//! When an arena's memory dies: the frames and sub-scopes that hold it,
//! and the reset and rewind that the end of a frame or scope decides on.
//! Frames only say that they begin and end; everything that decides is
//! private to this file.
#![expect(unsafe_code, reason = "the reset and rewind move the cursor back to saved positions")]

use core::ptr::NonNull;

use super::super::chunk::{ArenaLimits, CHUNK_ALIGN, Chunk};
use super::{Arena, Mark};
#[cfg(feature = "debug")]
use crate::allocators::poison::freed;
use crate::budget::Events;

/// A root frame's hold on its arena: made by [`Arena::begin`], shown to
/// [`Arena::end`] when the frame ends. Neither `Clone` nor `Copy`, and made
/// nowhere else, so it proves that a frame began.
pub(crate) struct FrameHold {
    start: Mark,
}

impl FrameHold {
    /// Where the frame began.
    pub(crate) fn start(&self) -> Mark {
        self.start
    }
}

/// A sub-scope's hold on its arena: made by [`Arena::open_scope`], shown
/// to [`Arena::close_scope`] when the scope closes.
pub(crate) struct ScopeHold {
    checkpoint: Checkpoint,
    frames_begun: u64,
    may_rewind: bool,
    start: Mark,
    /// The arena's `scope_high_water` when the scope opened, restored (and
    /// raised to the scope's own peak) when it closes.
    outer_high_water: usize,
}

impl ScopeHold {
    /// Where the scope began.
    pub(crate) fn start(&self) -> Mark {
        self.start
    }
}

/// Where a sub-scope rewinds to.
#[derive(Clone, Copy)]
struct Checkpoint {
    entered: usize,
    cursor: NonNull<u8>,
    bytes_before_chunk: usize,
}

// SAFETY: a checkpoint is a position, never dereferenced; only the arena's
// owner thread turns it back into a cursor. Being `Send`/`Sync` keeps it out
// of the compiler's explanation of why a `Frame` is not.
unsafe impl Send for Checkpoint {}
// SAFETY: as above.
unsafe impl Sync for Checkpoint {}

impl Arena {
    /// A root frame begins on this arena. What older frames allocated can
    /// no longer be given back in place (the floor rises to the cursor), so
    /// the new frame's memory and figures start here for good.
    pub(crate) fn begin(&self) -> FrameHold {
        self.floor.set(self.cursor.get());
        self.depth.set(self.depth.get() + 1);
        self.frames_begun.set(self.frames_begun.get() + 1);
        FrameHold { start: self.mark() }
    }

    /// The root frame that `hold` came from ends. When it was the last
    /// frame open on the arena, the arena resets: its memory is reused by
    /// the next frame.
    pub(crate) fn end(&self, hold: &FrameHold, limits: &ArenaLimits) {
        let _ = hold;
        let Some(depth) = self.depth.get().checked_sub(1) else {
            // Every `FrameHold` comes from `begin` and is consumed once here,
            // so this cannot happen; resetting could free memory a frame
            // still uses, so keep the memory and say so.
            crate::diagnostics::report(
                "FA901",
                format_args!("a frame ended on an arena with no frame open"),
            );
            return;
        };
        self.depth.set(depth);
        if depth == 0 {
            self.reset(limits);
        }
    }

    /// A sub-scope opens inside one of the arena's frames. Like `begin`, it
    /// raises the floor to the cursor.
    pub(crate) fn open_scope(&self) -> ScopeHold {
        self.floor.set(self.cursor.get());
        ScopeHold {
            checkpoint: Checkpoint {
                entered: self.entered.get(),
                cursor: self.cursor.get(),
                bytes_before_chunk: self.bytes_before_chunk.get(),
            },
            frames_begun: self.frames_begun.get(),
            may_rewind: self.depth.get() == 1,
            start: self.mark(),
            outer_high_water: self.scope_high_water.replace(0),
        }
    }

    /// The sub-scope `hold` came from closes. Its memory is given back
    /// (rewound) only if nothing else could have allocated after it: no
    /// other root frame was open on the arena when it opened, and none began
    /// since. Otherwise the memory stays until the outermost frame ends.
    pub(crate) fn close_scope(&self, hold: &ScopeHold) {
        // The scope's peak: where it (or a sub-scope it gave back) reached.
        let peak = self.high_water();
        if hold.may_rewind && self.frames_begun.get() == hold.frames_begun {
            #[cfg(feature = "debug")]
            self.poison_since(hold.checkpoint);
            self.rewind(hold.checkpoint);
            // Counted as the frame's peak (`FrameStats::peak_frame_bytes`)
            // although the position drops back now.
            self.published.peak_frame_bytes.raise_to(peak as u64);
        }
        self.scope_high_water.set(hold.outer_high_water.max(peak));
    }

    /// Whether no frame is open on the arena.
    pub(crate) fn is_idle(&self) -> bool {
        self.depth.get() == 0
    }

    /// Outermost frames ended on this arena, and whether one is open.
    pub(crate) fn frames(&self) -> (u64, bool) {
        (self.published.frames_completed.get(), self.depth.get() > 0)
    }

    /// Gives back everything allocated since `checkpoint`, which was taken
    /// on this arena by `open_scope` with nothing allocated by another frame
    /// since (`close_scope` checks).
    fn rewind(&self, checkpoint: Checkpoint) {
        let list = self.chunks.borrow();
        match checkpoint
            .entered
            .checked_sub(1)
            .and_then(|index| list.chunks.get(index))
        {
            Some(chunk) => {
                self.end.set(chunk.end());
                self.chunk_start.set(chunk.start());
            }
            None => {
                self.end.set(checkpoint.cursor);
                self.chunk_start.set(checkpoint.cursor);
            }
        }
        self.cursor.set(checkpoint.cursor);
        self.floor.set(checkpoint.cursor);
        self.entered.set(checkpoint.entered);
        self.bytes_before_chunk.set(checkpoint.bytes_before_chunk);
    }

    /// Ends the outermost frame: publishes its figures, keeps enough chunks
    /// for the larger of this frame's and the previous frame's use, gives the
    /// rest to the shared pool, and moves the cursor back to the first chunk.
    fn reset(&self, limits: &ArenaLimits) {
        debug_assert_eq!(self.depth.get(), 0);
        let bytes = self.position();
        let allocations = self.allocations.get() - self.allocations_at_reset.get();
        self.allocations_at_reset.set(self.allocations.get());
        let published = &self.published;
        published.frames_completed.add(1);
        published.allocations.add(allocations);
        published.bytes.add(bytes as u64);
        published.peak_frame_bytes.raise_to(bytes as u64);
        self.scope_high_water.set(0);

        // With `debug`, before any chunk moves or goes back: everything the
        // frame used reads 0xDD from now on.
        #[cfg(feature = "debug")]
        self.poison_frame();
        let used = self.entered.get();
        if used > 1 {
            self.reset_merging(used, limits);
        } else {
            self.rewind_to_first_chunk(used, limits);
        }
        // Last, with the arena reset and nothing borrowed: a callback may
        // open a frame here. One predictable branch when nothing watches.
        if limits.watching {
            limits.observer.frame_reset(self.index, bytes);
        }
    }

    /// The rest of [`reset`](Self::reset) for a frame that used several
    /// chunks: they are merged into one first. The merged chunk is made
    /// before the list is borrowed, and its budget events wait until the
    /// arena is reset: a listener may open a frame on this arena, and it
    /// must find the arena borrowed by no one and in a consistent state.
    ///
    /// Neither `#[cold]` nor `#[inline(never)]`: with both, every frame that
    /// allocated was about 65 ns slower on the benchmark machine (64 u64s per
    /// frame: 150 ns against 84), and with `#[inline(never)]` alone still
    /// 20 ns slower, for the same instructions. Left to the compiler, a
    /// frame of 64 allocations costs what it did before the split, and an
    /// empty frame 6 instructions more than with it (BENCHMARKS.md).
    ///
    /// When watched, the old chunks are kept (in a `Vec`, the one system
    /// allocation watching adds here) until the arena is reset, then
    /// reported freed and freed, after the merged chunk's `Alloc`.
    fn reset_merging(&self, used: usize, limits: &ArenaLimits) {
        let mut events = Events::default();
        let merged = self.merged_chunk(used, limits, &mut events);
        let mut old = Vec::new();
        let (used, fresh) = match merged {
            Some(chunk) => {
                let fresh = (chunk.start(), chunk.capacity());
                let mut list = self.chunks.borrow_mut();
                let replaced = list.chunks.splice(..used, [chunk]);
                if limits.watching {
                    old.extend(replaced);
                } else {
                    // The old chunks are freed here (and their budget released).
                    drop(replaced);
                }
                list.reserved = list.chunks.iter().map(Chunk::capacity).sum();
                self.publish_holdings(&list);
                (1, Some(fresh))
            }
            None => (used, None),
        };
        self.rewind_to_first_chunk(used, limits);
        limits.emit(events);
        if let Some((start, capacity)) = fresh {
            limits.chunk_taken(start, capacity);
            limits.free_chunks(old);
        }
    }

    /// Keeps enough chunks for the larger of this frame's use (`used`
    /// chunks) and the previous frame's, gives the rest to the shared pool,
    /// and moves the cursor to the start of the first chunk.
    #[inline(always)]
    fn rewind_to_first_chunk(&self, used: usize, limits: &ArenaLimits) {
        let mut list = self.chunks.borrow_mut();
        let keep = used.max(list.used_last_frame);
        list.used_last_frame = used;
        if list.chunks.len() > keep {
            let spare: Vec<Chunk> = list.chunks.drain(keep..).collect();
            list.reserved -= spare.iter().map(Chunk::capacity).sum::<usize>();
            limits.pool.give_back(spare);
            self.publish_holdings(&list);
        }
        self.bytes_before_chunk.set(0);
        match list.chunks.first() {
            Some(first) => {
                self.cursor.set(first.start());
                self.end.set(first.end());
                self.chunk_start.set(first.start());
                self.floor.set(first.start());
                self.entered.set(1);
            }
            None => self.entered.set(0),
        }
    }

    /// One chunk as large as the first `used` chunks together, so the next
    /// frame of the same size runs in a single chunk: no chunk changes, and
    /// a growing `Vec` stays in place. Best effort: `None` on a budget
    /// refusal or allocation failure, and the chunks then stay as they are.
    fn merged_chunk(
        &self,
        used: usize,
        limits: &ArenaLimits,
        events: &mut Events,
    ) -> Option<Chunk> {
        let (total, align) = {
            let list = self.chunks.borrow();
            let merged = &list.chunks[..used];
            let total: usize = merged.iter().map(Chunk::capacity).sum();
            let align = merged.iter().map(Chunk::align).max().unwrap_or(CHUNK_ALIGN);
            (total, align)
        };
        let chunk = limits.new_chunk(total, align, events).ok()?;
        self.published.chunk_allocations.add(1);
        Some(chunk)
    }
}

/// Poisoning with the `debug` feature: memory a frame or scope gave back
/// reads [`FREED_BYTE`](crate::diagnostics::FREED_BYTE).
#[cfg(feature = "debug")]
impl Arena {
    /// Fills what the ending outermost frame used: every chunk it left
    /// (their tops are not kept: whole, the unused tails with them) and the
    /// current chunk up to the cursor.
    fn poison_frame(&self) {
        let Some(current) = self.entered.get().checked_sub(1) else {
            return;
        };
        let list = self.chunks.borrow();
        for chunk in &list.chunks[..current] {
            // SAFETY: a chunk the arena owns; no frame is open on it (the
            // reset runs at depth 0) and every frame allocation borrows a
            // frame, so nothing uses these bytes.
            unsafe { freed(chunk.start(), chunk.capacity()) };
        }
        // SAFETY: as above, for `chunk_start .. cursor` of the current chunk.
        unsafe { poison_range(self.chunk_start.get(), self.cursor.get()) };
    }

    /// Fills what a closing sub-scope used: from its checkpoint to the
    /// cursor, across the chunks it entered.
    fn poison_since(&self, checkpoint: Checkpoint) {
        let entered = self.entered.get();
        let Some(current) = entered.checked_sub(1) else {
            return;
        };
        if entered == checkpoint.entered {
            // SAFETY: the scope's memory in the current chunk: it is closing,
            // and what it handed out borrowed it, so nothing uses the bytes
            // (no other frame began since it opened: `close_scope` checked).
            unsafe { poison_range(checkpoint.cursor, self.cursor.get()) };
            return;
        }
        let list = self.chunks.borrow();
        if let Some(first) = checkpoint
            .entered
            .checked_sub(1)
            .and_then(|index| list.chunks.get(index))
        {
            // SAFETY: as above, for the rest of the chunk the scope opened in.
            unsafe { poison_range(checkpoint.cursor, first.end()) };
        }
        for chunk in &list.chunks[checkpoint.entered..current] {
            // SAFETY: as above: chunks the scope moved through, whole.
            unsafe { freed(chunk.start(), chunk.capacity()) };
        }
        // SAFETY: as above, for the current chunk up to the cursor.
        unsafe { poison_range(self.chunk_start.get(), self.cursor.get()) };
    }
}

/// Fills `start .. end` with [`FREED_BYTE`](crate::diagnostics::FREED_BYTE).
///
/// # Safety
///
/// - `start <= end`, both in (or one past) one chunk, with `start`
///   carrying that chunk's provenance;
/// - nothing uses those bytes.
#[cfg(feature = "debug")]
unsafe fn poison_range(start: NonNull<u8>, end: NonNull<u8>) {
    let len = end.addr().get().saturating_sub(start.addr().get());
    // SAFETY: forwarded from the caller.
    unsafe { freed(start, len) };
}

#[cfg(test)]
mod tests {
    use super::{Arena, ArenaLimits};
    use crate::allocators::frame::chunk::ChunkPool;
    use crate::diagnostics::Capture;

    #[test]
    fn a_frame_ended_twice_reports_fa901_and_resets_nothing() {
        let limits = ArenaLimits {
            pool: ChunkPool::default(),
            cap: 1 << 20,
            first_chunk: 1024,
            budgets: None,
            observer: crate::diagnostics::Observer::detached(),
            watching: false,
        };
        let arena = Arena::new(0);
        let outer = arena.begin();
        let inner = arena.begin();
        arena.end(&inner, &limits);
        assert!(!arena.is_idle());
        assert_eq!(arena.frames(), (0, true), "an inner end resets nothing");
        arena.end(&outer, &limits);
        assert_eq!(arena.frames(), (1, false), "the outermost end resets");
        // A hold ended on an arena with no frame open: impossible through
        // `Frame`, and still no reset.
        let stray = arena.begin();
        arena.depth.set(0);
        let capture = Capture::start();
        arena.end(&stray, &limits);
        let seen = capture.finish();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].code, "FA901");
        assert_eq!(arena.frames(), (1, false), "no reset");
    }
}
