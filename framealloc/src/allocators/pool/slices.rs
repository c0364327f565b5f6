//! Slice boxes and values built in place: runtime-sized arrays on the pool
//! and heap intents, written element by element into their final memory,
//! and zeroed or uninitialised room for large values (which a debug build
//! could not first build on the stack).
#![expect(unsafe_code, reason = "slices are written element by element into fresh memory")]

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::alloc::{
    Pools, allocate_heap, allocate_heap_layout, allocate_pool, allocate_pool_layout,
};
use super::boxes::{HeapBox, PoolBox};
use super::free::Backing;
use super::size_class::class_for;
use crate::error::AllocError;

/// The layout of `len` `T`s, or FA004's size overflow.
fn array_layout<T>(len: usize) -> Result<Layout, AllocError> {
    Layout::array::<T>(len).map_err(|_| {
        crate::error::reported(AllocError::SizeOverflow {
            count: len,
            element_size: size_of::<T>(),
        })
    })
}

/// Writes `len` values from `next` into fresh memory for `layout`
/// (`Layout::array::<T>(len)`). If `next` panics or runs dry, the values
/// written so far are dropped and the memory (and its budget charge) is
/// given back; running dry then panics with a message naming the counts.
fn fill<T, B: Backing>(
    (address, raw): (NonNull<u8>, B),
    layout: Layout,
    len: usize,
    mut next: impl FnMut(usize) -> Option<T>,
) -> B {
    struct Partial<T, B: Backing> {
        raw: B,
        layout: Layout,
        base: *mut T,
        written: usize,
    }
    impl<T, B: Backing> Drop for Partial<T, B> {
        fn drop(&mut self) {
            // SAFETY: the first `written` elements were written and are
            // owned here, dropped once, here.
            unsafe { core::ptr::slice_from_raw_parts_mut(self.base, self.written).drop_in_place() };
            let class = class_for(self.layout.size(), self.layout.align());
            // SAFETY: this allocation for `layout`, whose values are
            // dropped, given back once, here (the guard is forgotten on
            // success).
            unsafe { self.raw.free_layout(self.layout, class) };
        }
    }
    let base = if layout.size() == 0 {
        NonNull::<T>::dangling().as_ptr()
    } else {
        address.cast::<T>().as_ptr()
    };
    let mut partial = Partial {
        raw,
        layout,
        base,
        written: 0,
    };
    while partial.written < len {
        let index = partial.written;
        let Some(value) = next(index) else {
            panic!(
                "framealloc: an iterator reported an exact length of {len} but ended after {index} items"
            );
        };
        // SAFETY: `index < len`: inside the allocation for `len` `T`s (or
        // a dangling, aligned pointer for zero-sized ones)...
        let slot = unsafe { partial.base.add(index) };
        // SAFETY: ...and not yet written.
        unsafe { slot.write(value) };
        partial.written = index + 1;
    }
    let raw = partial.raw;
    core::mem::forget(partial);
    raw
}

/// Moves the elements of `vec` into fresh memory for `layout`
/// (`Layout::array::<T>(vec.len())`); `vec` keeps its (now empty) buffer,
/// which the caller drops.
fn move_from_vec<T, B: Backing>((address, raw): (NonNull<u8>, B), vec: &mut Vec<T>) -> B {
    if size_of::<T>() != 0 && !vec.is_empty() {
        // SAFETY: `vec`'s `len` elements are initialised; the fresh memory
        // holds `len` `T`s and cannot overlap `vec`'s buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(vec.as_ptr(), address.cast::<T>().as_ptr(), vec.len())
        };
    }
    // SAFETY: the elements were moved out (a bitwise copy, now owned by the
    // new memory); length 0 is always valid.
    unsafe { vec.set_len(0) };
    raw
}

macro_rules! slice_constructors {
    ($box:ident, $allocate_layout:ident, $allocate:ident,
     $fill_with:ident, $from_iter:ident, $from_vec:ident, $uninit:ident, $zeroed:ident) => {
        #[cfg_attr(feature = "debug", track_caller)]
        pub(crate) fn $fill_with<T>(
            pools: Pools<'_>,
            len: usize,
            mut make: impl FnMut(usize) -> T,
        ) -> Result<$box<[T]>, AllocError> {
            let layout = array_layout::<T>(len)?;
            let raw = fill($allocate_layout(pools, layout)?, layout, len, |i| {
                Some(make(i))
            });
            // SAFETY: `fill` wrote `len` `T`s into this allocation for them.
            Ok(unsafe { $box::from_raw_slice(raw, len) })
        }

        #[cfg_attr(feature = "debug", track_caller)]
        pub(crate) fn $from_iter<T>(
            pools: Pools<'_>,
            items: impl IntoIterator<Item = T>,
        ) -> Result<$box<[T]>, AllocError> {
            let mut items = items.into_iter();
            match items.size_hint() {
                (low, Some(high)) if low == high => {
                    let layout = array_layout::<T>(low)?;
                    let raw = fill($allocate_layout(pools, layout)?, layout, low, |_| {
                        items.next()
                    });
                    // SAFETY: `fill` wrote `low` `T`s into this allocation.
                    Ok(unsafe { $box::from_raw_slice(raw, low) })
                }
                // The length is known only at the end: gather the items first.
                _ => $from_vec(pools, items.collect()),
            }
        }

        #[cfg_attr(feature = "debug", track_caller)]
        pub(crate) fn $from_vec<T>(
            pools: Pools<'_>,
            mut vec: Vec<T>,
        ) -> Result<$box<[T]>, AllocError> {
            let len = vec.len();
            let layout = array_layout::<T>(len)?;
            let raw = move_from_vec($allocate_layout(pools, layout)?, &mut vec);
            // SAFETY: `len` `T`s were moved into this allocation for them.
            Ok(unsafe { $box::from_raw_slice(raw, len) })
        }

        #[cfg_attr(feature = "debug", track_caller)]
        pub(crate) fn $uninit<T>(
            pools: Pools<'_>,
            len: usize,
        ) -> Result<$box<[MaybeUninit<T>]>, AllocError> {
            let layout = array_layout::<T>(len)?;
            let (address, raw) = $allocate_layout(pools, layout)?;
            fill_bytes(
                address,
                layout.size(),
                crate::diagnostics::UNINIT_BYTE,
                cfg!(feature = "debug"),
            );
            // SAFETY: `MaybeUninit`s need no initialisation.
            Ok(unsafe { $box::from_raw_slice(raw, len) })
        }

        #[cfg_attr(feature = "debug", track_caller)]
        pub(crate) fn $zeroed<T>(pools: Pools<'_>) -> Result<$box<MaybeUninit<T>>, AllocError> {
            let (address, raw) = $allocate::<MaybeUninit<T>>(pools)?;
            fill_bytes(address.cast(), size_of::<T>(), 0, true);
            // SAFETY: `MaybeUninit`s need no initialisation.
            Ok(unsafe { $box::from_raw(raw) })
        }
    };
}

slice_constructors!(
    PoolBox,
    allocate_pool_layout,
    allocate_pool,
    pool_slice_fill_with,
    pool_slice_from_iter,
    pool_slice_from_vec,
    pool_slice_uninit,
    pool_zeroed
);

slice_constructors!(
    HeapBox,
    allocate_heap_layout,
    allocate_heap,
    heap_slice_fill_with,
    heap_slice_from_iter,
    heap_slice_from_vec,
    heap_slice_uninit,
    heap_zeroed
);

/// Fills `size` fresh bytes at `address` with `byte` when `wanted`.
#[inline]
fn fill_bytes(address: NonNull<u8>, size: usize, byte: u8, wanted: bool) {
    if wanted && size != 0 {
        // SAFETY: `address` is a fresh allocation of at least `size` bytes
        // (non-zero), owned by the caller and not yet handed out.
        unsafe { address.as_ptr().write_bytes(byte, size) };
    }
}
