//! The pool and heap intents' allocation and free paths: what a box holds
//! (`PoolRaw`, `HeapRaw`), the inlined fast paths and the cold paths behind
//! them. The box types themselves are in `boxes`.

use core::alloc::Layout;
use core::ptr::{self, NonNull};
use std::sync::Arc;

use super::local_heap::{HEAP_ALIGN, LocalHeap, OWNER_FLAGS};
use super::pool_page::{CLASS_SIZES, CLASSES, PAGE_SIZE, PageHeader, class_for};
use super::pool_state::PoolState;
use super::thread_heap::{
    cached_heap, current_token, if_cached, is_my_open_heap, with_current_heap,
};
use crate::budget::{Events, current_tag_index};
use crate::error::AllocError;

/// The raw parts of a box: where its value is, and how to give the memory
/// back. Implemented by [`PoolRaw`] and [`HeapRaw`].
pub(crate) trait Backing: Copy {
    /// The value's address (dangling for a zero-sized `T`).
    fn value<T>(self) -> NonNull<T>;

    /// Gives back the memory of a value (already dropped or moved out) and
    /// its budget charge.
    ///
    /// # Safety
    ///
    /// `self` comes from an allocation for a `T` and the memory is not used
    /// afterwards.
    unsafe fn free<T>(self);
}

/// A `PoolBox`'s one word: the value's address, with [`PoolRaw::HEAP_BLOCK`]
/// set when the value went to the heap (a class above the pool limit, or an
/// alignment no class honours).
///
/// A pool slot needs nothing more: its page header names its heap, and a
/// budgeted page keeps the tag each slot is charged to. A heap block starts
/// with a [`Meta`] header. Slots and blocks are at least 8-aligned, so bit 0
/// is free.
#[derive(Clone, Copy)]
pub(crate) struct PoolRaw(NonNull<u8>);

impl PoolRaw {
    const HEAP_BLOCK: usize = 1;

    #[inline(always)]
    fn is_slot(self) -> bool {
        self.0.addr().get() & PoolRaw::HEAP_BLOCK == 0
    }
}

impl Backing for PoolRaw {
    #[inline(always)]
    fn value<T>(self) -> NonNull<T> {
        if size_of::<T>() == 0 {
            return NonNull::dangling();
        }
        let value = self.0.as_ptr().map_addr(|addr| addr & !PoolRaw::HEAP_BLOCK);
        // SAFETY: slots and blocks are at least 8-aligned and not at address
        // 0, so clearing bit 0 leaves a non-null address.
        unsafe { NonNull::new_unchecked(value) }.cast()
    }

    #[inline(always)]
    unsafe fn free<T>(self) {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_pool::<T>(self) }
    }
}

/// A `HeapBox`'s two words: the value's address and the heap that counted
/// it. With budgets on, the block also starts with its charge (see
/// [`charge_header`]), and the heap's owner word carries `BUDGETED`, which
/// sends every free to the path that reads it.
#[derive(Clone, Copy)]
pub(crate) struct HeapRaw {
    ptr: NonNull<u8>,
    heap: *const LocalHeap,
}

impl Backing for HeapRaw {
    #[inline(always)]
    fn value<T>(self) -> NonNull<T> {
        self.ptr.cast()
    }

    #[inline(always)]
    unsafe fn free<T>(self) {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap::<T>(self) }
    }
}

/// The header of a `PoolBox` whose value went to the heap: the heap that
/// counted the block, with in its low bits (heaps are aligned to
/// `HEAP_ALIGN`) the budget charge, `tag id + 1`, from bit
/// [`Meta::CHARGE_SHIFT`] (0: nothing charged).
#[derive(Clone, Copy)]
struct Meta(*const LocalHeap);

impl Meta {
    const CHARGE_SHIFT: u32 = 1;

    fn new(heap: &LocalHeap, charge: Charge) -> Meta {
        let bits = (charge as usize) << Meta::CHARGE_SHIFT;
        Meta(ptr::from_ref(heap).map_addr(|addr| addr | bits))
    }

    fn charge(self) -> Charge {
        ((self.0.addr() & (HEAP_ALIGN - 1)) >> Meta::CHARGE_SHIFT) as Charge
    }

    fn heap(self) -> *const LocalHeap {
        self.0.map_addr(|addr| addr & !(HEAP_ALIGN - 1))
    }
}

// Every charge (`tag id + 1 <= MAX_TAGS + 1`) fits below the heap alignment.
const _: () = assert!((crate::budget::MAX_TAGS + 1) << Meta::CHARGE_SHIFT < HEAP_ALIGN);

/// What an allocation owes its allocator's budget: nothing (`0`), or the
/// bytes of its backing charged to the tag with id `charge - 1` (id 0 =
/// untagged).
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
enum Intent {
    /// A pool slot when the size class allows, else a heap block.
    Pool,
    /// A heap block.
    Heap,
}

/// The size class of a `T` (`CLASSES` when no class can hold it).
const fn class_of<T>() -> usize {
    class_for(size_of::<T>(), align_of::<T>())
}

/// Room for a `T` on the pool intent. The fast path, inlined: a slot popped
/// from the calling thread's cached heap. Every other case (no cached heap,
/// budgets on, a class above the pool limit, an empty free list) goes
/// through [`allocate_slow`].
#[inline(always)]
pub(crate) fn allocate_pool<T>(pools: Pools<'_>) -> Result<(NonNull<T>, PoolRaw), AllocError> {
    if size_of::<T>() == 0 {
        return Ok((NonNull::dangling(), PoolRaw(NonNull::dangling())));
    }
    let class = const { class_of::<T>() };
    if class < CLASSES
        && let Some(heap) = cached_heap(pools.fast_key)
    {
        // SAFETY: the cached heap is the calling thread's own, alive while
        // its allocator (`pools.state`, borrowed) is.
        let heap = unsafe { heap.as_ref() };
        // Classes at or above the pool limit never hold free slots, so a
        // slot found here is one the limit allows.
        if let Some(slot) = heap.pop_free(class) {
            return Ok((slot.cast(), PoolRaw(slot)));
        }
    }
    let fresh = allocate_slow(pools.state, Layout::new::<T>(), class, Intent::Pool)?;
    let raw = if fresh.heap_block {
        PoolRaw(fresh.value.map_addr(|addr| addr | PoolRaw::HEAP_BLOCK))
    } else {
        PoolRaw(fresh.value)
    };
    Ok((fresh.value.cast(), raw))
}

/// Room for a `T` on the heap intent. The fast path, inlined: a block from
/// the global allocator, counted on the calling thread's cached heap.
#[inline(always)]
pub(crate) fn allocate_heap<T>(pools: Pools<'_>) -> Result<(NonNull<T>, HeapRaw), AllocError> {
    let layout = Layout::new::<T>();
    if size_of::<T>() == 0 {
        let ptr = NonNull::<T>::dangling();
        return Ok((
            ptr,
            HeapRaw {
                ptr: ptr.cast(),
                heap: ptr::null(),
            },
        ));
    }
    if let Some(heap) = cached_heap(pools.fast_key)
        // SAFETY: `T` is not zero-sized (tested above).
        && let Some(block) = NonNull::new(unsafe { std::alloc::alloc(layout) })
    {
        // SAFETY: as in `allocate_pool`.
        unsafe { heap.as_ref() }.count_heap_alloc(layout.size());
        let heap = heap.as_ptr().cast_const();
        return Ok((block.cast(), HeapRaw { ptr: block, heap }));
    }
    let fresh = allocate_slow(pools.state, layout, CLASSES, Intent::Heap)?;
    Ok((
        fresh.value.cast(),
        HeapRaw {
            ptr: fresh.value,
            heap: fresh.heap,
        },
    ))
}

/// Memory from [`allocate_slow`].
struct Fresh {
    value: NonNull<u8>,
    /// The heap that counted it.
    heap: *const LocalHeap,
    /// A pool-intent value that went to the heap (behind a [`Meta`]).
    heap_block: bool,
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
) -> Result<Fresh, AllocError> {
    let class = (class < state.class_limit).then_some(class);
    let bytes = class.map_or(layout.size(), |class| CLASS_SIZES[class]);
    let mut events = Events::default();
    let (tag, reservation) = if state.budgets_enabled {
        let tag = current_tag_index();
        match state.budgets.reserve(tag, bytes, &mut events) {
            Ok(reservation) => (tag, Some(reservation)),
            Err(error) => {
                state.budgets.emit_all(events);
                return Err(crate::diagnostics::reported(error));
            }
        }
    } else {
        (0, None)
    };
    let charge = if reservation.is_some() { tag + 1 } else { 0 };
    let result = with_current_heap(state, |heap| {
        if let Some(class) = class {
            let slot = heap.alloc_slot(class).ok_or(AllocError::OutOfMemory {
                requested: PAGE_SIZE,
            })?;
            if charge != 0 {
                // SAFETY: a slot just handed out by this heap, whose pages are
                // budgeted when its allocator's budgets are on; tag ids fit
                // in a byte (`pool_page`).
                unsafe { PageHeader::of(slot).set_tag(slot, tag as u8) };
            }
            let heap = ptr::from_ref(heap);
            return Ok(Fresh {
                value: slot,
                heap,
                heap_block: false,
            });
        }
        // A pool-intent block starts with its `Meta`; a heap-intent block of
        // a budgeted allocator with its charge.
        let header = match intent {
            Intent::Pool => Some(header_for::<Meta>(layout)),
            Intent::Heap if charge != 0 => Some(charge_header(layout)),
            Intent::Heap => None,
        };
        let (block_layout, offset) = match header {
            Some(header) => header.ok_or(AllocError::SizeOverflow {
                count: 1,
                element_size: layout.size(),
            })?,
            None => (layout, 0),
        };
        // SAFETY: callers never allocate zero-sized values.
        let block = unsafe { std::alloc::alloc(block_layout) };
        let block = NonNull::new(block).ok_or(AllocError::OutOfMemory {
            requested: block_layout.size(),
        })?;
        // SAFETY: the block starts with room for its header, aligned for it
        // (`header_for`).
        unsafe {
            match intent {
                Intent::Pool => block.cast::<Meta>().write(Meta::new(heap, charge)),
                Intent::Heap if charge != 0 => block.cast::<Charge>().write(charge),
                Intent::Heap => {}
            }
        }
        heap.count_heap_alloc(layout.size());
        // SAFETY: `offset` lies inside the block (`Layout::extend`).
        let value = unsafe { block.add(offset) };
        let heap = ptr::from_ref(heap);
        Ok(Fresh {
            value,
            heap,
            heap_block: intent == Intent::Pool,
        })
    });
    // The bytes count (and may raise the peak) only once they exist.
    if let Some(reservation) = reservation {
        match &result {
            Ok(_) => state.budgets.commit(reservation, &mut events),
            Err(_) => state.budgets.cancel(reservation),
        }
        state.budgets.emit_all(events);
    }
    result.map_err(crate::diagnostics::reported)
}

/// Gives back the memory of a `PoolBox`'s value (already dropped) and its
/// budget charge. The pool-slot path is inlined.
///
/// # Safety
///
/// `raw` comes from `allocate_pool::<T>`, and the memory is not used
/// afterwards.
#[inline(always)]
unsafe fn deallocate_pool<T>(raw: PoolRaw) {
    if size_of::<T>() == 0 {
        return;
    }
    if raw.is_slot() {
        // SAFETY: forwarded from the caller: a live slot of class `class_of::<T>()`.
        unsafe { free_slot(raw.0, const { class_of::<T>() }) }
    } else {
        // SAFETY: forwarded from the caller: the value of a heap block.
        unsafe { deallocate_pool_block(raw.value(), Layout::new::<T>()) }
    }
}

/// Gives back the memory of a `HeapBox`'s value (already dropped) and counts
/// the free. The owner's free with budgets off is inlined.
///
/// # Safety
///
/// `raw` comes from `allocate_heap::<T>`, and the memory is not used
/// afterwards.
#[inline(always)]
unsafe fn deallocate_heap<T>(raw: HeapRaw) {
    if size_of::<T>() == 0 {
        return;
    }
    let layout = Layout::new::<T>();
    let HeapRaw { ptr, heap } = raw;
    // SAFETY: the block is live, so the heap that counted it is.
    if is_my_open_heap(unsafe { (*heap).owner_word() }) {
        // SAFETY: a block with `T`'s layout and no header (the heap is not
        // budgeted), freed once; then counted on the heap the calling
        // thread owns.
        unsafe {
            std::alloc::dealloc(ptr.as_ptr(), layout);
            (*heap).count_heap_free_local(layout.size());
        }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap_slow(ptr, layout, heap) }
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
    // SAFETY: the block, counted by `heap`, was just freed.
    unsafe { count_heap_free_slow(heap, layout.size()) };
}

/// The layout of a block that starts with an `H`, then the value: the
/// block layout and the value's offset. `None` when the size overflows.
fn header_for<H>(value: Layout) -> Option<(Layout, usize)> {
    let (layout, offset) = Layout::new::<H>().extend(value).ok()?;
    Some((layout.pad_to_align(), offset))
}

/// The layout of a budgeted `HeapBox` block: its charge, then the value.
fn charge_header(value: Layout) -> Option<(Layout, usize)> {
    header_for::<Charge>(value)
}

/// Frees a `PoolBox` value that went to the heap: reads the block's
/// [`Meta`], releases the charge and counts the free. `layout` is the
/// value's.
///
/// # Safety
///
/// `value` is the value of a live pool-intent heap block allocated for
/// `layout`, not used afterwards.
#[cold]
#[inline(never)]
unsafe fn deallocate_pool_block(value: NonNull<u8>, layout: Layout) {
    let Some((block_layout, offset)) = header_for::<Meta>(layout) else {
        return; // not allocated: `allocate_slow` refuses such a layout
    };
    // SAFETY: the value sits `offset` bytes into its block, which starts
    // with its `Meta`.
    let block = unsafe { value.sub(offset) };
    // SAFETY: as above.
    let meta = unsafe { block.cast::<Meta>().read() };
    let heap = meta.heap();
    let charge = meta.charge();
    if charge != 0 {
        // SAFETY: the block is live, so its heap and state are; the budget
        // is released before the free is counted (after which the state may
        // go away).
        let state = unsafe { &*(*heap).state };
        state.budgets.release(charge - 1, layout.size());
    }
    // SAFETY: forwarded from the caller: a block counted by `heap`.
    unsafe { free_block(block, block_layout, heap, layout.size()) }
}

/// # Safety
///
/// - `slot` is a live slot of size class `class` handed out by
///   `allocate_pool`, whose value is dropped, not used afterwards.
#[inline(always)]
unsafe fn free_slot(slot: NonNull<u8>, class: usize) {
    // SAFETY: a live slot lies in a live page (the slot keeps its heap, and
    // so the state and its pages, alive).
    let page = unsafe { PageHeader::of(slot) };
    if let Some(mine) = if_cached(page.key()) {
        // SAFETY: the caller's slot, of `class`, in a page of the heap the
        // calling thread owns (the page's key is its heap's, untagged: the
        // allocator is open and its budgets off).
        unsafe { mine.as_ref().push_free(class, slot) }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { free_slot_slow(page, slot, class) };
    }
}

/// A free from a thread that does not own the slot's heap (one
/// compare-and-swap onto the page's remote stack), or from its owner with
/// budgets on; everything else goes on to [`free_slot_rare`].
///
/// Takes a raw page pointer, not a reference: once the free is counted, the
/// slot no longer keeps the page, heap and state alive.
///
/// # Safety
///
/// As [`free_slot`]; `page` is the slot's page.
#[cold]
#[inline(never)]
unsafe fn free_slot_slow(page: *const PageHeader, slot: NonNull<u8>, class: usize) {
    // SAFETY: the slot is still live here, so its page, heap and state are.
    let page_ref = unsafe { &*page };
    let heap_ptr = page_ref.heap();
    // SAFETY: as above.
    let heap = unsafe { &*heap_ptr };
    if page_ref.is_budgeted() {
        // SAFETY: a live slot of this budgeted page, held by the caller.
        let tag = unsafe { page_ref.tag_of(slot) };
        // SAFETY: the slot keeps the state alive until its free is counted.
        unsafe { &*heap.state }
            .budgets
            .release(u32::from(tag), CLASS_SIZES[class]);
    }
    if heap.owner_word() & !OWNER_FLAGS != current_token() {
        // Before the push: after it, the slot no longer keeps the heap alive.
        heap.note_remote_free(class);
        // SAFETY: the caller gives the live slot up.
        if unsafe { page_ref.push_remote(slot, false) }.is_ok() {
            return;
        }
    }
    // SAFETY: forwarded; the slot is still live (not pushed).
    unsafe { free_slot_rare(page, heap_ptr, slot, class) }
}

/// The rest of [`free_slot_slow`]: the owner's free (budgets on, or after
/// the close), or another thread's free refused by a closed page, which
/// takes the locked after-close path.
///
/// # Safety
///
/// As [`free_slot`]; `page` is the slot's page and `heap_ptr` its heap.
#[cold]
#[inline(never)]
unsafe fn free_slot_rare(
    page: *const PageHeader,
    heap_ptr: *const LocalHeap,
    slot: NonNull<u8>,
    class: usize,
) {
    // SAFETY: the slot is still live here, so its heap and state are.
    let heap = unsafe { &*heap_ptr };
    let state = heap.state;
    let release = if heap.owner_token() == current_token() {
        if !heap.is_closed() {
            // SAFETY: the owner's free of a live slot of its heap.
            unsafe { heap.push_free(class, slot) };
            return;
        }
        // SAFETY: `state` was read while the slot kept the heap alive; the
        // closure frees that one slot as its owner.
        unsafe { PoolState::free_after_close(state, heap_ptr, |heap| heap.push_free(class, slot)) }
    } else {
        let push_counted = |_: &LocalHeap| {
            // SAFETY: the lock-free push was refused (the page is closed),
            // so the slot is still ours to give up; this pushes it
            // (counted) under the heaps lock.
            let _ = unsafe { (*page).push_remote(slot, true) };
        };
        // SAFETY: `state` was read while the slot kept the heap alive; the
        // closure frees that one slot.
        unsafe { PoolState::free_after_close(state, heap_ptr, push_counted) }
    };
    release.finish();
}

/// Frees a block and counts the free of its `bytes` on its heap.
///
/// # Safety
///
/// - `block` and `layout` come from one allocation counted by `heap`; the
///   block is not used afterwards.
unsafe fn free_block(block: NonNull<u8>, layout: Layout, heap: *const LocalHeap, bytes: usize) {
    // SAFETY: the block was allocated with `layout` and is freed once.
    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
    // SAFETY: the heap is alive until this free is counted (the block was
    // one of its live objects).
    if is_my_open_heap(unsafe { (*heap).owner_word() }) {
        // SAFETY: as above; the calling thread owns the heap.
        unsafe { (*heap).count_heap_free_local(bytes) }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { count_heap_free_slow(heap, bytes) };
    }
}

/// Counts a heap-intent free made by another thread, or by the owner after
/// the allocator closed or with budgets on.
///
/// Takes a raw pointer: counting the free may let the heap (and its state)
/// go before this function returns.
///
/// # Safety
///
/// - `heap` counted a live block whose memory was just freed, and whose
///   free is counted only here.
#[cold]
#[inline(never)]
pub(crate) unsafe fn count_heap_free_slow(heap_ptr: *const LocalHeap, bytes: usize) {
    // SAFETY: the heap is alive until the free is counted.
    let heap = unsafe { &*heap_ptr };
    let state = heap.state;
    let release = if heap.owner_token() == current_token() {
        if !heap.is_closed() {
            heap.count_heap_free_local(bytes);
            return;
        }
        // SAFETY: `state` was read while the block kept the heap alive; the
        // closure counts that one free as the owner.
        unsafe {
            PoolState::free_after_close(state, heap_ptr, |heap| heap.count_heap_free_local(bytes))
        }
    } else {
        if heap.count_heap_free_remote(bytes, false).is_ok() {
            return;
        }
        // SAFETY: as above; the refused free is counted under the lock.
        unsafe {
            PoolState::free_after_close(state, heap_ptr, |heap| {
                let _ = heap.count_heap_free_remote(bytes, true);
            })
        }
    };
    release.finish();
}
