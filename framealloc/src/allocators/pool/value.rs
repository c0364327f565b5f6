//! What a [`PoolBox`](crate::PoolBox) or [`HeapBox`](crate::HeapBox) can
//! hold: a sized value, or a slice whose length is known at run time.
#![expect(unsafe_code, reason = "fat pointers are rebuilt from a box's address and length")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::size_class::{class_for, class_of};

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for T {}
    impl<T> Sealed for [T] {}
}

/// The values a [`PoolBox`](crate::PoolBox) or [`HeapBox`](crate::HeapBox)
/// can own: every sized type, and slices `[T]` (made by the `*_slice_*`
/// constructors of [`SmartAlloc`](crate::SmartAlloc)). It is implemented
/// for exactly those and sealed; a box of a sized type is one word (plus
/// the heap's for a `HeapBox`), a box of a slice adds its length.
///
/// ```
/// use framealloc::{HeapBox, PoolBox, SmartAlloc};
///
/// let alloc = SmartAlloc::with_defaults();
/// let one: PoolBox<u32> = alloc.pool_box(7)?;
/// let many: HeapBox<[u32]> = alloc.heap_box_slice_fill_with(3, |i| i as u32)?;
/// assert_eq!((*one, &*many), (7, &[0, 1, 2][..]));
/// # Ok::<(), framealloc::AllocError>(())
/// ```
///
/// # Safety
///
/// Implemented only in this crate (sealed); the items are not public API.
pub unsafe trait BoxValue: sealed::Sealed {
    /// The layout of the value `value` points to (its length, for a slice).
    #[doc(hidden)]
    fn __layout(value: NonNull<Self>) -> Layout;

    /// The pool size class of that layout (a constant for a sized type).
    #[doc(hidden)]
    fn __class(value: NonNull<Self>) -> usize;

    /// The value's pointer from a box's stored one: the stored address with
    /// the `tag` bits cleared, or a dangling, aligned pointer when the value
    /// is zero-sized (its stored address is then a placeholder).
    #[doc(hidden)]
    fn __value(stored: NonNull<Self>, tag: usize) -> NonNull<Self>;
}

// SAFETY: the layout, class and pointer of a `T`.
unsafe impl<T> BoxValue for T {
    #[inline(always)]
    fn __layout(_: NonNull<T>) -> Layout {
        Layout::new::<T>()
    }

    #[inline(always)]
    fn __class(_: NonNull<T>) -> usize {
        const { class_of::<T>() }
    }

    #[inline(always)]
    fn __value(stored: NonNull<T>, tag: usize) -> NonNull<T> {
        if size_of::<T>() == 0 {
            return NonNull::dangling();
        }
        clear(stored, tag)
    }
}

// SAFETY: the layout, class and pointer of `len` `T`s in a row. A slice box
// is made only for a length whose layout exists (`Layout::array` gave it
// when the slice was allocated).
unsafe impl<T> BoxValue for [T] {
    #[inline]
    fn __layout(value: NonNull<[T]>) -> Layout {
        Layout::array::<T>(value.len())
            .unwrap_or_else(|_| unreachable!("a slice box's layout exists"))
    }

    #[inline]
    fn __class(value: NonNull<[T]>) -> usize {
        let layout = Self::__layout(value);
        class_for(layout.size(), layout.align())
    }

    #[inline]
    fn __value(stored: NonNull<[T]>, tag: usize) -> NonNull<[T]> {
        if size_of::<T>() == 0 || stored.is_empty() {
            return NonNull::slice_from_raw_parts(NonNull::dangling(), stored.len());
        }
        clear(stored, tag)
    }
}

/// `stored` with its `tag` bits cleared (metadata kept).
#[inline(always)]
fn clear<V: ?Sized>(stored: NonNull<V>, tag: usize) -> NonNull<V> {
    let value = stored.as_ptr().map_addr(|addr| addr & !tag);
    // SAFETY: a non-zero-sized value's address is a slot or a block's value,
    // at least 8-aligned and not null, so clearing the tag bit (bit 0) keeps
    // it non-null.
    unsafe { NonNull::new_unchecked(value) }
}
