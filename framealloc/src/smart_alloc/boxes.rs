//! The pool and heap intents' constructors on [`SmartAlloc`], and (feature
//! `debug`) the leak report: each is a thin entry into
//! `allocators::pool`, kept apart from the allocator handle itself.

use core::mem::MaybeUninit;

use super::SmartAlloc;
use crate::allocators::pool::{self, HeapBox, PoolBox};
use crate::error::AllocError;

impl SmartAlloc {
    /// Moves `value` into the calling thread's small-object pool.
    ///
    /// Objects up to [`AllocConfig::pool_max_size`](crate::AllocConfig::pool_max_size) (4 KiB by default) take
    /// a slot of the smallest size class that fits their size and alignment;
    /// larger or more strictly aligned ones are served by the heap intent.
    /// The fast path pops a thread-local free list: no lock, no atomic.
    ///
    /// # Errors
    ///
    /// [`AllocError::OutOfMemory`] (FA005) when the global allocator refuses
    /// a new page.
    ///
    /// # Example
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct Enemy { hp: u32 }
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let enemy = alloc.pool_box(Enemy { hp: 30 })?;
    /// assert_eq!(enemy.hp, 30);
    /// drop(enemy); // the slot goes back to this thread's free list
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box<T>(&self, value: T) -> Result<PoolBox<T>, AllocError> {
        pool::pool_box_with(self.shared.pools(), || value)
    }

    /// Allocates a pool slot and writes `make()` straight into it, so a
    /// large value need not pass through the stack. `make` runs after the
    /// allocation succeeds; if it panics, the slot is given back.
    ///
    /// # Errors
    ///
    /// As [`pool_box`](Self::pool_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let table = alloc.pool_box_with(|| [7u16; 1024])?;
    /// assert_eq!(table[1023], 7);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_box_with<T>(&self, make: impl FnOnce() -> T) -> Result<PoolBox<T>, AllocError> {
        pool::pool_box_with(self.shared.pools(), make)
    }

    /// A pool box holding `T::default()`.
    ///
    /// # Errors
    ///
    /// As [`pool_box`](Self::pool_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let scores = alloc.pool_alloc::<[u32; 8]>()?;
    /// assert_eq!(*scores, [0; 8]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_alloc<T: Default>(&self) -> Result<PoolBox<T>, AllocError> {
        self.pool_box_with(T::default)
    }

    /// A pool slot for a `T`, left uninitialised; fill it with
    /// [`PoolBox::write`].
    ///
    /// # Errors
    ///
    /// As [`pool_box`](Self::pool_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let slot = alloc.pool_alloc_uninit::<u64>()?;
    /// let value = framealloc::PoolBox::write(slot, 5);
    /// assert_eq!(*value, 5);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn pool_alloc_uninit<T>(&self) -> Result<PoolBox<MaybeUninit<T>>, AllocError> {
        pool::pool_box_uninit(self.shared.pools())
    }

    /// Moves `value` into a block from the global allocator, counted in this
    /// allocator's heap figures.
    ///
    /// # Errors
    ///
    /// [`AllocError::OutOfMemory`] (FA005) when the global allocator refuses.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let level = alloc.heap_box(vec![0u8; 1024])?;
    /// assert_eq!(alloc.stats().heap.allocations, 1);
    /// # drop(level);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box<T>(&self, value: T) -> Result<HeapBox<T>, AllocError> {
        pool::heap_box_with(self.shared.pools(), || value)
    }

    /// Allocates a heap block and writes `make()` straight into it, so a
    /// large value (a level's tile map, a texture) need not pass through the
    /// stack. If `make` panics, the block is given back.
    ///
    /// # Errors
    ///
    /// As [`heap_box`](Self::heap_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let texture = alloc.heap_box_with(|| [0x7fu8; 1 << 20])?;
    /// assert_eq!(texture.len(), 1 << 20);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_box_with<T>(&self, make: impl FnOnce() -> T) -> Result<HeapBox<T>, AllocError> {
        pool::heap_box_with(self.shared.pools(), make)
    }

    /// A heap box holding `T::default()`.
    ///
    /// # Errors
    ///
    /// As [`heap_box`](Self::heap_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let grid = alloc.heap_alloc::<[[u8; 32]; 32]>()?;
    /// assert_eq!(grid[31][31], 0);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_alloc<T: Default>(&self) -> Result<HeapBox<T>, AllocError> {
        self.heap_box_with(T::default)
    }

    /// A heap block for a `T`, left uninitialised: a large value (a level's
    /// tiles, a texture) can be filled in place, with no copy through the
    /// stack. Fill it with [`HeapBox::write`] or through `MaybeUninit`'s
    /// methods.
    ///
    /// # Errors
    ///
    /// As [`heap_box`](Self::heap_box).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let mut tiles = alloc.heap_alloc_uninit::<[u16; 1 << 16]>()?;
    /// let first = tiles.as_mut_ptr().cast::<u16>();
    /// for i in 0..1 << 16 {
    ///     // SAFETY: `i` is within the array the block holds.
    ///     unsafe { first.add(i).write(i as u16) };
    /// }
    /// // SAFETY: every element was written above.
    /// let tiles = unsafe { framealloc::HeapBox::assume_init(tiles) };
    /// assert_eq!(tiles[65_535], 65_535);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn heap_alloc_uninit<T>(&self) -> Result<HeapBox<MaybeUninit<T>>, AllocError> {
        pool::heap_box_uninit(self.shared.pools())
    }

    /// With the `debug` feature: what is still alive, grouped by the line
    /// that allocated it. See [`LeakReport`](crate::diagnostics::LeakReport).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let kept = alloc.pool_box(7u64)?; let line = line!();
    /// let report = alloc.leak_report();
    /// assert_eq!((report.total_count(), report.entries[0].line), (1, line));
    /// drop(kept);
    /// assert!(alloc.leak_report().is_empty());
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg(feature = "debug")]
    pub fn leak_report(&self) -> crate::diagnostics::LeakReport {
        self.shared.observer.leak_report()
    }
}
