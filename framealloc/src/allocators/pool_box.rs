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
use super::pool_page::{CLASS_SIZES, CLASSES, PAGE_SIZE, PageHeader, class_for};
use super::pool_state::PoolState;
use super::thread_heap::{token, with_current_heap};
use crate::budget::current_tag_index;
use crate::error::AllocError;

/// Where a box's memory came from, decided when it was allocated: a pool
/// size class (`0..CLASSES`), the heap, or nothing (zero-sized `T`). One byte,
/// so a box is a pointer plus 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Backing(u8);

impl Backing {
    /// No memory: `T` is zero-sized.
    pub(crate) const NONE: Backing = Backing(u8::MAX);
    /// A heap block with a [`HeapHeader`] in front.
    pub(crate) const HEAP: Backing = Backing(u8::MAX - 1);

    /// Where a `T` goes under a pool limit of `class_limit` classes. The
    /// class search runs at compile time; only the limit is compared here.
    #[inline(always)]
    pub(crate) fn for_type<T>(class_limit: usize) -> Backing {
        let class = const {
            if size_of::<T>() == 0 {
                usize::MAX
            } else {
                class_for(size_of::<T>(), align_of::<T>())
            }
        };
        if class == usize::MAX {
            Backing::NONE
        } else if class < class_limit {
            // `class_limit <= CLASSES < u8::MAX - 1`.
            Backing(class as u8)
        } else {
            Backing::HEAP
        }
    }

    /// The pool class, if this is a pool slot.
    #[inline(always)]
    fn pool_class(self) -> Option<usize> {
        (usize::from(self.0) < CLASSES).then_some(usize::from(self.0))
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

/// What a box owes its allocator's budget: nothing (`0`), or the bytes of
/// its backing charged to the tag with id `charge - 1` (id 0 = untagged).
pub(crate) type Charge = u32;

/// Bytes a backing takes for a `T`: the slot, or the whole heap block.
fn backing_bytes<T>(backing: Backing) -> usize {
    match backing.pool_class() {
        Some(class) => CLASS_SIZES[class],
        None if backing == Backing::HEAP => {
            heap_layout::<T>().map_or(0, |(layout, _)| layout.size())
        }
        None => 0,
    }
}

/// Charges the budget for a `T` with `backing`.
#[cold]
#[inline(never)]
fn charge_budget<T>(state: &PoolState, backing: Backing) -> Result<Charge, AllocError> {
    if backing == Backing::NONE {
        return Ok(0);
    }
    let tag = current_tag_index();
    state
        .budgets
        .charge(tag, backing_bytes::<T>(backing))
        .map_err(crate::diagnostics::reported)?;
    Ok(tag + 1)
}

#[cold]
#[inline(never)]
fn release_budget<T>(state: &PoolState, backing: Backing, charge: Charge) {
    state
        .budgets
        .release(charge - 1, backing_bytes::<T>(backing));
}

/// Allocates room for a `T` with `backing`; returns it with its charge.
#[inline(always)]
pub(crate) fn allocate<T>(
    state: &Arc<PoolState>,
    backing: Backing,
) -> Result<(NonNull<T>, Charge), AllocError> {
    let charge = if state.budgets_enabled {
        charge_budget::<T>(state, backing)?
    } else {
        0
    };
    let ptr = match backing.pool_class() {
        Some(class) => with_current_heap(state, |heap| heap.alloc_slot(class))
            .map(NonNull::cast)
            .ok_or(AllocError::OutOfMemory {
                requested: PAGE_SIZE,
            }),
        None if backing == Backing::HEAP => allocate_heap::<T>(state),
        None => Ok(NonNull::dangling()),
    };
    match ptr {
        Ok(ptr) => Ok((ptr, charge)),
        Err(error) => {
            if charge != 0 {
                release_budget::<T>(state, backing, charge);
            }
            Err(crate::diagnostics::reported(error))
        }
    }
}

#[inline]
fn allocate_heap<T>(state: &Arc<PoolState>) -> Result<NonNull<T>, AllocError> {
    let (layout, offset) = heap_layout::<T>().ok_or(AllocError::SizeOverflow {
        count: 1,
        element_size: size_of::<T>(),
    })?;
    with_current_heap(state, |heap| {
        // SAFETY: the layout is at least as large as the header, so non-zero.
        let block =
            NonNull::new(unsafe { std::alloc::alloc(layout) }).ok_or(AllocError::OutOfMemory {
                requested: layout.size(),
            })?;
        // SAFETY: the block starts with room for the header, suitably aligned.
        unsafe {
            block.cast::<HeapHeader>().write(HeapHeader {
                heap,
                bytes: layout.size(),
            })
        };
        heap.count_heap_alloc(layout.size());
        // SAFETY: `offset` is inside the block (from `Layout::extend`).
        Ok(unsafe { block.add(offset) }.cast())
    })
}

/// Gives back the memory of a value (already dropped) allocated by
/// `allocate`, and its budget charge.
///
/// # Safety
///
/// `ptr`, `backing` and `charge` come from one `allocate::<T>` call, and the
/// memory is not used afterwards.
#[inline(always)]
pub(crate) unsafe fn deallocate<T>(ptr: NonNull<T>, backing: Backing, charge: Charge) {
    if let Some(class) = backing.pool_class() {
        if charge != 0 {
            // SAFETY: a live slot lies in a live page whose heap and state
            // are alive; the budget is released before the slot is freed
            // (after which the state may go away).
            let state = unsafe { &*(*PageHeader::of(ptr.cast()).heap()).state };
            release_budget::<T>(state, backing, charge);
        }
        // SAFETY: forwarded from the caller: a live slot of a live page.
        unsafe { free_slot(ptr.cast(), class) }
    } else if backing == Backing::HEAP {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap(ptr, charge) }
    }
}

/// # Safety
///
/// As [`deallocate`], for a heap-backed `T`.
#[inline(never)]
unsafe fn deallocate_heap<T>(ptr: NonNull<T>, charge: Charge) {
    let Some((layout, offset)) = heap_layout::<T>() else {
        return;
    };
    // SAFETY: the value sits `offset` bytes into its block.
    let block = unsafe { ptr.cast::<u8>().sub(offset) };
    if charge != 0 {
        // SAFETY: the block starts with its header; its heap and state are
        // alive until this block's free is counted, below.
        let state = unsafe { &*(*(*block.cast::<HeapHeader>().as_ptr()).heap).state };
        release_budget::<T>(state, Backing::HEAP, charge);
    }
    // SAFETY: the block and layout come from `allocate_heap`.
    unsafe { free_heap_block(block, layout) }
}

/// # Safety
///
/// `slot` is a live slot of size class `class` handed out by `alloc_slot`,
/// not used afterwards.
#[inline(always)]
unsafe fn free_slot(slot: NonNull<u8>, class: usize) {
    // SAFETY: a live slot lies in a live page (the slot keeps its heap, and
    // so the state and its pages, alive).
    let page = unsafe { PageHeader::of(slot) };
    // SAFETY: as above: the page's heap is alive while its slot is.
    let heap = unsafe { &*page.heap() };
    if heap.owner.load(Ordering::Relaxed) == token() {
        page.push_local(slot);
        heap.count_pool_free(class);
        if page.in_full_list() {
            heap.note_room_in_full(class);
        }
        if page.used() == 0 && heap.closed.load(Ordering::Relaxed) {
            owner_emptied_a_page(heap);
        }
    } else {
        free_slot_remote(page, heap, slot, class);
    }
}

/// The owner emptied a page after the allocator closed: the heap may be
/// empty now and ready to let go.
///
/// Takes a raw pointer, not a reference: letting the heap go may free it
/// (and its state) before this function returns.
#[cold]
#[inline(never)]
fn owner_emptied_a_page(heap: *const LocalHeap) {
    let release = {
        // SAFETY: the caller's slot kept the heap alive until now, and
        // nothing frees it before `finish` below.
        let heap = unsafe { &*heap };
        // SAFETY: a heap's state outlives it.
        let state = unsafe { &*heap.state };
        state.owner_free_after_close(heap)
    };
    release.finish();
}

/// A free from a thread that does not own the slot's heap: one atomic swap
/// onto the page's queue (and, once closed, the locked path).
///
/// Takes raw pointers, not references: once the slot is pushed it no longer
/// keeps the page, heap and state alive.
#[inline(never)]
fn free_slot_remote(
    page: *const PageHeader,
    heap: *const LocalHeap,
    slot: NonNull<u8>,
    class: usize,
) {
    let release = {
        // SAFETY: the slot is still live here, so its page, heap and state are.
        let (page, heap) = unsafe { (&*page, &*heap) };
        // SAFETY: a heap's state outlives it.
        let state = unsafe { &*heap.state };
        if !state.closed.load(Ordering::SeqCst) {
            // Before the push: after it, the slot no longer keeps the heap
            // alive.
            heap.note_remote_free(class);
            page.push_remote(slot);
            return;
        }
        state.free_after_close(heap, || page.push_remote(slot))
    };
    release.finish();
}

/// # Safety
///
/// `block` and `layout` come from `allocate_heap`, not used afterwards.
unsafe fn free_heap_block(block: NonNull<u8>, layout: Layout) {
    // SAFETY: the block starts with the header `allocate_heap` wrote.
    let header = unsafe { block.cast::<HeapHeader>().read() };
    // SAFETY: the block was allocated with `layout` and is freed once.
    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
    let release = {
        // SAFETY: the heap is alive until this free is counted (the block
        // was one of its live objects) and `finish` runs after the last use.
        let heap = unsafe { &*header.heap };
        // SAFETY: a heap's state outlives it.
        let state = unsafe { &*heap.state };
        if heap.owner.load(Ordering::Relaxed) == token() {
            heap.count_heap_free_local(header.bytes);
            if !state.closed.load(Ordering::Relaxed) {
                return;
            }
            state.owner_free_after_close(heap)
        } else if !state.closed.load(Ordering::SeqCst) {
            heap.count_heap_free_remote(header.bytes);
            return;
        } else {
            state.free_after_close(heap, || heap.count_heap_free_remote(header.bytes))
        }
    };
    release.finish();
}

macro_rules! owning_box {
    ($(#[$docs:meta])* $name:ident, $method:ident) => {
        $(#[$docs])*
        pub struct $name<T> {
            /// Invariants: points to an initialised `T` owned by this box,
            /// allocated by `allocate::<T>` with `backing`.
            ptr: NonNull<T>,
            backing: Backing,
            charge: Charge,
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
            pub(crate) unsafe fn from_raw(ptr: NonNull<T>, backing: Backing, charge: Charge) -> Self {
                $name { ptr, backing, charge, _owns: PhantomData }
            }

            /// Moves the value out and frees the memory.
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let boxed = alloc.", stringify!($method), "(String::from(\"hp\"))?;\n",
                "let inner: String = framealloc::", stringify!($name), "::into_inner(boxed);\n",
                "assert_eq!(inner, \"hp\");\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn into_inner(boxed: Self) -> T {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: the box owns an initialised `T`; it is read once and
                // the memory freed once (the box is forgotten).
                unsafe {
                    let value = boxed.ptr.as_ptr().read();
                    deallocate(boxed.ptr, boxed.backing, boxed.charge);
                    value
                }
            }

            /// A raw pointer to the value, valid while the box is.
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let boxed = alloc.", stringify!($method), "(7u64)?;\n",
                "assert_eq!(framealloc::", stringify!($name), "::as_ptr(&boxed) as usize % 8, 0);\n",
                "# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn as_ptr(boxed: &Self) -> *const T {
                boxed.ptr.as_ptr()
            }
        }

        impl<T> $name<MaybeUninit<T>> {
            /// Initialises the value and returns the box typed as `T`.
            ///
            #[doc = concat!(
                "```\nuse std::mem::MaybeUninit;\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let slot = alloc.", stringify!($method), "(MaybeUninit::<[u32; 4]>::uninit())?;\n",
                "let filled = framealloc::", stringify!($name), "::write(slot, [1, 2, 3, 4]);\n",
                "assert_eq!(filled[3], 4);\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn write(boxed: Self, value: T) -> $name<T> {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: `MaybeUninit<T>` has `T`'s layout, so the memory and
                // its backing serve a `T`; it is initialised before retyping.
                unsafe {
                    boxed.ptr.as_ptr().write(MaybeUninit::new(value));
                    $name::from_raw(boxed.ptr.cast::<T>(), boxed.backing, boxed.charge)
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
            #[inline(always)]
            fn drop(&mut self) {
                // SAFETY: the box owns an initialised `T` from `allocate`,
                // dropped and freed exactly once, here.
                unsafe {
                    self.ptr.as_ptr().drop_in_place();
                    deallocate(self.ptr, self.backing, self.charge);
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
    PoolBox, pool_box
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
    HeapBox, heap_box
}

/// Moves `make()` into fresh pool (or, for large types, heap) memory,
/// writing it in place.
#[inline(always)]
pub(crate) fn pool_box_with<T>(
    state: &Arc<PoolState>,
    make: impl FnOnce() -> T,
) -> Result<PoolBox<T>, AllocError> {
    let backing = Backing::for_type::<T>(state.class_limit);
    let (ptr, charge) = emplace(state, backing, make)?;
    // SAFETY: `emplace` initialised the `T` with this backing and charge.
    Ok(unsafe { PoolBox::from_raw(ptr, backing, charge) })
}

/// Moves `make()` into a fresh heap-intent block, writing it in place.
#[inline]
pub(crate) fn heap_box_with<T>(
    state: &Arc<PoolState>,
    make: impl FnOnce() -> T,
) -> Result<HeapBox<T>, AllocError> {
    let backing = if size_of::<T>() == 0 {
        Backing::NONE
    } else {
        Backing::HEAP
    };
    let (ptr, charge) = emplace(state, backing, make)?;
    // SAFETY: `emplace` initialised the `T` with this backing and charge.
    Ok(unsafe { HeapBox::from_raw(ptr, backing, charge) })
}

/// Allocates for a `T` and writes `make()` into it. If `make` panics, the
/// memory (and its budget charge) is given back.
#[inline(always)]
fn emplace<T>(
    state: &Arc<PoolState>,
    backing: Backing,
    make: impl FnOnce() -> T,
) -> Result<(NonNull<T>, Charge), AllocError> {
    struct GiveBackOnUnwind<T> {
        ptr: NonNull<T>,
        backing: Backing,
        charge: Charge,
    }
    impl<T> Drop for GiveBackOnUnwind<T> {
        fn drop(&mut self) {
            // SAFETY: the memory came from `allocate::<T>` with this backing
            // and charge and holds no value (`make` unwound).
            unsafe { deallocate(self.ptr, self.backing, self.charge) };
        }
    }
    let (ptr, charge) = allocate::<T>(state, backing)?;
    let guard = GiveBackOnUnwind {
        ptr,
        backing,
        charge,
    };
    let value = make();
    core::mem::forget(guard);
    // SAFETY: fresh memory for a `T` from `allocate`.
    unsafe { ptr.as_ptr().write(value) };
    Ok((ptr, charge))
}

/// Room for a `T` in the pool, uninitialised.
pub(crate) fn pool_box_uninit<T>(
    state: &Arc<PoolState>,
) -> Result<PoolBox<MaybeUninit<T>>, AllocError> {
    let backing = Backing::for_type::<T>(state.class_limit);
    let (ptr, charge) = allocate::<MaybeUninit<T>>(state, backing)?;
    // SAFETY: a `MaybeUninit` needs no initialisation.
    Ok(unsafe { PoolBox::from_raw(ptr, backing, charge) })
}
