//! The pool and heap intents' allocation and free paths: what a box's
//! second word (`Meta`) means, the inlined fast paths and the cold paths
//! behind them. The box types themselves are in `boxes`.

use core::alloc::Layout;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;
use std::sync::Arc;

use super::local_heap::{HEAP_ALIGN, LocalHeap};
use super::pool_page::{CLASS_SIZES, CLASSES, PAGE_SIZE, PageHeader, class_for};
use super::pool_state::PoolState;
use super::thread_heap::{cached_heap, if_cached, owns_open, token, with_current_heap};
use crate::budget::current_tag_index;
use crate::error::AllocError;

/// A box's second word: where its memory came from and what it owes.
///
/// In a `PoolBox`: null for a pool slot with no budget charge, the common
/// case, which drop recognises with one compare (the slot's page header
/// names its heap). Otherwise the heap that counted the allocation, with in
/// its low bits (heaps are aligned to `HEAP_ALIGN`) the budget charge,
/// `tag id + 1`, from bit [`Meta::CHARGE_SHIFT`] (0: nothing charged), and
/// [`Meta::HEAP_BLOCK`] when the value went to the heap.
///
/// In a `HeapBox`: the bare heap pointer. With budgets on, the charge sits in
/// a header in front of the value instead (see [`charge_header`]), and the
/// heap's owner word carries `BUDGETED`, which sends every free to the path
/// that reads it.
#[derive(Clone, Copy)]
pub(crate) struct Meta(*const LocalHeap);

impl Meta {
    /// A pool slot, nothing charged; also used for zero-sized values.
    const POOL: Meta = Meta(ptr::null());
    const HEAP_BLOCK: usize = 1;
    const CHARGE_SHIFT: u32 = 1;

    /// The meta of a fresh allocation counted by `heap`.
    /// `heap_block`: set the [`Meta::HEAP_BLOCK`] bit (a `PoolBox` whose
    /// value went to the heap). A `HeapBox`'s meta is never null.
    fn new(heap: &LocalHeap, heap_block: bool, charge: Charge) -> Meta {
        let bits = usize::from(heap_block) | (charge as usize) << Meta::CHARGE_SHIFT;
        Meta(ptr::from_ref(heap).map_addr(|addr| addr | bits))
    }

    #[inline(always)]
    fn is_uncharged_pool(self) -> bool {
        self.0.is_null()
    }

    fn is_heap_block(self) -> bool {
        self.0.addr() & Meta::HEAP_BLOCK != 0
    }

    fn charge(self) -> Charge {
        ((self.0.addr() & (HEAP_ALIGN - 1)) >> Meta::CHARGE_SHIFT) as Charge
    }

    /// The heap (not null: only for a meta that is not [`Meta::POOL`]).
    #[inline(always)]
    fn heap(self) -> *const LocalHeap {
        self.0.map_addr(|addr| addr & !(HEAP_ALIGN - 1))
    }
}

// Every charge (`tag id + 1 <= MAX_TAGS + 1`) fits below the heap alignment.
const _: () = assert!((crate::budget::MAX_TAGS + 1) << Meta::CHARGE_SHIFT < HEAP_ALIGN);

/// What a box owes its allocator's budget: nothing (`0`), or the bytes of
/// its backing charged to the tag with id `charge - 1` (id 0 = untagged).
pub(crate) type Charge = u32;

/// An allocator's pool state, with a copy of its fast key (`PoolState::fast_key`)
/// kept next to the handle so the fast path needs one load less.
#[derive(Clone, Copy)]
pub(crate) struct Pools<'a> {
    pub(crate) state: &'a Arc<PoolState>,
    pub(crate) fast_key: u64,
}

/// Which intent an allocation is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// A pool slot when the size class allows, else a heap block.
    Pool,
    /// A heap block.
    Heap,
}

/// The size class of a `T` (`CLASSES` when no class can hold it).
const fn class_of<T>() -> usize {
    class_for(size_of::<T>(), align_of::<T>())
}

/// Allocates room for a `T` for `intent`.
///
/// The fast paths, inlined: a pool slot popped from the calling thread's
/// cached heap, or a block from the global allocator counted there. Every
/// other case (no cached heap, budgets on, a class above the pool limit, an
/// empty free list) goes through [`allocate_slow`].
#[inline(always)]
pub(crate) fn allocate<T>(
    pools: Pools<'_>,
    intent: Intent,
) -> Result<(NonNull<T>, Meta), AllocError> {
    let Pools { state, fast_key } = pools;
    if size_of::<T>() == 0 {
        return Ok((NonNull::dangling(), Meta::POOL));
    }
    let class = const { class_of::<T>() };
    let layout = Layout::new::<T>();
    if let Some(heap) = cached_heap(fast_key) {
        // SAFETY: the cached heap is the calling thread's own, alive while
        // its allocator (`state`, borrowed) is.
        let heap = unsafe { heap.as_ref() };
        if intent == Intent::Pool && class < CLASSES {
            // Classes at or above the pool limit never hold free slots, so
            // a slot found here is one the limit allows.
            if let Some(slot) = heap.pop_free(class) {
                return Ok((slot.cast(), Meta::POOL));
            }
        } else if intent == Intent::Heap {
            // SAFETY: `T` is not zero-sized (tested above).
            if let Some(block) = NonNull::new(unsafe { std::alloc::alloc(layout) }) {
                heap.count_heap_alloc(layout.size());
                return Ok((block.cast(), Meta(heap)));
            }
        }
    }
    let class = if intent == Intent::Pool {
        class
    } else {
        CLASSES
    };
    allocate_slow(state, layout, class, intent).map(|(ptr, meta)| (ptr.cast(), meta))
}

/// Every allocation the fast paths do not serve; `class` is `CLASSES` for
/// the heap intent. Charges the budget first when budgets are on.
#[cold]
#[inline(never)]
fn allocate_slow(
    state: &Arc<PoolState>,
    layout: Layout,
    class: usize,
    intent: Intent,
) -> Result<(NonNull<u8>, Meta), AllocError> {
    let class = (class < state.class_limit).then_some(class);
    let bytes = class.map_or(layout.size(), |class| CLASS_SIZES[class]);
    let charge = if state.budgets_enabled {
        let tag = current_tag_index();
        state
            .budgets
            .charge(tag, bytes)
            .map_err(crate::diagnostics::reported)?;
        tag + 1
    } else {
        0
    };
    let result = with_current_heap(state, |heap| {
        let ptr = match class {
            Some(class) => heap.alloc_slot(class).ok_or(AllocError::OutOfMemory {
                requested: PAGE_SIZE,
            })?,
            None => {
                // A `HeapBox` of a budgeted allocator keeps its charge in a
                // header; a `PoolBox` keeps it in its meta.
                let (block_layout, offset) = if intent == Intent::Heap && state.budgets_enabled {
                    charge_header(layout).ok_or(AllocError::SizeOverflow {
                        count: 1,
                        element_size: layout.size(),
                    })?
                } else {
                    (layout, 0)
                };
                // SAFETY: callers never allocate zero-sized values.
                let block = unsafe { std::alloc::alloc(block_layout) };
                let block = NonNull::new(block).ok_or(AllocError::OutOfMemory {
                    requested: block_layout.size(),
                })?;
                if offset != 0 {
                    // SAFETY: the block starts with room for the charge,
                    // aligned for it (`charge_header`).
                    unsafe { block.cast::<Charge>().write(charge) };
                }
                heap.count_heap_alloc(layout.size());
                // SAFETY: `offset` lies inside the block (`Layout::extend`).
                unsafe { block.add(offset) }
            }
        };
        let meta = match (class, intent) {
            (Some(_), _) if charge == 0 => Meta::POOL,
            (_, Intent::Pool) => Meta::new(heap, class.is_none(), charge),
            (_, Intent::Heap) => Meta(heap),
        };
        Ok((ptr, meta))
    });
    if result.is_err() && charge != 0 {
        state.budgets.release(charge - 1, bytes);
    }
    result.map_err(crate::diagnostics::reported)
}

/// Gives back the memory of a value (already dropped) allocated by
/// `allocate::<T>`, and its budget charge. The pool fast path is inlined.
///
/// # Safety
///
/// `ptr` and `meta` come from one `allocate::<T>` call, and the memory is not
/// used afterwards.
#[inline(always)]
pub(crate) unsafe fn deallocate<T>(ptr: NonNull<T>, meta: Meta) {
    if size_of::<T>() == 0 {
        return;
    }
    if meta.is_uncharged_pool() {
        // SAFETY: forwarded from the caller: a live slot of class `class_of::<T>()`.
        unsafe { free_slot(ptr.cast(), const { class_of::<T>() }) }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_slow(ptr.cast(), Layout::new::<T>(), meta) }
    }
}

/// Gives back the memory of a `HeapBox`'s value (already dropped) and counts
/// the free. The owner's free with budgets off is inlined.
///
/// # Safety
///
/// `ptr` and `meta` come from one `allocate::<T>(_, Intent::Heap)` call, and
/// the memory is not used afterwards.
#[inline(always)]
pub(crate) unsafe fn deallocate_heap<T>(ptr: NonNull<T>, meta: Meta) {
    if size_of::<T>() == 0 {
        return;
    }
    let layout = Layout::new::<T>();
    let heap = meta.0;
    // SAFETY: the block is live, so the heap that counted it is.
    if unsafe { owns_open(heap) } {
        // SAFETY: a block with `T`'s layout and no header (the heap is not
        // budgeted), freed once; then counted on the heap the calling
        // thread owns.
        unsafe {
            std::alloc::dealloc(ptr.as_ptr().cast(), layout);
            (*heap).count_heap_free_local(layout.size());
        }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap_slow(ptr.cast(), layout, heap) }
    }
}

/// A `HeapBox` free by another thread, after the allocator closed, or with
/// budgets on (the charge is read from the block's header and released).
///
/// # Safety
///
/// As [`deallocate_heap`]; `layout` is the value's and `heap` the box's.
#[cold]
#[inline(never)]
unsafe fn deallocate_heap_slow(ptr: NonNull<u8>, layout: Layout, heap: *const LocalHeap) {
    // SAFETY: the block is live, so its heap and state are.
    let heap_ref = unsafe { &*heap };
    let (block, block_layout) = if heap_ref.is_budgeted() {
        let Some((block_layout, offset)) = charge_header(layout) else {
            return; // not allocated: `allocate_slow` refuses such a layout
        };
        // SAFETY: the value sits `offset` bytes into its block, which starts
        // with the charge.
        let block = unsafe { ptr.sub(offset) };
        // SAFETY: as above.
        let charge = unsafe { block.cast::<Charge>().read() };
        if charge != 0 {
            // SAFETY: the budget is released before the free is counted
            // (after which the state may go away).
            let state = unsafe { &*heap_ref.state };
            state.budgets.release(charge - 1, layout.size());
        }
        (block, block_layout)
    } else {
        (ptr, layout)
    };
    // SAFETY: the block and its layout come from `allocate_slow` (or the
    // fast path, with no header), freed once.
    unsafe { std::alloc::dealloc(block.as_ptr(), block_layout) };
    count_heap_free_slow(heap, layout.size());
}

/// The layout of a budgeted `HeapBox` block: its charge, then the value.
/// Returns the block layout and the value's offset.
fn charge_header(value: Layout) -> Option<(Layout, usize)> {
    let (layout, offset) = Layout::new::<Charge>().extend(value).ok()?;
    Some((layout.pad_to_align(), offset))
}

/// Every `PoolBox` free the inlined path does not serve: charged memory, and
/// values that went to the heap. `layout` is the value's.
///
/// # Safety
///
/// As [`deallocate`]; `meta` is not [`Meta::POOL`].
#[cold]
#[inline(never)]
unsafe fn deallocate_slow(ptr: NonNull<u8>, layout: Layout, meta: Meta) {
    let heap = meta.heap();
    let class = (!meta.is_heap_block()).then(|| class_for(layout.size(), layout.align()));
    let charge = meta.charge();
    if charge != 0 {
        // SAFETY: the memory is live, so its heap and state are; the budget
        // is released before the memory is freed (after which the state may
        // go away).
        let state = unsafe { &*(*heap).state };
        let bytes = class.map_or(layout.size(), |class| CLASS_SIZES[class]);
        state.budgets.release(charge - 1, bytes);
    }
    match class {
        // SAFETY: forwarded from the caller: a live slot of that class.
        Some(class) => unsafe { free_slot(ptr, class) },
        // SAFETY: forwarded from the caller: a block counted by `heap`.
        None => unsafe { free_block(ptr, layout, heap) },
    }
}

/// # Safety
///
/// `slot` is a live slot of size class `class` handed out by `allocate`,
/// not used afterwards.
#[inline(always)]
unsafe fn free_slot(slot: NonNull<u8>, class: usize) {
    // SAFETY: a live slot lies in a live page (the slot keeps its heap, and
    // so the state and its pages, alive).
    let page = unsafe { PageHeader::of(slot) };
    // SAFETY: a live page's heap word is never null.
    if let Some(mine) = unsafe { if_cached(page.heap_word()) } {
        // SAFETY: the caller's slot, of `class`, in a page of the heap the
        // calling thread owns (and the page is not closed).
        unsafe { mine.as_ref().push_free(class, slot) }
    } else {
        free_slot_slow(page, page.heap(), slot, class);
    }
}

/// A free from a thread that does not own the slot's heap (one atomic swap
/// onto the page's queue; once closed, the locked path), or from its owner
/// after the allocator closed.
///
/// Takes raw pointers, not references: once the slot is pushed it no longer
/// keeps the page, heap and state alive.
#[cold]
#[inline(never)]
fn free_slot_slow(
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
        if heap.owner_token() == token() {
            // SAFETY: the owner's free of a live slot of this heap.
            unsafe { heap.push_free(class, slot) };
            if !heap.is_closed() {
                return;
            }
            state.owner_free_after_close(heap)
        } else if !state.closed.load(Ordering::SeqCst) {
            // Before the push: after it, the slot no longer keeps the heap
            // alive.
            heap.note_remote_free(class);
            page.push_remote(slot);
            return;
        } else {
            state.free_after_close(heap, || page.push_remote(slot))
        }
    };
    release.finish();
}

/// Frees a heap-intent block and counts the free on its heap.
///
/// # Safety
///
/// `block` and `layout` come from one heap-intent allocation counted by
/// `heap`; the block is not used afterwards.
#[inline(always)]
unsafe fn free_block(block: NonNull<u8>, layout: Layout, heap: *const LocalHeap) {
    // SAFETY: the block was allocated with `layout` and is freed once.
    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
    // SAFETY: the heap is alive until this free is counted (the block was
    // one of its live objects).
    if unsafe { owns_open(heap) } {
        // SAFETY: as above; the calling thread owns the heap.
        unsafe { (*heap).count_heap_free_local(layout.size()) }
    } else {
        count_heap_free_slow(heap, layout.size());
    }
}

/// Counts a heap-intent free made by another thread, or by the owner after
/// the allocator closed.
///
/// Takes a raw pointer: counting the free may let the heap (and its state)
/// go before this function returns.
#[cold]
#[inline(never)]
fn count_heap_free_slow(heap: *const LocalHeap, bytes: usize) {
    let release = {
        // SAFETY: the heap is alive until the free is counted, and `finish`
        // runs after the last use.
        let heap = unsafe { &*heap };
        // SAFETY: a heap's state outlives it.
        let state = unsafe { &*heap.state };
        if heap.owner_token() == token() {
            heap.count_heap_free_local(bytes);
            if !heap.is_closed() {
                return;
            }
            state.owner_free_after_close(heap)
        } else if !state.closed.load(Ordering::SeqCst) {
            heap.count_heap_free_remote(bytes);
            return;
        } else {
            state.free_after_close(heap, || heap.count_heap_free_remote(bytes))
        }
    };
    release.finish();
}
