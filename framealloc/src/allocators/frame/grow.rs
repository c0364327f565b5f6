//! Collecting an iterator of unknown length, or formatted text, into frame
//! memory: a buffer that grows in place while it is the arena's most recent
//! allocation and moves to a larger block only when something else was
//! allocated after it (or its chunk is full). A move leaves the old block's
//! bytes unused until the frame ends: the arena never frees in the middle.
#![expect(unsafe_code, reason = "values are written into, and moved between, raw arena blocks")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Frame;
use super::frame_box::FrameBox;
use crate::error::{AllocError, reported};

/// Smallest capacity of a buffer's first block, as `Vec` picks it: small
/// elements come eight at a time, large ones one at a time.
const fn first_capacity(size: usize) -> usize {
    if size == 1 {
        8
    } else if size <= 1024 {
        4
    } else {
        1
    }
}

/// A slice under construction in frame memory. Its first `len` values are
/// initialised; its block holds `cap` values. Dropping it (on an unwind, or
/// when an allocation fails) drops those values and gives the block back if
/// it is still the arena's newest; [`finish`](Self::finish) hands them out
/// instead.
struct Growing<'f, 'a, T> {
    frame: &'f Frame<'a>,
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
}

impl<'f, 'a, T> Growing<'f, 'a, T> {
    /// An empty buffer with room for `cap` values.
    fn with_capacity(frame: &'f Frame<'a>, cap: usize) -> Result<Self, AllocError> {
        let mut buffer = Growing {
            frame,
            ptr: NonNull::dangling(),
            len: 0,
            // A zero-sized value needs no room: any count fits.
            cap: if size_of::<T>() == 0 { usize::MAX } else { 0 },
        };
        if cap > buffer.cap {
            buffer.grow_to(cap)?;
        }
        Ok(buffer)
    }

    /// Takes over `len` initialised values at `ptr`, a block of this frame
    /// allocated for `cap` values.
    ///
    /// # Safety
    ///
    /// - `ptr` holds `len <= cap` initialised values of `T` that the caller
    ///   gives up, at the start of a block of the frame's arena allocated
    ///   for `cap` values (a dangling pointer when `T` is zero-sized or
    ///   `cap` is 0).
    unsafe fn adopt(frame: &'f Frame<'a>, ptr: NonNull<T>, len: usize, cap: usize) -> Self {
        let cap = if size_of::<T>() == 0 { usize::MAX } else { cap };
        Growing {
            frame,
            ptr,
            len,
            cap,
        }
    }

    /// Makes room for at least `additional` more values, growing past what
    /// is needed so that a long run of pushes grows only a logarithmic
    /// number of times. `limit`, when known, is how many values there can
    /// be at most (an iterator's upper bound): the buffer does not grow past
    /// it.
    fn reserve(&mut self, additional: usize, limit: Option<usize>) -> Result<(), AllocError> {
        if self.cap - self.len >= additional {
            return Ok(());
        }
        let overflow = || {
            reported(AllocError::SizeOverflow {
                count: usize::MAX,
                element_size: size_of::<T>(),
            })
        };
        let needed = self.len.checked_add(additional).ok_or_else(overflow)?;
        let doubled = self.cap.saturating_mul(2);
        let mut cap = needed.max(doubled).max(first_capacity(size_of::<T>()));
        if let Some(limit) = limit {
            cap = cap.min(limit.max(needed));
        }
        self.grow_to(cap)
    }

    /// Moves the buffer to a block of `cap` values: in place when it is the
    /// arena's most recent allocation and its chunk has room, otherwise to a
    /// fresh block with the values copied over.
    fn grow_to(&mut self, cap: usize) -> Result<(), AllocError> {
        debug_assert!(cap > self.cap && size_of::<T>() != 0);
        let layout = Layout::array::<T>(cap).map_err(|_| {
            reported(AllocError::SizeOverflow {
                count: cap,
                element_size: size_of::<T>(),
            })
        })?;
        let arena = self.frame.arena();
        if self.cap != 0 {
            // SAFETY: the buffer's block came from this frame's arena with
            // `self.cap` values' size, and the buffer owns it; growing keeps
            // its contents where they are.
            let grown = unsafe {
                arena.resize_in_place(self.ptr.cast(), self.cap * size_of::<T>(), layout.size())
            };
            if let Some(block) = grown {
                // The arena's pointer, whose provenance covers the new size.
                self.ptr = block.cast();
                self.cap = cap;
                return Ok(());
            }
        }
        let fresh = arena.alloc_layout(layout, self.frame.limits())?.cast::<T>();
        // SAFETY: the first `len` values of the old block are initialised;
        // `fresh` is a new block of `cap > len` values, so the two cannot
        // overlap. The values move: the old block is never read again (its
        // bytes stay unused until the frame ends).
        unsafe { fresh.copy_from_nonoverlapping(self.ptr, self.len) };
        self.ptr = fresh;
        self.cap = cap;
        Ok(())
    }

    /// Appends `value`; room must have been reserved.
    #[inline]
    fn push_reserved(&mut self, value: T) {
        debug_assert!(self.len < self.cap);
        // SAFETY: `len < cap`, so the slot lies in the buffer's block.
        let slot = unsafe { self.ptr.add(self.len) };
        // SAFETY: in bounds, aligned, and not yet initialised.
        unsafe { slot.write(value) };
        self.len += 1;
    }

    /// Appends every value of `items`, growing as needed.
    fn extend(&mut self, items: impl Iterator<Item = T>) -> Result<(), AllocError> {
        for value in items {
            if self.len == self.cap {
                self.reserve(1, None)?;
            }
            self.push_reserved(value);
        }
        Ok(())
    }

    /// Gives the unused tail back to the arena (when the buffer is still
    /// the most recent allocation) and hands the values out.
    fn finish(self) -> FrameBox<'f, [T]> {
        let buffer = core::mem::ManuallyDrop::new(self);
        let mut ptr = buffer.ptr;
        if size_of::<T>() != 0 && buffer.cap > buffer.len {
            // SAFETY: the buffer owns its block of `cap` values from this
            // arena; shrinking keeps the first `len`, which are all that is
            // initialised.
            let shrunk = unsafe {
                buffer.frame.arena().resize_in_place(
                    ptr.cast(),
                    buffer.cap * size_of::<T>(),
                    buffer.len * size_of::<T>(),
                )
            };
            if let Some(block) = shrunk.filter(|_| buffer.len != 0) {
                ptr = block.cast();
            } else if buffer.len == 0 {
                // The whole block went back (or stays unused): an empty
                // slice needs no memory.
                ptr = NonNull::dangling();
            }
        }
        let slice = NonNull::slice_from_raw_parts(ptr, buffer.len);
        // SAFETY: the first `len` values are initialised and owned by the
        // buffer, which is forgotten; its block lives until this frame ends,
        // and the box borrows the frame (`'f`).
        unsafe { FrameBox::from_raw(slice) }
    }
}

impl<T> Drop for Growing<'_, '_, T> {
    fn drop(&mut self) {
        // SAFETY: exactly the first `len` values were written and nothing
        // else owns them; the buffer is dropped only when filling stopped
        // early (on success it is forgotten by `finish`).
        unsafe { NonNull::slice_from_raw_parts(self.ptr, self.len).drop_in_place() };
        if size_of::<T>() != 0 && self.cap != 0 {
            // Give the block back when it is still the arena's newest, so a
            // refused or unwound collection wastes nothing.
            // SAFETY: the buffer owns its block of `cap` values from this
            // arena, and its values were just dropped; nothing uses it after.
            unsafe {
                self.frame
                    .arena()
                    .resize_in_place(self.ptr.cast(), self.cap * size_of::<T>(), 0)
            };
        }
    }
}

/// Collects `core::fmt` output into a [`Growing`] byte buffer.
struct FmtSink<'f, 'a> {
    bytes: Growing<'f, 'a, u8>,
    /// Why the last write failed, when the arena refused.
    refused: Option<AllocError>,
}

impl core::fmt::Write for FmtSink<'_, '_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        if let Err(error) = self.bytes.reserve(text.len(), None) {
            self.refused = Some(error);
            return Err(core::fmt::Error);
        }
        let bytes = &mut self.bytes;
        // SAFETY: `reserve` made room for `text.len()` bytes past `len`.
        let tail = unsafe { bytes.ptr.add(bytes.len) };
        // SAFETY: `tail` is valid for `text.len()` bytes of fresh memory,
        // which cannot overlap the caller's `text`.
        unsafe { tail.copy_from_nonoverlapping(NonNull::from(text).cast(), text.len()) };
        bytes.len += text.len();
        Ok(())
    }
}

impl<'a> Frame<'a> {
    /// Collects `items` of any length: an exact size hint takes the slice
    /// fill's fast path; otherwise the slice starts at the hint's lower bound
    /// and grows (see the module docs). Values already written are dropped
    /// if the iterator panics or the arena refuses.
    pub(crate) fn slice_from_any_iter<T>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        let mut items = items.into_iter();
        let (lower, upper) = items.size_hint();
        if upper == Some(lower) {
            let filled = self.slice_from_iter(lower, items.by_ref())?;
            let extra = items.next();
            let len = filled.len();
            if extra.is_none() && len == lower {
                return Ok(filled);
            }
            let ptr = FrameBox::into_raw(filled).cast::<T>();
            // The iterator lied: it ended early (the tail goes back to the
            // arena) or it yields more (the slice grows).
            // SAFETY: the exact fill allocated a block of `lower` values and
            // wrote the first `len`; `into_raw` gave them up and kept the
            // block's pointer (dangling for a block of no bytes), which may
            // write past `len` (an iterator that is not fused may resume).
            let mut buffer = unsafe { Growing::adopt(self, ptr, len, lower) };
            if let Some(extra) = extra {
                buffer.reserve(1, None)?;
                buffer.push_reserved(extra);
                buffer.extend(items)?;
            }
            return Ok(buffer.finish());
        }
        let mut buffer = Growing::with_capacity(self, lower)?;
        while let Some(value) = items.next() {
            if buffer.len == buffer.cap {
                let (more, limit) = items.size_hint();
                // The value in hand plus what the iterator still promises,
                // never past what it says it can yield at most.
                let limit = limit.and_then(|rest| (buffer.len + 1).checked_add(rest));
                buffer.reserve(more.saturating_add(1), limit)?;
            }
            buffer.push_reserved(value);
        }
        Ok(buffer.finish())
    }

    /// Formats `args` straight into frame memory.
    ///
    /// # Panics
    ///
    /// When a `Display` (or other formatting) implementation returns an
    /// error of its own, as `format!` does.
    #[expect(clippy::mut_from_ref, reason = "each call returns fresh, disjoint arena memory")]
    pub(crate) fn fmt_into(&self, args: core::fmt::Arguments<'_>) -> Result<&mut str, AllocError> {
        if let Some(text) = args.as_str() {
            return self.str_copy(text);
        }
        let mut sink = FmtSink {
            bytes: Growing::with_capacity(self, 0)?,
            refused: None,
        };
        if core::fmt::write(&mut sink, args).is_err() {
            match sink.refused {
                Some(error) => return Err(error),
                None => panic!(
                    "a formatting trait implementation returned an error when the underlying stream did not"
                ),
            }
        }
        let bytes = FrameBox::leak(sink.bytes.finish());
        // SAFETY: only whole `str`s were appended, so the bytes are UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }
}
