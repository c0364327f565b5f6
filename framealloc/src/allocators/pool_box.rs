//! `PoolBox` and `HeapBox`: owning pointers with no lifetime, freed on drop
//! from any thread.

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use std::sync::Arc;

use super::local_heap::LocalHeap;
use super::pool_page::{CLASSES, PageHeader, class_for};
use super::pool_state::PoolState;
use super::thread_heap::{heap_for_current_thread, token};
use crate::error::AllocError;

/// Where a box's memory came from, decided when it was allocated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Backing {
    /// No memory: `T` is zero-sized.
    None,
    /// A pool slot of this size class.
    Pool(usize),
    /// A heap block with a [`HeapHeader`] in front.
    Heap,
}

impl Backing {
    /// Where a `T` goes under `state`'s pool limit.
    pub(crate) const fn for_type<T>(class_limit: usize) -> Backing {
        if size_of::<T>() == 0 {
            return Backing::None;
        }
        let class = class_for(size_of::<T>(), align_of::<T>());
        if class < class_limit && class < CLASSES {
            Backing::Pool(class)
        } else {
            Backing::Heap
        }
    }
}

/// The header in front of every heap-intent block.
#[repr(C)]
struct HeapHeader {
    heap: *const LocalHeap,
    bytes: usize,
}

/// The block layout for a heap-intent `T` and the offset of the value in it.
fn heap_layout<T>() -> Option<(Layout, usize)> {
    let (layout, offset) = Layout::new::<HeapHeader>()
        .extend(Layout::new::<T>())
        .ok()?;
    Some((layout.pad_to_align(), offset))
}

/// Allocates room for a `T` (not zero-sized) and returns it with its backing.
pub(crate) fn allocate<T>(state: &Arc<PoolState>) -> Result<(NonNull<T>, Backing), AllocError> {
    let backing = Backing::for_type::<T>(state.class_limit);
    let ptr = match backing {
        Backing::None => NonNull::dangling(),
        Backing::Pool(class) => {
            let heap = heap_for_current_thread(state);
            heap.heap()
                .alloc_slot(class)
                .ok_or(AllocError::OutOfMemory {
                    requested: super::pool_page::PAGE_SIZE,
                })?
                .cast()
        }
        Backing::Heap => allocate_heap::<T>(state)?,
    };
    Ok((ptr, backing))
}

fn allocate_heap<T>(state: &Arc<PoolState>) -> Result<NonNull<T>, AllocError> {
    let (layout, offset) = heap_layout::<T>().ok_or(AllocError::SizeOverflow {
        count: 1,
        element_size: size_of::<T>(),
    })?;
    let heap = heap_for_current_thread(state);
    // SAFETY: the layout is at least as large as the header, so non-zero.
    let block =
        NonNull::new(unsafe { std::alloc::alloc(layout) }).ok_or(AllocError::OutOfMemory {
            requested: layout.size(),
        })?;
    // SAFETY: the block starts with room for the header, suitably aligned.
    unsafe {
        block.cast::<HeapHeader>().write(HeapHeader {
            heap: heap.heap(),
            bytes: layout.size(),
        })
    };
    heap.heap().count_heap_alloc(layout.size());
    // SAFETY: `offset` is inside the block (from `Layout::extend`).
    Ok(unsafe { block.add(offset) }.cast())
}

/// Gives back the memory of a value (already dropped) allocated by
/// `allocate`.
///
/// # Safety
///
/// `ptr` and `backing` come from one `allocate::<T>` call, and the memory is
/// not used afterwards.
pub(crate) unsafe fn deallocate<T>(ptr: NonNull<T>, backing: Backing) {
    match backing {
        Backing::None => {}
        // SAFETY: forwarded from the caller: a live slot of a live page.
        Backing::Pool(_) => unsafe { free_slot(ptr.cast()) },
        Backing::Heap => {
            let Some((layout, offset)) = heap_layout::<T>() else {
                return;
            };
            // SAFETY: the value sits `offset` bytes into its block.
            unsafe { free_heap_block(ptr.cast::<u8>().sub(offset), layout) }
        }
    }
}

/// # Safety
///
/// `slot` is a live slot handed out by `alloc_slot`, not used afterwards.
#[inline(always)]
unsafe fn free_slot(slot: NonNull<u8>) {
    // SAFETY: a live slot lies in a live page (the slot keeps its heap, and
    // so the state and its pages, alive).
    let page = unsafe { PageHeader::of(slot) };
    // SAFETY: as above: the page's heap is alive while its slot is.
    let heap = unsafe { &*page.heap() };
    // SAFETY: a heap's state outlives it.
    let state = unsafe { &*heap.state };
    if heap.owner.load(Ordering::Relaxed) == token() {
        page.push_local(slot);
        heap.counters.pool_frees[page.class()].add(1);
        if state.closed.load(Ordering::Relaxed) {
            state.owner_free_after_close(heap);
        }
    } else if !state.closed.load(Ordering::SeqCst) {
        page.push_remote(slot);
    } else {
        state.free_after_close(heap, || page.push_remote(slot));
    }
}

/// # Safety
///
/// `block` and `layout` come from `allocate_heap`, not used afterwards.
unsafe fn free_heap_block(block: NonNull<u8>, layout: Layout) {
    // SAFETY: the block starts with the header `allocate_heap` wrote.
    let header = unsafe { block.cast::<HeapHeader>().read() };
    // SAFETY: the block was allocated with `layout` and is freed once.
    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
    // SAFETY: the heap is alive until this free is counted (it is one of its
    // live objects).
    let heap = unsafe { &*header.heap };
    // SAFETY: a heap's state outlives it.
    let state = unsafe { &*heap.state };
    if heap.owner.load(Ordering::Relaxed) == token() {
        heap.count_heap_free_local(header.bytes);
        if state.closed.load(Ordering::Relaxed) {
            state.owner_free_after_close(heap);
        }
    } else if !state.closed.load(Ordering::SeqCst) {
        heap.count_heap_free_remote(header.bytes);
    } else {
        state.free_after_close(heap, || heap.count_heap_free_remote(header.bytes));
    }
}

macro_rules! owning_box {
    ($(#[$docs:meta])* $name:ident) => {
        $(#[$docs])*
        pub struct $name<T> {
            /// Invariants: points to an initialised `T` owned by this box,
            /// allocated by `allocate::<T>` with `backing`.
            ptr: NonNull<T>,
            backing: Backing,
            _owns: PhantomData<T>,
        }

        // SAFETY: the box owns its `T` like `Box<T>`; freeing works from any
        // thread (remote frees), so sending the box is sending a `T`.
        unsafe impl<T: Send> Send for $name<T> {}
        // SAFETY: `&Box` gives only `&T`.
        unsafe impl<T: Sync> Sync for $name<T> {}

        impl<T> $name<T> {
            /// # Safety
            ///
            /// `ptr` holds an initialised `T` from `allocate::<T>` with
            /// `backing`, owned by nothing else.
            pub(crate) unsafe fn from_raw(ptr: NonNull<T>, backing: Backing) -> Self {
                $name { ptr, backing, _owns: PhantomData }
            }

            /// Moves the value out and frees the memory.
            pub fn into_inner(boxed: Self) -> T {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: the box owns an initialised `T`; it is read once and
                // the memory freed once (the box is forgotten).
                unsafe {
                    let value = boxed.ptr.as_ptr().read();
                    deallocate(boxed.ptr, boxed.backing);
                    value
                }
            }

            /// A raw pointer to the value, valid while the box is.
            pub fn as_ptr(boxed: &Self) -> *const T {
                boxed.ptr.as_ptr()
            }
        }

        impl<T> $name<MaybeUninit<T>> {
            /// Initialises the value and returns the box typed as `T`.
            pub fn write(boxed: Self, value: T) -> $name<T> {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: `MaybeUninit<T>` has `T`'s layout, so the memory and
                // its backing serve a `T`; it is initialised before retyping.
                unsafe {
                    boxed.ptr.as_ptr().write(MaybeUninit::new(value));
                    $name::from_raw(boxed.ptr.cast::<T>(), boxed.backing)
                }
            }
        }

        impl<T> Deref for $name<T> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: type invariant.
                unsafe { self.ptr.as_ref() }
            }
        }

        impl<T> DerefMut for $name<T> {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: type invariant; `&mut self` is the only access.
                unsafe { self.ptr.as_mut() }
            }
        }

        impl<T> Drop for $name<T> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the box owns an initialised `T` from `allocate`,
                // dropped and freed exactly once, here.
                unsafe {
                    self.ptr.as_ptr().drop_in_place();
                    deallocate(self.ptr, self.backing);
                }
            }
        }

        impl<T: fmt::Debug> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: fmt::Display> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }

        impl<T: PartialEq> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                **self == **other
            }
        }

        impl<T: Eq> Eq for $name<T> {}

        impl<T> AsRef<T> for $name<T> {
            fn as_ref(&self) -> &T {
                self
            }
        }

        impl<T> AsMut<T> for $name<T> {
            fn as_mut(&mut self) -> &mut T {
                self
            }
        }
    };
}

owning_box! {
    /// A value in a thread-local small-object pool, freed when dropped.
    ///
    /// `PoolBox<T>` has no lifetime: it stays valid after every
    /// [`SmartAlloc`](crate::SmartAlloc) handle is gone and after the thread
    /// that allocated it exits, and it can be dropped on any thread. Dropping
    /// it on the allocating thread pushes the slot onto that thread's free
    /// list; on another thread it costs one atomic swap onto the page's
    /// remote queue, which the owner takes back in batches. It is `Send` and
    /// `Sync` exactly when `T` is.
    ///
    /// Types larger than the pool limit, or aligned more than their size
    /// class can honour, are served by the heap intent instead and counted
    /// there.
    ///
    /// # Example
    ///
    /// ```
    /// use framealloc::{PoolBox, SmartAlloc};
    ///
    /// let alloc = SmartAlloc::with_defaults();
    /// let mut hp: PoolBox<u32> = alloc.pool_box(100)?;
    /// *hp -= 1;
    /// let handle = std::thread::spawn(move || *hp); // freed on the other thread
    /// assert_eq!(handle.join().unwrap(), 99);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    PoolBox
}

owning_box! {
    /// A value on the heap intent: one block from the global allocator,
    /// counted in the allocator's statistics, freed when dropped.
    ///
    /// Like [`PoolBox`], it has no lifetime, can be dropped on any thread and
    /// is `Send`/`Sync` exactly when `T` is.
    ///
    /// # Example
    ///
    /// ```
    /// use framealloc::SmartAlloc;
    ///
    /// let alloc = SmartAlloc::with_defaults();
    /// let texture = alloc.heap_box([0u8; 65536])?;
    /// assert_eq!(texture.len(), 65536);
    /// assert_eq!(alloc.stats().heap.live_bytes as usize, 65536 + 16);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    HeapBox
}

/// Moves `value` into fresh pool (or, for large types, heap) memory.
pub(crate) fn pool_box<T>(state: &Arc<PoolState>, value: T) -> Result<PoolBox<T>, AllocError> {
    let (ptr, backing) = allocate::<T>(state)?;
    // SAFETY: fresh memory for a `T`; initialised before the box owns it.
    unsafe {
        ptr.as_ptr().write(value);
        Ok(PoolBox::from_raw(ptr, backing))
    }
}

/// Moves `value` into a fresh heap-intent block.
pub(crate) fn heap_box<T>(state: &Arc<PoolState>, value: T) -> Result<HeapBox<T>, AllocError> {
    let (ptr, backing) = if size_of::<T>() == 0 {
        (NonNull::dangling(), Backing::None)
    } else {
        (allocate_heap::<T>(state)?, Backing::Heap)
    };
    // SAFETY: fresh memory for a `T`; initialised before the box owns it.
    unsafe {
        ptr.as_ptr().write(value);
        Ok(HeapBox::from_raw(ptr, backing))
    }
}

/// Room for a `T` in the pool, uninitialised.
pub(crate) fn pool_box_uninit<T>(
    state: &Arc<PoolState>,
) -> Result<PoolBox<MaybeUninit<T>>, AllocError> {
    let (ptr, backing) = allocate::<MaybeUninit<T>>(state)?;
    // SAFETY: a `MaybeUninit` needs no initialisation.
    Ok(unsafe { PoolBox::from_raw(ptr, backing) })
}
