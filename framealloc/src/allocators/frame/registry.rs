//! The frame memory of one `SmartAlloc`: every arena it ever created, the
//! idle ones waiting for a new thread, and the shared chunk pool.
//!
//! Arenas are owned here, not by thread-local storage, so a `Frame` that
//! outlives its thread's thread-local destructors still points at live
//! memory. An arena is freed only when this value is dropped, which happens
//! when the last `SmartAlloc` handle is gone; every `Frame` borrows a
//! handle, so no frame can outlive it.
//!
//! An arena's life: created by `adopt` for a thread, *leased* to that thread
//! (only it touches the arena's cells); when the thread exits with no frame
//! open it becomes *idle* (`give_up`, under the lock) and the next new
//! thread adopts it, warm; when the thread exits with a frame still open
//! (kept in a thread-local, or leaked) it is *retired*: never handed out
//! again, freed with the rest.
#![expect(unsafe_code, reason = "arenas are owned through raw pointers, one thread at a time")]

use core::ptr::NonNull;
use std::thread::{self, Thread};

use super::arena::{Arena, Published};
use super::chunk::{ArenaLimits, ChunkPool};
use crate::allocators::sync::{Mutex, get_mut, lock};

pub(crate) struct FrameMemory {
    /// The allocator's id: unique for the life of the process.
    pub(crate) id: u64,
    pub(crate) limits: ArenaLimits,
    arenas: Mutex<ArenaSet>,
}

/// The frame figures of one allocator, across its arenas.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FramesReport {
    pub(crate) frames_completed: u64,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
    pub(crate) peak_frame_bytes: u64,
    pub(crate) reserved_bytes: u64,
    pub(crate) chunks_held: u64,
    pub(crate) chunk_allocations: u64,
    pub(crate) pooled_chunks: usize,
    pub(crate) pooled_bytes: usize,
    pub(crate) arenas: usize,
    pub(crate) idle_arenas: usize,
}

/// The figures of one arena, and the thread that holds it now.
#[derive(Clone, Debug)]
pub(crate) struct ArenaReport {
    /// Its position among the allocator's arenas: stable for its life.
    pub(crate) index: usize,
    /// The thread holding it, or `None` while it is idle.
    pub(crate) holder: Option<Thread>,
    pub(crate) frames_completed: u64,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
    pub(crate) peak_frame_bytes: u64,
    pub(crate) reserved_bytes: u64,
    pub(crate) chunk_allocations: u64,
}

#[derive(Default)]
struct ArenaSet {
    /// Every arena created, from `Box::into_raw`; freed in `Drop`.
    all: Vec<NonNull<Arena>>,
    /// `holders[i]` is the thread holding `all[i]`, if any: set when a
    /// thread adopts the arena, cleared when it gives it up.
    holders: Vec<Option<Thread>>,
    /// Arenas whose thread exited with no frame open, ready for a new thread.
    idle: Vec<NonNull<Arena>>,
}

// SAFETY: `FrameMemory` hands each arena to one thread at a time (`adopt`
// removes it from `idle` under the lock; `give_up` puts it back under the
// lock), so the arenas' non-atomic cells are never used by two threads at
// once, and the mutex orders one owner's writes before the next owner's
// reads. Other threads only read the `Published` atomics.
unsafe impl Send for FrameMemory {}
// SAFETY: as above; every shared-access method either takes the lock or reads
// atomics.
unsafe impl Sync for FrameMemory {}

impl FrameMemory {
    pub(crate) fn new(
        id: u64,
        cap: usize,
        first_chunk: usize,
        budgets: Option<std::sync::Arc<crate::budget::BudgetManager>>,
        observer: std::sync::Arc<crate::diagnostics::Observer>,
    ) -> FrameMemory {
        FrameMemory {
            id,
            limits: ArenaLimits {
                pool: ChunkPool::default(),
                cap,
                first_chunk,
                budgets,
                watching: observer.watches_frames(),
                observer,
            },
            arenas: Mutex::default(),
        }
    }

    /// Gives the calling thread an arena no other thread is using: an idle
    /// one (warm, with its chunks) when there is one, otherwise a new one.
    pub(crate) fn adopt(&self) -> NonNull<Arena> {
        // Taken before the lock: the handle is what the per-arena figures
        // name the holder by.
        let holder = thread::current();
        let mut set = lock(&self.arenas);
        if let Some(arena) = set.idle.pop() {
            set.set_holder(arena, Some(holder));
            return arena;
        }
        let arena = NonNull::from(Box::leak(Box::new(Arena::new(set.all.len()))));
        set.all.push(arena);
        set.holders.push(Some(holder));
        arena
    }

    /// The thread that held `arena` is done with it. With no frame open the
    /// arena becomes idle, for the next thread; with a frame still open (kept
    /// in a thread-local, or leaked) it is retired: never handed out again,
    /// freed with the rest when this `FrameMemory` drops.
    ///
    /// # Safety
    ///
    /// - `arena` is one of this registry's, adopted by the calling thread,
    ///   and the thread does not use it afterwards (another thread may adopt
    ///   it as soon as this returns).
    pub(crate) unsafe fn give_up(&self, arena: &Arena) {
        let arena_ptr = NonNull::from(arena);
        let mut set = lock(&self.arenas);
        set.set_holder(arena_ptr, None);
        if arena.is_idle() {
            set.idle.push(arena_ptr);
        }
    }

    /// Each arena's figures and holder, in creation order.
    pub(crate) fn arena_reports(&self) -> Vec<ArenaReport> {
        let mut reports = Vec::new();
        self.for_each_arena(|report| reports.push(report));
        reports
    }

    /// Calls `visit` with each arena's figures, in creation order, without
    /// allocating (the Bevy plugin does this every frame). `visit` runs
    /// under the registry's lock, so it must not open frames.
    pub(crate) fn for_each_arena(&self, mut visit: impl FnMut(ArenaReport)) {
        let set = lock(&self.arenas);
        for (index, (arena, holder)) in set.all.iter().zip(&set.holders).enumerate() {
            // SAFETY: as in `report`: the arena is live, and only its atomic
            // `published` field is referenced.
            let published: &Published = unsafe { &(*arena.as_ptr()).published };
            visit(ArenaReport {
                index,
                holder: holder.clone(),
                frames_completed: published.frames_completed.get(),
                allocations: published.allocations.get(),
                bytes: published.bytes.get(),
                peak_frame_bytes: published.peak_frame_bytes.get(),
                reserved_bytes: published.reserved_bytes.get(),
                chunk_allocations: published.chunk_allocations.get(),
            });
        }
    }

    /// The figures of every arena, summed, and of the chunk pool.
    pub(crate) fn report(&self) -> FramesReport {
        let mut report = FramesReport::default();
        {
            let set = lock(&self.arenas);
            for arena in &set.all {
                // SAFETY: `arena` is live (freed only in `Drop`). The reference
                // is made to the `published` field alone, which holds only
                // atomics, so it does not alias the owner thread's use of the
                // cells.
                let published: &Published = unsafe { &(*arena.as_ptr()).published };
                report.frames_completed += published.frames_completed.get();
                report.allocations += published.allocations.get();
                report.bytes += published.bytes.get();
                report.peak_frame_bytes = report
                    .peak_frame_bytes
                    .max(published.peak_frame_bytes.get());
                report.reserved_bytes += published.reserved_bytes.get();
                report.chunks_held += published.chunks_held.get();
                report.chunk_allocations += published.chunk_allocations.get();
            }
            (report.arenas, report.idle_arenas) = (set.all.len(), set.idle.len());
        }
        (report.pooled_chunks, report.pooled_bytes) = self.limits.pool.totals();
        report
    }

    /// Gives the spare chunks of the shared pool back to the global
    /// allocator; returns the bytes given back.
    pub(crate) fn release_pooled_chunks(&self) -> usize {
        let drained = self.limits.pool.take_all();
        let bytes = drained.iter().map(super::chunk::Chunk::capacity).sum();
        self.limits.free_chunks(drained);
        bytes
    }
}

impl ArenaSet {
    fn set_holder(&mut self, arena: NonNull<Arena>, holder: Option<Thread>) {
        if let Some(index) = self.all.iter().position(|&known| known == arena) {
            self.holders[index] = holder;
        }
    }
}

impl Drop for FrameMemory {
    fn drop(&mut self) {
        let set = get_mut(&mut self.arenas);
        let limits = &self.limits;
        for arena in set.all.drain(..) {
            if limits.watching {
                // SAFETY: as below: the arena is live, and no frame (so no
                // other user of it) remains.
                let owned = unsafe { arena.as_ref() };
                owned.for_each_chunk(|start, capacity| limits.chunk_given_back(start, capacity));
            }
            // SAFETY: every pointer in `all` came from `Box::leak` in `adopt`
            // and is freed only here. `&mut self` proves no `SmartAlloc`
            // handle, and so no `Frame`, still refers to it.
            drop(unsafe { Box::from_raw(arena.as_ptr()) });
        }
        // The pooled chunks would go with `limits`; freed here, they are
        // reported too, so every chunk's `Alloc` has its `Free`.
        self.release_pooled_chunks();
    }
}
