//! Chunks: the raw blocks of memory that frame arenas bump through, and the
//! shared pool that recycles them between threads.
//!
//! A [`Chunk`] owns one allocation from the global allocator. Its metadata
//! (pointer and layout) lives out of band, in the arena's chunk list, so a
//! chunk with a 4 KiB alignment wastes no header space.

#![expect(unsafe_code, reason = "chunks are raw blocks from the global allocator")]

use core::alloc::Layout;
use core::ptr::NonNull;
use std::sync::Arc;

use crate::allocators::sync::{Mutex, lock};
use crate::budget::{BudgetManager, Events};
use crate::diagnostics::Intent;
use crate::error::AllocError;

/// Every chunk is aligned at least this much. It keeps the start of a chunk on
/// a cache line and above [`super::arena::MIN_ALIGN`].
pub(crate) const CHUNK_ALIGN: usize = 64;

/// One block of memory obtained from the global allocator.
///
/// Invariants:
/// - `base` was returned by `std::alloc::alloc(layout)` and is not freed
///   until this value is dropped;
/// - `layout.size() > 0` and `layout.align() >= CHUNK_ALIGN`.
pub(crate) struct Chunk {
    base: NonNull<u8>,
    layout: Layout,
    /// The budget this chunk's bytes are charged to, released on drop.
    budget: Option<Arc<BudgetManager>>,
    /// The tag (index; 0 for none) the charge went to.
    tag: u32,
}

// SAFETY: a chunk is a uniquely owned block of plain bytes, like `Box<[u8]>`;
// nothing in it is tied to the thread that allocated it.
unsafe impl Send for Chunk {}

impl Chunk {
    /// Allocates a chunk of at least `capacity` bytes aligned to at least
    /// `align`, whose bytes are charged to `budget` (released on drop; the
    /// caller charged them). Returns `None` when the layout is impossible or
    /// the global allocator refuses.
    pub(crate) fn allocate(
        capacity: usize,
        align: usize,
        budget: Option<Arc<BudgetManager>>,
    ) -> Option<Chunk> {
        Chunk::allocate_for_tag(capacity, align, budget, 0)
    }

    /// [`allocate`](Self::allocate) for memory charged to the tag with
    /// index `tag` as well as to the global budget.
    pub(crate) fn allocate_for_tag(
        capacity: usize,
        align: usize,
        budget: Option<Arc<BudgetManager>>,
        tag: u32,
    ) -> Option<Chunk> {
        let layout = Layout::from_size_align(capacity.max(1), align.max(CHUNK_ALIGN)).ok()?;
        // SAFETY: `layout` has a non-zero size (`max(1)` above).
        let raw = unsafe { std::alloc::alloc(layout) };
        NonNull::new(raw).map(|base| Chunk {
            base,
            layout,
            budget,
            tag,
        })
    }

    /// First byte of the chunk, carrying the allocation's provenance.
    #[inline]
    pub(crate) fn start(&self) -> NonNull<u8> {
        self.base
    }

    /// One past the last byte of the chunk.
    #[inline]
    pub(crate) fn end(&self) -> NonNull<u8> {
        // SAFETY: `base .. base + layout.size()` is the allocated block, so the
        // one-past-the-end pointer is in bounds of the same allocation.
        unsafe { self.base.add(self.layout.size()) }
    }

    /// The chunk's alignment.
    pub(crate) fn align(&self) -> usize {
        self.layout.align()
    }

    /// Usable bytes.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// Whether a block of `size` bytes aligned to `align` fits in a fresh
    /// (empty) chunk like this one.
    pub(crate) fn fits(&self, size: usize, align: usize) -> bool {
        let padding = if align <= self.layout.align() {
            0
        } else {
            align - self.layout.align()
        };
        size.checked_add(padding)
            .is_some_and(|need| need <= self.capacity())
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `base` came from `alloc(layout)` (type invariant) and is
        // freed exactly once, here.
        unsafe { std::alloc::dealloc(self.base.as_ptr(), self.layout) }
        if let Some(budget) = &self.budget {
            budget.release(self.tag, self.layout.size());
        }
    }
}

/// A chunk for a group or a handle allocator: charged to `budget` (when
/// budgets are on) under the tag with index `tag` before the system is
/// asked, the charge counting once the memory exists; the budget's events
/// are delivered before this returns (nothing is locked here).
pub(crate) fn charged_chunk(
    budget: Option<&Arc<BudgetManager>>,
    tag: u32,
    capacity: usize,
    align: usize,
) -> Result<Chunk, AllocError> {
    let mut events = Events::default();
    let reservation = match budget {
        Some(budgets) => match budgets.reserve(tag, capacity, &mut events) {
            Ok(reservation) => Some(reservation),
            Err(error) => {
                budgets.emit_all(events);
                return Err(error);
            }
        },
        None => None,
    };
    let chunk = Chunk::allocate_for_tag(capacity, align, budget.cloned(), tag);
    if let (Some(budgets), Some(reservation)) = (budget, reservation) {
        match &chunk {
            Some(_) => budgets.commit(reservation, &mut events),
            None => budgets.cancel(reservation),
        }
        budgets.emit_all(events);
    }
    chunk.ok_or(AllocError::OutOfMemory {
        requested: capacity,
    })
}

/// How an arena may grow: where spare chunks come from and how far it may go.
/// One per `SmartAlloc`, shared by all of its arenas.
pub(crate) struct ArenaLimits {
    pub(crate) pool: ChunkPool,
    /// Bytes of chunks one arena may hold (`AllocConfig::frame_arena_size`).
    pub(crate) cap: usize,
    /// Size of an arena's first chunk (`AllocConfig::frame_chunk_size`).
    pub(crate) first_chunk: usize,
    /// Meters chunks taken from the system, when budgets are on.
    pub(crate) budgets: Option<Arc<BudgetManager>>,
    /// Hears of chunk growth and resets.
    pub(crate) observer: Arc<crate::diagnostics::Observer>,
    /// `observer.watches_frames()`, read once: whether chunks and resets
    /// are reported (and, with `debug`, reset memory poisoned). A frame's
    /// end tests it, so with nothing watching that costs one predictable
    /// branch and no call.
    pub(crate) watching: bool,
}

impl ArenaLimits {
    /// A chunk from the global allocator, charged to the global budget when
    /// budgets are on. The charge counts (and raises the peak) only once
    /// the system has handed the memory over; the events go to `events`.
    pub(super) fn new_chunk(
        &self,
        capacity: usize,
        align: usize,
        events: &mut Events,
    ) -> Result<Chunk, AllocError> {
        let reservation = match &self.budgets {
            Some(budgets) => Some(budgets.reserve(0, capacity, events)?),
            None => None,
        };
        match Chunk::allocate(capacity, align, self.budgets.clone()) {
            Some(chunk) => {
                if let (Some(budgets), Some(reservation)) = (&self.budgets, reservation) {
                    budgets.commit(reservation, events);
                }
                Ok(chunk)
            }
            None => {
                if let (Some(budgets), Some(reservation)) = (&self.budgets, reservation) {
                    budgets.cancel(reservation);
                }
                Err(AllocError::OutOfMemory {
                    requested: capacity,
                })
            }
        }
    }

    /// Reports a chunk the system just handed to an arena, when watched.
    ///
    /// Frame chunks are reported as the system memory they are: `Alloc`
    /// when the global allocator hands one over, `Free` when it goes back
    /// (a merge at a reset, [`SmartAlloc::trim`](crate::SmartAlloc::trim),
    /// the allocator's drop). Moving through the shared chunk pool from one
    /// arena to another is not an event: the chunk stays the allocator's
    /// frame memory, so every `Alloc` has exactly one `Free`.
    #[cold]
    pub(super) fn chunk_taken(&self, start: NonNull<u8>, capacity: usize) {
        if self.watching {
            self.observer
                .alloc(start.as_ptr(), capacity, Intent::Frame, 0, None);
        }
    }

    /// Reports `chunks` freed, when watched, and frees them (each `Free`
    /// comes before its memory goes back to the system).
    #[cold]
    pub(super) fn free_chunks(&self, chunks: impl IntoIterator<Item = Chunk>) {
        for chunk in chunks {
            self.chunk_given_back(chunk.start(), chunk.capacity());
            drop(chunk);
        }
    }

    /// Reports a chunk about to go back to the system, when watched.
    pub(super) fn chunk_given_back(&self, start: NonNull<u8>, capacity: usize) {
        if self.watching {
            self.observer.free(start.as_ptr(), capacity, Intent::Frame);
        }
    }

    /// Delivers budget events decided on the way; only where no arena is
    /// borrowed.
    pub(super) fn emit(&self, events: Events) {
        if let Some(budgets) = &self.budgets {
            budgets.emit_all(events);
        }
    }
}

/// Free chunks shared by every arena of one `SmartAlloc`.
///
/// The lock is taken only on an arena's slow path (a chunk is full) and when
/// an arena gives back chunks it did not need last frame.
#[derive(Default)]
pub(crate) struct ChunkPool {
    free: Mutex<Vec<Chunk>>,
}

impl ChunkPool {
    /// Takes a free chunk that can hold `size` bytes aligned to `align` and
    /// is no larger than `max_capacity`, preferring the smallest such chunk.
    pub(crate) fn take(&self, size: usize, align: usize, max_capacity: usize) -> Option<Chunk> {
        let mut free = lock(&self.free);
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, chunk)| chunk.capacity() <= max_capacity && chunk.fits(size, align))
            .min_by_key(|(_, chunk)| chunk.capacity())
            .map(|(index, _)| index)?;
        Some(free.swap_remove(best))
    }

    /// Returns chunks to the pool for other arenas to reuse.
    pub(crate) fn give_back(&self, chunks: impl IntoIterator<Item = Chunk>) {
        lock(&self.free).extend(chunks);
    }

    /// Takes every pooled chunk out (to be freed by the caller, outside
    /// the lock).
    pub(crate) fn take_all(&self) -> Vec<Chunk> {
        core::mem::take(&mut *lock(&self.free))
    }

    /// Number and total bytes of the pooled chunks.
    pub(crate) fn totals(&self) -> (usize, usize) {
        let free = lock(&self.free);
        (free.len(), free.iter().map(Chunk::capacity).sum())
    }
}
