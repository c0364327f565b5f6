//! The frame memory of one `SmartAlloc`: every arena it ever created, the
//! idle ones waiting for a new thread, and the shared chunk pool.
//!
//! Arenas are owned here, not by thread-local storage (DESIGN.md rule 2), so
//! a `Frame` that outlives its thread's thread-local destructors still points
//! at live memory. An arena is freed only when this value is dropped, which
//! happens when the last `SmartAlloc` handle is gone; every `Frame` borrows a
//! handle, so no frame can outlive it.

use core::ptr::NonNull;
use std::sync::Mutex;

use super::arena::{Arena, ArenaLimits, Published};
use super::chunk::{ChunkPool, lock};

pub(crate) struct FrameMemory {
    pub(crate) limits: ArenaLimits,
    arenas: Mutex<ArenaSet>,
}

#[derive(Default)]
struct ArenaSet {
    /// Every arena created, from `Box::into_raw`; freed in `Drop`.
    all: Vec<NonNull<Arena>>,
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
        cap: usize,
        first_chunk: usize,
        budgets: Option<std::sync::Arc<crate::budget::BudgetManager>>,
    ) -> FrameMemory {
        FrameMemory {
            limits: ArenaLimits {
                pool: ChunkPool::default(),
                cap,
                first_chunk,
                budgets,
            },
            arenas: Mutex::default(),
        }
    }

    /// Gives the calling thread an arena no other thread is using: an idle
    /// one (warm, with its chunks) when there is one, otherwise a new one.
    pub(crate) fn adopt(&self) -> NonNull<Arena> {
        let mut set = lock(&self.arenas);
        if let Some(arena) = set.idle.pop() {
            return arena;
        }
        let arena = NonNull::from(Box::leak(Box::new(Arena::new())));
        set.all.push(arena);
        arena
    }

    /// The thread that held `arena` is done with it. With no frame open the
    /// arena becomes idle, for the next thread; with a frame still open (kept
    /// in a thread-local, or leaked) it is retired: never handed out again,
    /// freed with the rest when this `FrameMemory` drops.
    pub(crate) fn give_up(&self, arena: &Arena) {
        if arena.depth() == 0 {
            lock(&self.arenas).idle.push(NonNull::from(arena));
        }
    }

    /// Calls `visit` with the published figures of every arena.
    pub(crate) fn for_each_published(&self, mut visit: impl FnMut(&Published)) {
        let set = lock(&self.arenas);
        for arena in &set.all {
            // SAFETY: `arena` is live (freed only in `Drop`). The reference is
            // made to the `published` field alone, which holds only atomics,
            // so it does not alias the owner thread's use of the cells.
            let published = unsafe { &(*arena.as_ptr()).published };
            visit(published);
        }
    }

    /// Number of arenas created, and how many are idle.
    pub(crate) fn arena_counts(&self) -> (usize, usize) {
        let set = lock(&self.arenas);
        (set.all.len(), set.idle.len())
    }
}

impl Drop for FrameMemory {
    fn drop(&mut self) {
        let set = self
            .arenas
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for arena in set.all.drain(..) {
            // SAFETY: every pointer in `all` came from `Box::leak` in `adopt`
            // and is freed only here. `&mut self` proves no `SmartAlloc`
            // handle, and so no `Frame`, still refers to it.
            drop(unsafe { Box::from_raw(arena.as_ptr()) });
        }
    }
}
