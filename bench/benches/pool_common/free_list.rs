//! The floor for a pool pair: an intrusive LIFO free list in a plain
//! struct, with no thread-local lookup, no counting and no ownership test.
//! Not a usable allocator (single-threaded, never gives memory back before
//! drop): it shows what the harness itself and the value's move cost on
//! this machine, so framealloc's figures can be read against it.

use std::mem::{ManuallyDrop, MaybeUninit};
use std::ptr::{self, NonNull};

use super::Pool;

/// A free slot's link, or a live value.
union Slot<T> {
    next: *mut Slot<T>,
    #[allow(dead_code, reason = "gives the slot `T`'s size and alignment; written through a cast")]
    value: ManuallyDrop<MaybeUninit<T>>,
}

/// Slots per chunk (one chunk is carved at a time, all at once).
const CHUNK: usize = 4096;

/// The free-list floor: `insert` pops a slot and moves the value in,
/// `remove` pushes the slot back.
pub struct FreeList<T> {
    head: *mut Slot<T>,
    chunks: Vec<Box<[MaybeUninit<Slot<T>>]>>,
}

impl<T> FreeList<T> {
    /// Links a fresh chunk's slots onto the (empty) list.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        let mut chunk: Box<[MaybeUninit<Slot<T>>]> = Box::new_uninit_slice(CHUNK);
        for slot in chunk.iter_mut().rev() {
            slot.write(Slot { next: self.head });
            self.head = slot.as_mut_ptr();
        }
        self.chunks.push(chunk);
    }
}

impl<T> Pool<T> for FreeList<T> {
    const NAME: &'static str = "free-list-floor";
    type Key = NonNull<T>;

    fn create() -> Self {
        FreeList {
            head: ptr::null_mut(),
            chunks: Vec::new(),
        }
    }

    #[inline(always)]
    fn insert(&mut self, value: T) -> NonNull<T> {
        if self.head.is_null() {
            self.refill();
        }
        let slot = self.head;
        // SAFETY: a slot on the list lies in a chunk that lives as long as
        // `self`.
        let free = unsafe { &*slot };
        // SAFETY: a slot on the list is free and holds its link.
        self.head = unsafe { free.next };
        let value_ptr = slot.cast::<T>();
        // SAFETY: the slot is now off the list and ours to fill.
        unsafe { value_ptr.write(value) };
        // SAFETY: a slot on the list is never null (`refill` ran if empty).
        unsafe { NonNull::new_unchecked(value_ptr) }
    }

    #[inline(always)]
    fn remove(&mut self, key: NonNull<T>) {
        let slot = key.as_ptr().cast::<Slot<T>>();
        // SAFETY: `key` came from `insert` on this list and is freed once;
        // its value is `Copy` (see `Pool`), so it is simply overwritten.
        unsafe { slot.write(Slot { next: self.head }) };
        self.head = slot;
    }
}
