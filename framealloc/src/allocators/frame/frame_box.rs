//! `FrameBox`: an owning pointer into frame memory.
#![expect(unsafe_code, reason = "a FrameBox owns a value in raw arena memory")]

use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

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
    pub(super) unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        FrameBox {
            ptr,
            _frame: PhantomData,
            _owns: PhantomData,
        }
    }

    /// Consumes the box without running `T`'s destructor and returns its
    /// pointer, which keeps the arena block's provenance (a reference made
    /// from it would cover only the value's bytes).
    pub(super) fn into_raw(boxed: Self) -> NonNull<T> {
        ManuallyDrop::new(boxed).ptr
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
        // SAFETY: `MaybeUninit<T>` has `T`'s layout; the slot is ours alone.
        unsafe { ptr.as_ptr().write(value) };
        // SAFETY: initialised just above; the memory lives for `'frame`.
        unsafe { FrameBox::from_raw(ptr) }
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
        // the memory itself stays with the frame.
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
