//! A group's memory: the chunks it bumps through, and the runs of values
//! whose destructors it calls when the group is freed.
//!
//! Values are written at a bump cursor in the newest chunk. Values whose
//! type needs `Drop` are recorded in runs (`drops.rs`); freeing the group
//! calls each run's destructor in allocation order, then gives every chunk
//! back to the system.

#![expect(unsafe_code, reason = "values are written into raw group chunks and dropped in place")]

use core::alloc::Layout;
use core::cell::{Cell, RefCell};

use super::drops::{RunList, Space, drop_run};
use core::ptr::NonNull;
use std::sync::Arc;

use super::figures::GroupFigures;
use crate::allocators::frame::chunk::{CHUNK_ALIGN, Chunk, charged_chunk};
use crate::budget::BudgetManager;
use crate::diagnostics::{Intent, Observer};
use crate::error::AllocError;

/// The first chunk of a group; each later chunk doubles, up to
/// [`MAX_CHUNK`]. A request larger than that gets a chunk of its own size.
const FIRST_CHUNK: usize = 64 << 10;
const MAX_CHUNK: usize = 16 << 20;

/// Where the memory of one group comes from and what it must drop.
///
/// Invariants:
/// - `cursor..end` is the unused tail of the last chunk in `chunks` (or
///   both are the same dangling pointer while there is no chunk);
/// - every run in `runs` describes initialised values in `chunks` (or
///   zero-sized ones) that the group owns.
pub(crate) struct GroupArena {
    cursor: Cell<NonNull<u8>>,
    end: Cell<NonNull<u8>>,
    chunks: RefCell<Vec<Chunk>>,
    runs: RunList,
    next_chunk: Cell<usize>,
    /// The budgets chunks are charged to (when on), and the tag.
    budget: Option<Arc<BudgetManager>>,
    tag: u32,
    pub(crate) figures: Arc<GroupFigures>,
    /// Hears of chunks taken and given back, the group's free, and (with
    /// `debug`) each value placed.
    observer: Arc<Observer>,
}

// SAFETY: the arena owns its chunks and the values in them like a
// `Vec<Box<dyn Any + Send>>` would: `Group` only stores `Send` values with
// destructors (its methods require it), and values without destructors are
// never touched again after the references handed out end. Moving the
// arena moves all of it; `Cell`s keep it `!Sync`.
unsafe impl Send for GroupArena {}

impl GroupArena {
    pub(crate) fn new(
        budget: Option<Arc<BudgetManager>>,
        tag: u32,
        figures: Arc<GroupFigures>,
        observer: Arc<Observer>,
    ) -> GroupArena {
        GroupArena {
            cursor: Cell::new(NonNull::dangling()),
            end: Cell::new(NonNull::dangling()),
            chunks: RefCell::new(Vec::new()),
            runs: RunList::default(),
            next_chunk: Cell::new(FIRST_CHUNK),
            budget,
            tag,
            figures,
            observer,
        }
    }

    /// Fresh memory for `layout`, aligned, which nothing else uses and which
    /// lives until the arena drops, counted as one allocation. Zero-sized
    /// layouts get a dangling, aligned pointer.
    #[inline(always)]
    pub(crate) fn bump(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let block = self.bump_raw(layout)?;
        self.figures.count_alloc(layout.size());
        Ok(block)
    }

    /// [`bump`](Self::bump) without counting (destructor records).
    #[inline(always)]
    fn bump_raw(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout.align()));
        }
        match self.bump_in_chunk(layout) {
            Some(block) => Ok(block),
            None => self.bump_slow(layout),
        }
    }

    /// Memory for `layout` in the current chunk, if it fits there (not
    /// counted; `None` for zero-sized layouts too).
    #[inline(always)]
    fn bump_in_chunk(&self, layout: Layout) -> Option<NonNull<u8>> {
        let cursor = self.cursor.get();
        let addr = cursor.addr().get();
        let start = addr.checked_next_multiple_of(layout.align())?;
        let end = start.checked_add(layout.size())?;
        if layout.size() == 0 || end > self.end.get().addr().get() {
            return None;
        }
        // SAFETY: `start..end` lies inside `cursor..self.end`, the unused
        // tail of the last chunk (type invariant).
        let block = unsafe { cursor.add(start - addr) };
        // SAFETY: as above; `end` is at most the chunk's end.
        self.cursor.set(unsafe { cursor.add(end - addr) });
        Some(block)
    }

    #[cold]
    #[inline(never)]
    fn bump_slow(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        // The chunk's base is `CHUNK_ALIGN`-aligned; a stricter alignment
        // may need that much padding.
        let padding = layout.align().saturating_sub(CHUNK_ALIGN);
        let need = layout
            .size()
            .checked_add(padding)
            .ok_or(AllocError::SizeOverflow {
                count: 1,
                element_size: layout.size(),
            })?;
        let capacity = need.max(self.next_chunk.get());
        let chunk = charged_chunk(self.budget.as_ref(), self.tag, capacity, layout.align())?;
        let (start, capacity) = (chunk.start(), chunk.capacity());
        self.cursor.set(start);
        self.end.set(chunk.end());
        self.figures.count_chunk(capacity);
        self.next_chunk
            .set(self.next_chunk.get().saturating_mul(2).min(MAX_CHUNK));
        self.chunks.borrow_mut().push(chunk);
        // Reported with the arena consistent and nothing borrowed. The tag
        // is the one the chunk is charged to (0 when budgets are off).
        self.observer
            .alloc(start.as_ptr(), capacity, Intent::Group, self.tag, None);
        // The fresh chunk holds the request: it was sized and aligned for it.
        self.bump_in_chunk(layout).ok_or(AllocError::Internal {
            what: "a fresh group chunk could not hold the allocation it was sized for",
        })
    }

    /// With `debug`: `size` bytes at `ptr` now hold a value, slice or
    /// string, made at the caller's call site (recorded for the leak
    /// report until the group is freed). Zero-sized ones take no memory
    /// and are not recorded.
    #[cfg(feature = "debug")]
    #[track_caller]
    #[inline(always)]
    fn placed(&self, ptr: NonNull<u8>, size: usize) {
        if size != 0 {
            self.observer.group_value(
                ptr.as_ptr(),
                size,
                self.figures.id,
                crate::diagnostics::site(),
            );
        }
    }

    /// Moves `value` into the group, which drops it when it is freed. The
    /// value lives as long as the arena, which `&self` borrows (the arena
    /// frees memory only when it is dropped).
    #[inline(always)]
    #[cfg_attr(feature = "debug", track_caller)]
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn put<T: Send + 'static>(&self, value: T) -> Result<&mut T, AllocError> {
        let mut slot = if core::mem::needs_drop::<T>() {
            self.runs.put(self, value)?
        } else {
            let slot = self.bump(Layout::new::<T>())?.cast::<T>();
            // SAFETY: fresh memory for a `T` (`bump`), used by no one else.
            unsafe { slot.write(value) };
            slot
        };
        #[cfg(feature = "debug")]
        self.placed(slot.cast(), size_of::<T>());
        // SAFETY: an initialised `T` that only this reference reaches, in
        // memory freed only when the arena drops, after `&self` ends.
        Ok(unsafe { slot.as_mut() })
    }

    /// Room for `len` values of `T`, uninitialised.
    #[inline]
    pub(super) fn slots<T>(&self, len: usize) -> Result<NonNull<T>, AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| AllocError::SizeOverflow {
            count: len,
            element_size: size_of::<T>(),
        })?;
        Ok(self.bump(layout)?.cast::<T>())
    }

    /// Fills `len` fresh slots with `make(i)` and hands them out as a slice
    /// the group drops when it is freed. If `make` panics, the values made
    /// so far are dropped at once and the slots stay unused.
    #[cfg_attr(feature = "debug", track_caller)]
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn fill<T: Send + 'static>(
        &self,
        len: usize,
        mut make: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        let (start, run) = if core::mem::needs_drop::<T>() {
            let (start, run) = self.runs.reserve::<T>(self, len)?;
            (start, Some(run))
        } else {
            (self.slots::<T>(len)?, None)
        };
        /// Drops what was written if `make` unwinds.
        struct Written<T> {
            start: NonNull<T>,
            len: usize,
        }
        impl<T> Drop for Written<T> {
            fn drop(&mut self) {
                // SAFETY: the first `len` slots hold values written by
                // `fill` that no one else has seen.
                unsafe { drop_run::<T>(self.start.cast(), self.len) };
            }
        }
        let mut written = Written { start, len: 0 };
        while written.len < len {
            let value = make(written.len);
            // SAFETY: slot `written.len < len` lies in the fresh block.
            let slot = unsafe { start.add(written.len) };
            // SAFETY: fresh, aligned memory for a `T`, used by no one else.
            unsafe { slot.write(value) };
            written.len += 1;
        }
        core::mem::forget(written);
        if let Some(run) = run {
            // SAFETY: `len` initialised values at `start`, the slots
            // `RunList::reserve` gave for `run`; the group owns them now.
            unsafe { self.runs.commit::<T>(self, run, start, len) };
        }
        #[cfg(feature = "debug")]
        self.placed(start.cast(), len * size_of::<T>());
        let mut slice = NonNull::slice_from_raw_parts(start, len);
        // SAFETY: `len` initialised values only this reference reaches, in
        // memory freed only when the arena drops, after `&self` ends.
        Ok(unsafe { slice.as_mut() })
    }

    /// Copies `values` into the group (no destructor to record: `Copy`).
    #[cfg_attr(feature = "debug", track_caller)]
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn copy_slice<T: Copy>(&self, values: &[T]) -> Result<&mut [T], AllocError> {
        let start = self.slots::<T>(values.len())?;
        #[cfg(feature = "debug")]
        self.placed(start.cast(), size_of_val(values));
        // SAFETY: the fresh block holds `values.len()` `T`s and cannot
        // overlap `values`, which is live memory elsewhere.
        unsafe { start.copy_from_nonoverlapping(NonNull::from(values).cast(), values.len()) };
        let mut slice = NonNull::slice_from_raw_parts(start, values.len());
        // SAFETY: initialised by the copy; only this reference reaches it,
        // and the memory lives until the arena drops, after `&self` ends.
        Ok(unsafe { slice.as_mut() })
    }

    /// Copies `text` into the group.
    #[cfg_attr(feature = "debug", track_caller)]
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn copy_str(&self, text: &str) -> Result<&mut str, AllocError> {
        let bytes = self.copy_slice(text.as_bytes())?;
        // SAFETY: a byte-for-byte copy of a `str` is valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    /// Gives the most recent block back (or grows or shrinks it) when
    /// `ptr..ptr + old` ends at the cursor and `ptr + new` fits in the
    /// chunk; returns whether it did.
    ///
    /// # Safety
    ///
    /// - `ptr..ptr + old` is a block this arena handed out through
    ///   [`bump`](Self::bump) that the caller owns and that holds no value
    ///   the group drops.
    pub(crate) unsafe fn resize_last(&self, ptr: NonNull<u8>, old: usize, new: usize) -> bool {
        let cursor = self.cursor.get().addr().get();
        let start = ptr.addr().get();
        let is_last = start.checked_add(old) == Some(cursor);
        let fits = start
            .checked_add(new)
            .is_some_and(|end| end <= self.end.get().addr().get());
        if !(is_last && fits) {
            return false;
        }
        // SAFETY: `ptr` lies in the last chunk (it ends at its cursor), and
        // `ptr + new` is at most that chunk's end.
        self.cursor.set(unsafe { ptr.add(new) });
        self.figures.count_resize(old, new);
        true
    }
}

// SAFETY: `bump_in_chunk` and `bump_raw` hand out fresh, aligned memory
// in the arena's chunks, which are freed only when the arena drops;
// `bump_in_chunk` places the block at the cursor, aligned up, and moves
// the cursor to its end.
unsafe impl Space for GroupArena {
    #[inline(always)]
    fn cursor(&self) -> usize {
        self.cursor.get().addr().get()
    }

    #[inline(always)]
    fn bump_in_chunk(&self, layout: Layout) -> Option<NonNull<u8>> {
        GroupArena::bump_in_chunk(self, layout)
    }

    #[inline(always)]
    fn bump_raw(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        GroupArena::bump_raw(self, layout)
    }

    #[inline(always)]
    fn count_alloc(&self, bytes: usize) {
        self.figures.count_alloc(bytes);
    }

    fn count_run(&self) {
        self.figures.count_drop_run();
    }
}

impl Drop for GroupArena {
    /// Drops every value the group owns, in allocation order, and returns
    /// the chunks to the system. A panicking destructor does not stop the
    /// others; the first panic resumes once all have run. Only here, with
    /// the arena owned, can memory die.
    fn drop(&mut self) {
        let first_panic = self.runs.drop_all();
        let figures = &self.figures;
        self.observer
            .group_freed(&figures.name, figures.bytes() as usize, figures.id);
        for chunk in core::mem::take(self.chunks.get_mut()) {
            // SAFETY: a chunk this arena owns, about to be freed: every
            // value in it was dropped above, and what the group handed out
            // borrowed the group, so nothing uses its bytes.
            #[cfg(feature = "debug")]
            unsafe {
                poison(&chunk);
            }
            // Reported before the memory goes back, so its address cannot
            // have been handed out again yet.
            self.observer
                .free(chunk.start().as_ptr(), chunk.capacity(), Intent::Group);
            // The chunk goes back to the system (and its budget charge
            // with it).
            drop(chunk);
        }
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
}

/// Fills `chunk` with [`FREED_BYTE`](crate::diagnostics::FREED_BYTE)
/// (feature `debug`), so a value read through a pointer kept past its
/// group's free shows `0xDD` bytes until the system reuses the memory.
///
/// # Safety
///
/// - nothing uses the chunk's bytes (no value in it is alive or borrowed).
#[cfg(feature = "debug")]
unsafe fn poison(chunk: &Chunk) {
    // SAFETY: the chunk's whole block, from its own pointer; unused
    // (forwarded from the caller).
    unsafe { crate::allocators::poison::freed(chunk.start(), chunk.capacity()) };
}

/// A non-null pointer whose address is `align`: where zero-sized values
/// live.
fn dangling(align: usize) -> NonNull<u8> {
    NonNull::<u8>::dangling().with_addr(core::num::NonZeroUsize::MIN.saturating_add(align - 1))
}
