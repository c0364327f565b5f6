//! A group's memory: the chunks it bumps through, and the runs of values
//! whose destructors it calls when the group is freed.
//!
//! Values are written at a bump cursor in the newest chunk. A value whose
//! type needs `Drop` adds to a [`DropRun`]: a run of same-typed values laid
//! side by side, so 100,000 values of one type cost one record, not
//! 100,000. Freeing the group calls each run's destructor in allocation
//! order, then gives every chunk back to the system.

#![expect(unsafe_code, reason = "values are written into raw group chunks and dropped in place")]

use core::alloc::Layout;
use core::any::TypeId;
use core::cell::{Cell, RefCell};
use core::ptr::NonNull;
use std::sync::Arc;

use super::figures::GroupFigures;
use crate::allocators::frame::chunk::{CHUNK_ALIGN, Chunk, charged_chunk};
use crate::budget::BudgetManager;
use crate::error::AllocError;

/// The first chunk of a group; each later chunk doubles, up to
/// [`MAX_CHUNK`]. A request larger than that gets a chunk of its own size.
const FIRST_CHUNK: usize = 64 << 10;
const MAX_CHUNK: usize = 16 << 20;

/// A run of `len` values of one type laid out as a slice from `start`,
/// all initialised and owned by the group.
struct DropRun {
    type_id: TypeId,
    /// Drops `len` values of the run's type starting at the pointer.
    drop: unsafe fn(NonNull<u8>, usize),
    start: NonNull<u8>,
    len: usize,
}

/// # Safety
///
/// - `start` points to `len` initialised `T`s laid out as a slice, which
///   nothing uses any more and which are not dropped again.
unsafe fn drop_run<T>(start: NonNull<u8>, len: usize) {
    let slice = NonNull::slice_from_raw_parts(start.cast::<T>(), len);
    // SAFETY: forwarded from the caller: an initialised, unused `[T]`.
    unsafe { slice.drop_in_place() };
}

/// Where the memory of one group comes from and what it must drop.
///
/// Invariants:
/// - `cursor..end` is the unused tail of the last chunk in `chunks` (or
///   both are the same dangling pointer while there is no chunk);
/// - every `DropRun` in `drops` describes initialised values in `chunks`
///   (or zero-sized ones) that the group owns.
pub(crate) struct GroupArena {
    cursor: Cell<NonNull<u8>>,
    end: Cell<NonNull<u8>>,
    chunks: RefCell<Vec<Chunk>>,
    drops: RefCell<Vec<DropRun>>,
    next_chunk: Cell<usize>,
    /// The budgets chunks are charged to (when on), and the tag.
    budget: Option<Arc<BudgetManager>>,
    tag: u32,
    pub(crate) figures: Arc<GroupFigures>,
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
    ) -> GroupArena {
        GroupArena {
            cursor: Cell::new(NonNull::dangling()),
            end: Cell::new(NonNull::dangling()),
            chunks: RefCell::new(Vec::new()),
            drops: RefCell::new(Vec::new()),
            next_chunk: Cell::new(FIRST_CHUNK),
            budget,
            tag,
            figures,
        }
    }

    /// Fresh memory for `layout`, aligned, which nothing else uses and which
    /// lives until the arena drops. Zero-sized layouts get a dangling,
    /// aligned pointer.
    #[inline(always)]
    pub(crate) fn bump(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            self.figures.count_alloc(0);
            return Ok(dangling(layout.align()));
        }
        let cursor = self.cursor.get();
        let addr = cursor.addr().get();
        let fits = addr
            .checked_next_multiple_of(layout.align())
            .and_then(|start| Some((start, start.checked_add(layout.size())?)))
            .filter(|&(_, end)| end <= self.end.get().addr().get());
        let Some((start, end)) = fits else {
            return self.bump_slow(layout);
        };
        // SAFETY: `start..end` lies inside `cursor..self.end`, the unused
        // tail of the last chunk (type invariant).
        let block = unsafe { cursor.add(start - addr) };
        // SAFETY: as above; `end` is at most the chunk's end.
        self.cursor.set(unsafe { cursor.add(end - addr) });
        self.figures.count_alloc(layout.size());
        Ok(block)
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
        self.cursor.set(chunk.start());
        self.end.set(chunk.end());
        self.figures.count_chunk(chunk.capacity());
        self.next_chunk
            .set(self.next_chunk.get().saturating_mul(2).min(MAX_CHUNK));
        self.chunks.borrow_mut().push(chunk);
        // The fresh chunk holds the request: it was sized and aligned for it.
        self.bump(layout)
    }

    /// Moves `value` into the group, which drops it when it is freed. The
    /// value lives as long as the arena, which `&self` borrows (the arena
    /// frees memory only when it is dropped).
    #[inline(always)]
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn put<T: Send + 'static>(&self, value: T) -> Result<&mut T, AllocError> {
        let mut slot = self.bump(Layout::new::<T>())?.cast::<T>();
        // SAFETY: fresh memory for a `T` (`bump`), used by no one else.
        unsafe { slot.write(value) };
        // SAFETY: one initialised `T` at `slot`, owned by the group from now.
        unsafe { self.owns_values::<T>(slot, 1) };
        // SAFETY: an initialised `T` that only this reference reaches, in
        // memory freed only when the arena drops, after `&self` ends.
        Ok(unsafe { slot.as_mut() })
    }

    /// Room for `len` values of `T`, uninitialised.
    #[inline]
    fn slots<T>(&self, len: usize) -> Result<NonNull<T>, AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| AllocError::SizeOverflow {
            count: len,
            element_size: size_of::<T>(),
        })?;
        Ok(self.bump(layout)?.cast::<T>())
    }

    /// Fills `len` fresh slots with `make(i)` and hands them out as a slice
    /// the group drops when it is freed. If `make` panics, the values made
    /// so far are dropped at once and the slots stay unused.
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn fill<T: Send + 'static>(
        &self,
        len: usize,
        mut make: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        let start = self.slots::<T>(len)?;
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
        // SAFETY: `len` initialised values, now owned by the group.
        unsafe { self.owns_values::<T>(start, len) };
        let mut slice = NonNull::slice_from_raw_parts(start, len);
        // SAFETY: `len` initialised values only this reference reaches, in
        // memory freed only when the arena drops, after `&self` ends.
        Ok(unsafe { slice.as_mut() })
    }

    /// Copies `values` into the group (no destructor to record: `Copy`).
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn copy_slice<T: Copy>(&self, values: &[T]) -> Result<&mut [T], AllocError> {
        let start = self.slots::<T>(values.len())?;
        // SAFETY: the fresh block holds `values.len()` `T`s and cannot
        // overlap `values`, which is live memory elsewhere.
        unsafe { start.copy_from_nonoverlapping(NonNull::from(values).cast(), values.len()) };
        let mut slice = NonNull::slice_from_raw_parts(start, values.len());
        // SAFETY: initialised by the copy; only this reference reaches it,
        // and the memory lives until the arena drops, after `&self` ends.
        Ok(unsafe { slice.as_mut() })
    }

    /// Copies `text` into the group.
    #[expect(clippy::mut_from_ref, reason = "fresh memory per call, like `Box::leak`")]
    pub(crate) fn copy_str(&self, text: &str) -> Result<&mut str, AllocError> {
        let bytes = self.copy_slice(text.as_bytes())?;
        // SAFETY: a byte-for-byte copy of a `str` is valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    /// Records that the group owns (and must drop) `len` initialised `T`s
    /// at `start`, merging with the previous run when they continue it.
    ///
    /// # Safety
    ///
    /// - `start` points to `len` initialised `T`s in this arena's memory
    ///   (or dangling, for zero-sized `T`) that nothing else will drop.
    #[inline(always)]
    unsafe fn owns_values<T: 'static>(&self, start: NonNull<T>, len: usize) {
        if !core::mem::needs_drop::<T>() || len == 0 {
            return;
        }
        let mut drops = self.drops.borrow_mut();
        let type_id = TypeId::of::<T>();
        if let Some(last) = drops.last_mut()
            && last.type_id == type_id
            && last
                .start
                .addr()
                .get()
                .wrapping_add(last.len.wrapping_mul(size_of::<T>()))
                == start.addr().get()
        {
            last.len += len;
            return;
        }
        self.figures.count_drop_run();
        drops.push(DropRun {
            type_id,
            drop: drop_run::<T>,
            start: start.cast(),
            len,
        });
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

impl Drop for GroupArena {
    /// Drops every value the group owns, in allocation order, and returns
    /// the chunks to the system. A panicking destructor does not stop the
    /// others; the first panic resumes once all have run. Only here, with
    /// the arena owned, can memory die.
    fn drop(&mut self) {
        let runs = core::mem::take(self.drops.get_mut());
        let mut first_panic = None;
        for run in runs {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: each run describes initialised values the group
                // owns (type invariant), and nothing borrows the arena any
                // more (`&mut self`); the list was taken, so each runs once.
                unsafe { (run.drop)(run.start, run.len) };
            }));
            if let Err(payload) = outcome {
                first_panic.get_or_insert(payload);
            }
        }
        // The chunks go back to the system (and their budget charges with
        // them) as the vector drops.
        drop(core::mem::take(self.chunks.get_mut()));
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
}

/// A non-null pointer whose address is `align`: where zero-sized values
/// live.
fn dangling(align: usize) -> NonNull<u8> {
    NonNull::<u8>::dangling().with_addr(core::num::NonZeroUsize::MIN.saturating_add(align - 1))
}
