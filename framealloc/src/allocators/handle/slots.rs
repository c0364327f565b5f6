//! The slot table: which handle names which block, and each slot's
//! generation, pins and free-list link.
//!
//! A slot is *live* (its stamp matches the handle that names its value),
//! *free* (stamp 0, on the free list, its generation already advanced) or
//! *retired* (stamp 0, off the free list for good: its generation would
//! wrap, and a wrapped generation would let a stale handle match again).

use core::alloc::Layout;
use core::ptr::NonNull;

use super::key::{MAX_GENERATION, MAX_SLOTS, RawHandle, stamp};
use crate::error::AllocError;

/// What `get` reads: kept apart from the rest so a lookup touches 16
/// bytes.
#[derive(Clone, Copy)]
pub(crate) struct Hot {
    /// The value's address while live; dangling otherwise.
    pub(crate) ptr: NonNull<u8>,
    /// The stamp of the live value's handle; 0 when not live.
    pub(crate) stamp: u64,
}

/// What allocation, freeing and defragmentation read.
#[derive(Clone, Copy)]
pub(crate) struct Cold {
    /// The value's layout while live.
    pub(crate) layout: Layout,
    /// Which chunk holds the value (an index into the heap's chunk list).
    pub(crate) chunk: u32,
    /// Nested pins; a pinned value never moves.
    pub(crate) pins: u32,
    /// The slot's current (live) or next (free) generation.
    pub(crate) generation: u32,
}

pub(crate) struct Slots {
    pub(crate) allocator: u64,
    pub(crate) hot: Vec<Hot>,
    pub(crate) cold: Vec<Cold>,
    /// Free slots, most recently freed last.
    free: Vec<u32>,
    pub(crate) retired: usize,
    pub(crate) live: usize,
}

/// Why a handle does not resolve, for FA401.
pub(crate) fn why_invalid(slots: &Slots, handle: RawHandle) -> &'static str {
    if handle.allocator() != slots.allocator {
        return "was made by another allocator";
    }
    match slots.cold.get(handle.index() as usize) {
        None => "names a slot this allocator never had",
        Some(cold) if cold.generation > handle.generation() => {
            "names a value that was freed (its slot has moved on)"
        }
        Some(_) => "names a value that was freed",
    }
}

impl Slots {
    pub(crate) fn new(allocator: u64) -> Slots {
        Slots {
            allocator,
            hot: Vec::new(),
            cold: Vec::new(),
            free: Vec::new(),
            retired: 0,
            live: 0,
        }
    }

    /// The live slot `handle` names, if it still names one.
    #[inline(always)]
    pub(crate) fn find(&self, handle: RawHandle) -> Option<usize> {
        let index = handle.index() as usize;
        let hot = self.hot.get(index)?;
        (hot.stamp == handle.stamp()).then_some(index)
    }

    /// Takes a free slot (or a new one) for a value at `ptr` and returns
    /// the handle that names it.
    #[inline]
    pub(crate) fn occupy(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        chunk: u32,
    ) -> Result<RawHandle, AllocError> {
        let index = match self.free.pop() {
            Some(index) => index as usize,
            None => {
                let index = self.hot.len();
                if index >= MAX_SLOTS {
                    return Err(AllocError::HandleSlotsExhausted { slots: index });
                }
                self.hot.push(Hot {
                    ptr: NonNull::dangling(),
                    stamp: 0,
                });
                self.cold.push(Cold {
                    layout,
                    chunk: 0,
                    pins: 0,
                    generation: 0,
                });
                index
            }
        };
        let generation = self.cold[index].generation;
        let stamp = stamp(self.allocator, generation);
        self.hot[index] = Hot { ptr, stamp };
        self.cold[index] = Cold {
            layout,
            chunk,
            pins: 0,
            generation,
        };
        self.live += 1;
        Ok(RawHandle::new(index as u32, stamp))
    }

    /// Whether [`occupy`](Self::occupy) can succeed: checked before the
    /// value's memory is taken.
    pub(crate) fn has_room(&self) -> bool {
        !self.free.is_empty() || self.hot.len() < MAX_SLOTS
    }

    /// Empties live slot `index`: its handle stops resolving, and the slot
    /// goes back on the free list with its next generation, or retires.
    pub(crate) fn vacate(&mut self, index: usize) {
        self.hot[index] = Hot {
            ptr: NonNull::dangling(),
            stamp: 0,
        };
        let cold = &mut self.cold[index];
        cold.pins = 0;
        self.live -= 1;
        if cold.generation >= MAX_GENERATION {
            self.retired += 1;
        } else {
            cold.generation += 1;
            self.free.push(index as u32);
        }
    }

    /// Slots waiting on the free list.
    pub(crate) fn free_slots(&self) -> usize {
        self.free.len()
    }

    /// Test support: jumps slot `index`'s next generation to `generation`
    /// (the slot must be free), so the retirement at the generation limit
    /// can be reached without 2^20 frees.
    pub(crate) fn set_free_generation(&mut self, index: usize, generation: u32) -> bool {
        let free = self.hot.get(index).is_some_and(|hot| hot.stamp == 0)
            && self.free.contains(&(index as u32));
        if free {
            self.cold[index].generation = generation.min(MAX_GENERATION);
        }
        free
    }
}
