//! `FrameBox`: an owning pointer into frame memory, and the routines that
//! write values into freshly bumped memory.

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::arena::{Arena, ArenaLimits};
use crate::error::AllocError;

/// An owned value living in frame memory.
///
/// `FrameBox<'frame, T>` behaves like `Box<T>`: it derefs to `T`, and dropping
/// it runs `T`'s destructor. Unlike `Box`, it borrows the [`Frame`] it came
/// from, so the compiler refuses any use of it after the frame ends, and its
/// drop gives no memory back: the frame reclaims all of its memory at once
/// when it ends.
///
/// Because dropping it never touches the arena, a `FrameBox` is [`Send`] and
/// [`Sync`] exactly when `T` is, so scoped threads can read or fill it.
///
/// # Example
///
/// ```
/// use framealloc::{FrameBox, SmartAlloc};
///
/// let alloc = SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// let mut names: FrameBox<'_, Vec<&str>> = frame.alloc(Vec::new());
/// names.push("player");
/// assert_eq!(names.len(), 1);
/// ```
///
/// Frame memory cannot outlive its frame:
///
/// ```compile_fail
/// use framealloc::SmartAlloc;
///
/// let alloc = SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// let kept = frame.alloc(7u32);
/// frame.end();
/// println!("{}", *kept); // error: `frame` was moved while borrowed
/// ```
///
/// [`Frame`]: crate::Frame
pub struct FrameBox<'frame, T: ?Sized> {
    /// Invariants: points to a valid, initialised `T` in frame memory (or is
    /// dangling and well aligned when `T` is zero-sized) that nothing else
    /// reads or writes, and that stays allocated for `'frame`.
    ptr: NonNull<T>,
    _frame: PhantomData<&'frame ()>,
    _owns: PhantomData<T>,
}

// SAFETY: a `FrameBox` owns its `T` like `Box<T>` does; dropping it runs only
// `T`'s destructor and never touches the arena, so sending it is sending a `T`.
unsafe impl<T: ?Sized + Send> Send for FrameBox<'_, T> {}
// SAFETY: `&FrameBox<T>` gives only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for FrameBox<'_, T> {}

impl<'frame, T: ?Sized> FrameBox<'frame, T> {
    /// # Safety
    ///
    /// - `ptr` points to an initialised `T` that nothing else accesses;
    /// - the memory stays allocated for `'frame`.
    unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        FrameBox {
            ptr,
            _frame: PhantomData,
            _owns: PhantomData,
        }
    }

    /// Consumes the box without running `T`'s destructor, returning a
    /// reference that lives as long as the frame.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let counter: &mut u32 = framealloc::FrameBox::leak(frame.alloc(0u32));
    /// *counter += 1;
    /// assert_eq!(*counter, 1);
    /// ```
    pub fn leak(boxed: Self) -> &'frame mut T {
        let boxed = ManuallyDrop::new(boxed);
        // SAFETY: the box owned a valid `T` for `'frame` with no other
        // accessor, and it is forgotten, so the reference is the only one.
        unsafe { &mut *boxed.ptr.as_ptr() }
    }

    /// A raw pointer to the value, for FFI or GPU upload code. Valid while the
    /// box is.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let vertices = frame.alloc([0.5f32; 12]);
    /// let ptr = framealloc::FrameBox::as_ptr(&vertices);
    /// assert_eq!(ptr as usize % align_of::<f32>(), 0);
    /// ```
    pub fn as_ptr(boxed: &Self) -> *const T {
        boxed.ptr.as_ptr()
    }
}

impl<T> FrameBox<'_, T> {
    /// Moves the value out, leaving its frame memory to be reclaimed when the
    /// frame ends.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let name = frame.alloc(String::from("ship"));
    /// let owned: String = framealloc::FrameBox::into_inner(name);
    /// assert_eq!(owned, "ship");
    /// ```
    pub fn into_inner(boxed: Self) -> T {
        let boxed = ManuallyDrop::new(boxed);
        // SAFETY: the box owns an initialised `T`; it is forgotten, so the
        // value is read exactly once and never dropped in place.
        unsafe { boxed.ptr.as_ptr().read() }
    }
}

impl<'frame, T> FrameBox<'frame, MaybeUninit<T>> {
    /// Initialises the value and returns the box typed as `T`.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let slot = frame.alloc_uninit::<[u8; 4]>();
    /// let bytes = framealloc::FrameBox::write(slot, [1, 2, 3, 4]);
    /// assert_eq!(*bytes, [1, 2, 3, 4]);
    /// ```
    pub fn write(boxed: Self, value: T) -> FrameBox<'frame, T> {
        let boxed = ManuallyDrop::new(boxed);
        let ptr = boxed.ptr.cast::<T>();
        // SAFETY: `MaybeUninit<T>` has `T`'s layout; the slot is ours alone
        // and is initialised by the write before being typed as `T`.
        unsafe {
            ptr.as_ptr().write(value);
            FrameBox::from_raw(ptr)
        }
    }
}

impl<T: ?Sized> Deref for FrameBox<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: type invariant: a valid, initialised `T` owned by this box.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for FrameBox<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: type invariant, and `&mut self` makes this the only access.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: ?Sized> Drop for FrameBox<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the box owns an initialised `T` that is dropped only here;
        // the memory itself stays with the frame (DESIGN.md rule 5).
        unsafe { self.ptr.as_ptr().drop_in_place() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for FrameBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for FrameBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + PartialEq> PartialEq for FrameBox<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for FrameBox<'_, T> {}

impl<T: ?Sized> AsRef<T> for FrameBox<'_, T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized> AsMut<T> for FrameBox<'_, T> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}

/// Writes values into fresh frame memory. Every routine here allocates from
/// `arena` and returns memory that lives as long as the borrow of `arena`.
impl Arena {
    /// Moves `value` into the arena.
    #[inline(always)]
    pub(crate) fn boxed<T>(
        &self,
        limits: &ArenaLimits,
        value: T,
    ) -> Result<FrameBox<'_, T>, AllocError> {
        let slot = self.slot::<T>(limits)?;
        // SAFETY: `slot` is fresh, aligned memory for a `T` that lives as long
        // as `&self` (the arena's memory is reclaimed only by `reset`/`rewind`,
        // which the frame rules keep away from live borrows).
        unsafe {
            slot.as_ptr().write(value);
            Ok(FrameBox::from_raw(slot))
        }
    }

    /// Allocates room for a `T` and fills it with `make()`, writing the
    /// result in place.
    #[inline(always)]
    pub(crate) fn boxed_with<T>(
        &self,
        limits: &ArenaLimits,
        make: impl FnOnce() -> T,
    ) -> Result<FrameBox<'_, T>, AllocError> {
        let slot = self.slot::<T>(limits)?;
        // SAFETY: as in `boxed`. If `make` panics the slot stays
        // uninitialised and unowned, which only wastes its bytes.
        unsafe {
            slot.as_ptr().write(make());
            Ok(FrameBox::from_raw(slot))
        }
    }

    /// Room for a `T`, left uninitialised.
    #[inline(always)]
    pub(crate) fn boxed_uninit<T>(
        &self,
        limits: &ArenaLimits,
    ) -> Result<FrameBox<'_, MaybeUninit<T>>, AllocError> {
        let slot = self.slot::<T>(limits)?.cast::<MaybeUninit<T>>();
        // SAFETY: a `MaybeUninit<T>` needs no initialisation; the memory is
        // fresh and lives as long as `&self`.
        Ok(unsafe { FrameBox::from_raw(slot) })
    }

    #[inline(always)]
    fn slot<T>(&self, limits: &ArenaLimits) -> Result<NonNull<T>, AllocError> {
        if size_of::<T>() == 0 {
            return Ok(NonNull::dangling());
        }
        match self.bump(size_of::<T>(), align_of::<T>()) {
            Some(ptr) => Ok(ptr.cast()),
            None => self
                .alloc_slow(Layout::new::<T>(), limits)
                .map(NonNull::cast),
        }
    }

    /// Copies `src` into the arena.
    pub(crate) fn slice_copy<T: Copy>(
        &self,
        limits: &ArenaLimits,
        src: &[T],
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        let dst = self.slice_slot::<T>(limits, src.len())?;
        // SAFETY: `dst` is fresh memory for `src.len()` values of `T`, so the
        // two ranges cannot overlap; `T: Copy`, so a bitwise copy is a copy.
        unsafe {
            dst.as_ptr()
                .copy_from_nonoverlapping(src.as_ptr(), src.len());
            Ok(FrameBox::from_raw(NonNull::slice_from_raw_parts(
                dst,
                src.len(),
            )))
        }
    }

    /// Fills a slice of at most `len` values from `items`. If `items` ends
    /// early the slice is shorter; if producing an item panics, the items
    /// already written are dropped.
    pub(crate) fn slice_from_iter<T>(
        &self,
        limits: &ArenaLimits,
        len: usize,
        items: impl Iterator<Item = T>,
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        let dst = self.slice_slot::<T>(limits, len)?;
        let mut filled = Filled { start: dst, len: 0 };
        for item in items.take(len) {
            // SAFETY: `filled.len < len` (`take(len)`), so the slot is inside
            // the fresh allocation and not yet initialised.
            unsafe { dst.add(filled.len).as_ptr().write(item) };
            filled.len += 1;
        }
        let len = filled.len;
        core::mem::forget(filled);
        // SAFETY: the first `len` values are initialised and owned by nothing
        // else; the memory lives as long as `&self`.
        Ok(unsafe { FrameBox::from_raw(NonNull::slice_from_raw_parts(dst, len)) })
    }

    /// Copies `src` into the arena as a string.
    #[expect(
        clippy::mut_from_ref,
        reason = "each call returns fresh, disjoint arena memory"
    )]
    pub(crate) fn str_copy(&self, limits: &ArenaLimits, src: &str) -> Result<&mut str, AllocError> {
        let bytes = FrameBox::leak(self.slice_copy(limits, src.as_bytes())?);
        // SAFETY: the bytes are a copy of a `str`, so they are valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    fn slice_slot<T>(&self, limits: &ArenaLimits, len: usize) -> Result<NonNull<T>, AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| {
            crate::diagnostics::reported(AllocError::SizeOverflow {
                count: len,
                element_size: size_of::<T>(),
            })
        })?;
        self.alloc_layout(layout, limits).map(NonNull::cast)
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
