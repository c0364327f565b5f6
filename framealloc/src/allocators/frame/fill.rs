//! The routines that write values into freshly bumped frame memory and
//! hand them out as `FrameBox`es, slices and strings. They are `Frame`
//! methods, so what they hand out borrows the frame: the arena cannot end
//! the frame (and reuse the memory) while any of it is alive.
#![expect(unsafe_code, reason = "values are written into fresh, uninitialised arena memory")]

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::Frame;
use super::frame_box::FrameBox;
use crate::error::AllocError;

/// Writes values into fresh frame memory. Every routine here allocates from
/// `arena` and returns memory that lives as long as the borrow of `arena`.
impl Frame<'_> {
    /// Moves `value` into the arena.
    #[inline(always)]
    pub(crate) fn boxed<T>(&self, value: T) -> Result<FrameBox<'_, T>, AllocError> {
        let slot = self.slot::<T>()?;
        // SAFETY: `slot` is fresh, aligned memory for a `T`, used by no one
        // else.
        unsafe { slot.as_ptr().write(value) };
        // SAFETY: now an initialised `T` that nothing else accesses, in
        // memory that lives as long as the borrow of this frame (the arena
        // reclaims memory only when a frame or scope ends, and this frame
        // cannot end while borrowed; a scope opening needs `&mut` of it).
        Ok(unsafe { FrameBox::from_raw(slot) })
    }

    /// Allocates room for a `T` and fills it with `make()`, writing the
    /// result in place.
    #[inline(always)]
    pub(crate) fn boxed_with<T>(
        &self,
        make: impl FnOnce() -> T,
    ) -> Result<FrameBox<'_, T>, AllocError> {
        let slot = self.slot::<T>()?;
        let value = make();
        // SAFETY: as in `boxed`. If `make` panicked, the slot stayed
        // uninitialised and unowned, which only wastes its bytes.
        unsafe { slot.as_ptr().write(value) };
        // SAFETY: as in `boxed`.
        Ok(unsafe { FrameBox::from_raw(slot) })
    }

    /// Room for a `T`, left uninitialised.
    #[inline(always)]
    pub(crate) fn boxed_uninit<T>(&self) -> Result<FrameBox<'_, MaybeUninit<T>>, AllocError> {
        let slot = self.slot::<T>()?.cast::<MaybeUninit<T>>();
        // SAFETY: a `MaybeUninit<T>` needs no initialisation; the memory is
        // fresh and lives as long as `&self`.
        Ok(unsafe { FrameBox::from_raw(slot) })
    }

    #[inline(always)]
    fn slot<T>(&self) -> Result<NonNull<T>, AllocError> {
        if size_of::<T>() == 0 {
            return Ok(NonNull::dangling());
        }
        match self.arena().bump(size_of::<T>(), align_of::<T>()) {
            Some(ptr) => Ok(ptr.cast()),
            None => self
                .arena()
                .alloc_slow(Layout::new::<T>(), self.limits())
                .map(NonNull::cast),
        }
    }

    /// Copies `src` into the arena.
    pub(crate) fn slice_copy<T: Copy>(&self, src: &[T]) -> Result<FrameBox<'_, [T]>, AllocError> {
        let dst = self.slice_slot::<T>(src.len())?;
        // SAFETY: `dst` is fresh memory for `src.len()` values of `T`, so the
        // two ranges cannot overlap; `T: Copy`, so a bitwise copy is a copy.
        unsafe {
            dst.as_ptr()
                .copy_from_nonoverlapping(src.as_ptr(), src.len())
        };
        let slice = NonNull::slice_from_raw_parts(dst, src.len());
        // SAFETY: initialised just above, owned by nothing else, and alive as
        // long as `&self` (as in `boxed`).
        Ok(unsafe { FrameBox::from_raw(slice) })
    }

    /// Fills a slice of at most `len` values from `items`. If `items` ends
    /// early the slice is shorter; if producing an item panics, the items
    /// already written are dropped.
    #[inline]
    pub(crate) fn slice_from_iter<T>(
        &self,
        len: usize,
        items: impl Iterator<Item = T>,
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        let dst = self.slice_slot::<T>(len)?;
        let len = if core::mem::needs_drop::<T>() {
            // The guard's count is stored before each item is made, so an
            // unwind drops exactly the items written.
            let mut filled = Filled { start: dst, len: 0 };
            for item in items.take(len) {
                // SAFETY: `filled.len < len` (`take(len)`), so the slot is
                // inside the fresh allocation of `len` values.
                let slot = unsafe { dst.add(filled.len) };
                // SAFETY: fresh, aligned and not yet initialised.
                unsafe { slot.as_ptr().write(item) };
                filled.len += 1;
            }
            let len = filled.len;
            core::mem::forget(filled);
            len
        } else {
            // Values without a destructor need no guard: an unwind leaves
            // them in frame memory, which only wastes their bytes. The count
            // stays in a register (a `Vec`-speed fill).
            let mut written = 0;
            for item in items.take(len) {
                // SAFETY: as above, `written < len`.
                let slot = unsafe { dst.add(written) };
                // SAFETY: fresh, aligned and not yet initialised.
                unsafe { slot.as_ptr().write(item) };
                written += 1;
            }
            written
        };
        // SAFETY: the first `len` values are initialised and owned by nothing
        // else; the memory lives as long as `&self`.
        Ok(unsafe { FrameBox::from_raw(NonNull::slice_from_raw_parts(dst, len)) })
    }

    /// Copies `src` into the arena as a string.
    #[expect(clippy::mut_from_ref, reason = "each call returns fresh, disjoint arena memory")]
    pub(crate) fn str_copy(&self, src: &str) -> Result<&mut str, AllocError> {
        let bytes = FrameBox::leak(self.slice_copy(src.as_bytes())?);
        // SAFETY: the bytes are a copy of a `str`, so they are valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    #[inline]
    fn slice_slot<T>(&self, len: usize) -> Result<NonNull<T>, AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| {
            crate::error::reported(AllocError::SizeOverflow {
                count: len,
                element_size: size_of::<T>(),
            })
        })?;
        self.arena()
            .alloc_layout(layout, self.limits())
            .map(NonNull::cast)
    }
}

/// Drops the values written so far if filling a slice unwinds.
struct Filled<T> {
    start: NonNull<T>,
    len: usize,
}

impl<T> Drop for Filled<T> {
    fn drop(&mut self) {
        // SAFETY: exactly the first `len` values were written and nothing else
        // owns them; this guard runs only while unwinding (it is forgotten on
        // success).
        unsafe { NonNull::slice_from_raw_parts(self.start, self.len).drop_in_place() }
    }
}
