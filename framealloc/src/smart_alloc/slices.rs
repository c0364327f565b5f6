//! Slice boxes and zeroed or uninitialised values on [`SmartAlloc`]: the
//! pool and heap intents' runtime-sized arrays, built in place (each a thin
//! entry into `allocators::pool`).

use core::mem::MaybeUninit;

use super::SmartAlloc;
use crate::allocators::pool::{self, HeapBox, PoolBox};
use crate::error::AllocError;

impl SmartAlloc {
    /// `len` values made by `make(index)`, written in place into a thread-local pool (a class up to the pool limit; larger slices go to the heap, counted as the pool intent's):
    /// a `PoolBox<[T]>`. If `make` panics, the values made so far are dropped
    /// and the memory given back.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let squares = alloc.pool_box_slice_fill_with(5, |i| (i * i) as u32)?;
    /// assert_eq!(&*squares, &[0, 1, 4, 9, 16]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// FA004 when `len` values do not fit in memory's address range; the
    /// pool intent's refusals (budgets, out of memory).
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box_slice_fill_with<T>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> Result<PoolBox<[T]>, AllocError> {
        pool::pool_slice_fill_with(self.shared.pools(), len, make)
    }

    /// A copy of `values` (each element cloned) in a `PoolBox<[T]>`.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let names = alloc.pool_box_slice_clone(&[String::from("ada"), String::from("bo")])?;
    /// assert_eq!(names[1], "bo");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::pool_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box_slice_clone<T: Clone>(&self, values: &[T]) -> Result<PoolBox<[T]>, AllocError> {
        pool::pool_slice_fill_with(self.shared.pools(), values.len(), |i| values[i].clone())
    }

    /// The items of any iterator in a `PoolBox<[T]>`. An iterator that knows
    /// its exact length (`size_hint`) is written in place; any other (a
    /// `filter`, say) is first gathered in a `Vec`, which costs one more
    /// system allocation. An iterator that reports an exact length and then
    /// yields fewer items panics (after dropping what it gave).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let evens = alloc.pool_box_slice_from_iter((0..10u8).filter(|n| n % 2 == 0))?;
    /// assert_eq!(&*evens, &[0, 2, 4, 6, 8]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::pool_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box_slice_from_iter<T>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<PoolBox<[T]>, AllocError> {
        pool::pool_slice_from_iter(self.shared.pools(), items)
    }

    /// The elements of `vec`, moved into a `PoolBox<[T]>` (one copy of their
    /// bytes; `vec`'s buffer goes back to the system allocator).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let level = alloc.pool_box_slice_from_vec(vec![3u16, 1, 2])?;
    /// assert_eq!(level.len(), 3);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::pool_box_slice_fill_with`]. On an error `vec` is
    /// dropped.
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box_slice_from_vec<T>(&self, vec: Vec<T>) -> Result<PoolBox<[T]>, AllocError> {
        pool::pool_slice_from_vec(self.shared.pools(), vec)
    }

    /// Room for `len` `T`s, uninitialised (with the `debug` feature, filled
    /// with [`UNINIT_BYTE`](crate::diagnostics::UNINIT_BYTE)); write them,
    /// then [`PoolBox::assume_init_slice`].
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let mut room = alloc.pool_alloc_slice_uninit::<u32>(4)?;
    /// for (i, slot) in room.iter_mut().enumerate() {
    ///     slot.write(i as u32 * 10);
    /// }
    /// // SAFETY: every element was written above.
    /// let tens = unsafe { framealloc::PoolBox::assume_init_slice(room) };
    /// assert_eq!(&*tens, &[0, 10, 20, 30]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::pool_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_alloc_slice_uninit<T>(
        &self,
        len: usize,
    ) -> Result<PoolBox<[MaybeUninit<T>]>, AllocError> {
        pool::pool_slice_uninit(self.shared.pools(), len)
    }

    /// Room for a `T` with every byte zero, built in place: the way to
    /// make a value too large for the stack (`pool_box([0u8; 16 << 20])`
    /// would first build it there in a debug build). Then
    /// [`PoolBox::assume_init`] when all-zero bytes are a valid `T` (numbers,
    /// arrays of them, `Option<Box<_>>`, …).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let zeroed = alloc.pool_alloc_zeroed::<[u64; 512]>()?;
    /// // SAFETY: zero bytes are a valid `[u64; 512]`.
    /// let table = unsafe { framealloc::PoolBox::assume_init(zeroed) };
    /// assert!(table.iter().all(|&n| n == 0));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The pool intent's refusals (budgets, out of memory).
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_alloc_zeroed<T>(&self) -> Result<PoolBox<MaybeUninit<T>>, AllocError> {
        pool::pool_zeroed(self.shared.pools())
    }

    /// `len` values made by `make(index)`, written in place into one block from the global allocator, counted on the heap intent:
    /// a `HeapBox<[T]>`. If `make` panics, the values made so far are dropped
    /// and the memory given back.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let squares = alloc.heap_box_slice_fill_with(5, |i| (i * i) as u32)?;
    /// assert_eq!(&*squares, &[0, 1, 4, 9, 16]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// FA004 when `len` values do not fit in memory's address range; the
    /// heap intent's refusals (budgets, out of memory).
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box_slice_fill_with<T>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> Result<HeapBox<[T]>, AllocError> {
        pool::heap_slice_fill_with(self.shared.pools(), len, make)
    }

    /// A copy of `values` (each element cloned) in a `HeapBox<[T]>`.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let names = alloc.heap_box_slice_clone(&[String::from("ada"), String::from("bo")])?;
    /// assert_eq!(names[1], "bo");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::heap_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box_slice_clone<T: Clone>(&self, values: &[T]) -> Result<HeapBox<[T]>, AllocError> {
        pool::heap_slice_fill_with(self.shared.pools(), values.len(), |i| values[i].clone())
    }

    /// The items of any iterator in a `HeapBox<[T]>`. An iterator that knows
    /// its exact length (`size_hint`) is written in place; any other (a
    /// `filter`, say) is first gathered in a `Vec`, which costs one more
    /// system allocation. An iterator that reports an exact length and then
    /// yields fewer items panics (after dropping what it gave).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let evens = alloc.heap_box_slice_from_iter((0..10u8).filter(|n| n % 2 == 0))?;
    /// assert_eq!(&*evens, &[0, 2, 4, 6, 8]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::heap_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box_slice_from_iter<T>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<HeapBox<[T]>, AllocError> {
        pool::heap_slice_from_iter(self.shared.pools(), items)
    }

    /// The elements of `vec`, moved into a `HeapBox<[T]>` (one copy of their
    /// bytes; `vec`'s buffer goes back to the system allocator).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let level = alloc.heap_box_slice_from_vec(vec![3u16, 1, 2])?;
    /// assert_eq!(level.len(), 3);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::heap_box_slice_fill_with`]. On an error `vec` is
    /// dropped.
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box_slice_from_vec<T>(&self, vec: Vec<T>) -> Result<HeapBox<[T]>, AllocError> {
        pool::heap_slice_from_vec(self.shared.pools(), vec)
    }

    /// Room for `len` `T`s, uninitialised (with the `debug` feature, filled
    /// with [`UNINIT_BYTE`](crate::diagnostics::UNINIT_BYTE)); write them,
    /// then [`HeapBox::assume_init_slice`].
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let mut room = alloc.heap_alloc_slice_uninit::<u32>(4)?;
    /// for (i, slot) in room.iter_mut().enumerate() {
    ///     slot.write(i as u32 * 10);
    /// }
    /// // SAFETY: every element was written above.
    /// let tens = unsafe { framealloc::HeapBox::assume_init_slice(room) };
    /// assert_eq!(&*tens, &[0, 10, 20, 30]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SmartAlloc::heap_box_slice_fill_with`].
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_alloc_slice_uninit<T>(
        &self,
        len: usize,
    ) -> Result<HeapBox<[MaybeUninit<T>]>, AllocError> {
        pool::heap_slice_uninit(self.shared.pools(), len)
    }

    /// Room for a `T` with every byte zero, built in place: the way to
    /// make a value too large for the stack (`heap_box([0u8; 16 << 20])`
    /// would first build it there in a debug build). Then
    /// [`HeapBox::assume_init`] when all-zero bytes are a valid `T` (numbers,
    /// arrays of them, `Option<Box<_>>`, …).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let zeroed = alloc.heap_alloc_zeroed::<[u64; 512]>()?;
    /// // SAFETY: zero bytes are a valid `[u64; 512]`.
    /// let table = unsafe { framealloc::HeapBox::assume_init(zeroed) };
    /// assert!(table.iter().all(|&n| n == 0));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The heap intent's refusals (budgets, out of memory).
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_alloc_zeroed<T>(&self) -> Result<HeapBox<MaybeUninit<T>>, AllocError> {
        pool::heap_zeroed(self.shared.pools())
    }
}
