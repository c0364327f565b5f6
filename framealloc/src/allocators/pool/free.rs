//! The pool and heap intents' free paths: the owner's inlined fast paths
//! (a push onto its own free list; a block freed and counted on its own
//! heap), the remote paths (one compare-and-swap that also counts) and the
//! locked after-close path.
#![expect(unsafe_code, reason = "freed slots and blocks are handed back through raw pointers")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::heap::{LocalHeap, OWNER_FLAGS, heap_of};
use super::lifecycle::PoolState;
use super::owned::OwnedHeap;
use super::page::PageHeader;
use super::raw::{Charge, HeapRaw, Meta, PoolRaw, charge_header, header_for};
use super::size_class::{CLASS_SIZES, class_of};
use super::thread_heap::{current_token, if_cached, is_my_open_heap};
use crate::allocators::poison;
use crate::diagnostics::Intent;

/// The raw parts of a box: where its value is, and how to give the memory
/// back. Implemented by [`PoolRaw`] and [`HeapRaw`].
pub(crate) trait Backing: Copy {
    /// What a box keeps beside the value's (stored) address: nothing for a
    /// pool box, the counting heap for a heap box.
    type Extra: Copy;

    /// The bits of the stored address that are flags, not address.
    const TAG: usize;

    /// The stored address (with its flags) and the extra word.
    fn split(self) -> (NonNull<u8>, Self::Extra);

    /// The inverse of [`Backing::split`].
    fn join(stored: NonNull<u8>, extra: Self::Extra) -> Self;

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

    /// Gives back the memory of a value of `layout` (already dropped or
    /// moved out) and its budget charge; `class` is
    /// `class_for(layout.size(), layout.align())`, a constant for a sized
    /// type (so this is [`Backing::free`]'s code once inlined).
    ///
    /// # Safety
    ///
    /// `self` comes from an allocation for `layout` (`allocate_pool_layout`
    /// or `allocate_heap_layout`, or the typed ones for a type of that
    /// layout) and the memory is not used afterwards.
    unsafe fn free_layout(self, layout: Layout, class: usize);
}

impl Backing for PoolRaw {
    type Extra = ();
    const TAG: usize = PoolRaw::HEAP_BLOCK;

    #[inline(always)]
    fn split(self) -> (NonNull<u8>, ()) {
        (self.0, ())
    }

    #[inline(always)]
    fn join(stored: NonNull<u8>, (): ()) -> PoolRaw {
        PoolRaw(stored)
    }

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
        unsafe { self.free_layout(Layout::new::<T>(), const { class_of::<T>() }) }
    }

    #[inline(always)]
    unsafe fn free_layout(self, layout: Layout, class: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_pool(self, layout, class) }
    }
}

impl Backing for HeapRaw {
    type Extra = *const LocalHeap;
    const TAG: usize = 0;

    #[inline(always)]
    fn split(self) -> (NonNull<u8>, *const LocalHeap) {
        (self.ptr, self.heap)
    }

    #[inline(always)]
    fn join(ptr: NonNull<u8>, heap: *const LocalHeap) -> HeapRaw {
        HeapRaw { ptr, heap }
    }

    #[inline(always)]
    fn value<T>(self) -> NonNull<T> {
        self.ptr.cast()
    }

    #[inline(always)]
    unsafe fn free<T>(self) {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap(self, Layout::new::<T>()) }
    }

    #[inline(always)]
    unsafe fn free_layout(self, layout: Layout, _class: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { deallocate_heap(self, layout) }
    }
}

/// Gives back the memory of a `PoolBox`'s value (already dropped) and its
/// budget charge. The pool-slot path is inlined.
///
/// # Safety
///
/// `raw` comes from an allocation for `layout` (`allocate_pool::<T>` for a
/// `T` of that layout, or `allocate_pool_layout`), `class` is
/// `class_for(layout.size(), layout.align())`, and the memory is not used
/// afterwards.
#[inline(always)]
unsafe fn deallocate_pool(raw: PoolRaw, layout: Layout, class: usize) {
    if layout.size() == 0 {
        return;
    }
    if raw.is_slot() {
        // SAFETY: forwarded from the caller: a live slot of class `class`.
        unsafe { free_slot(raw.0, class) }
    } else {
        // SAFETY: forwarded from the caller: the value of a heap block.
        unsafe { deallocate_pool_block(raw.value::<u8>(), layout) }
    }
}

/// Gives back the memory of a `HeapBox`'s value (already dropped) and counts
/// the free. The owner's free with budgets off is inlined.
///
/// # Safety
///
/// `raw` comes from an allocation for `layout` (`allocate_heap::<T>` for a
/// `T` of that layout, or `allocate_heap_layout`), and the memory is not
/// used afterwards.
#[inline(always)]
unsafe fn deallocate_heap(raw: HeapRaw, layout: Layout) {
    if layout.size() == 0 {
        return;
    }
    let HeapRaw { ptr, heap } = raw;
    // SAFETY: the block is live, so the heap that counted it is.
    if is_my_open_heap(unsafe { (*heap).owner_word() }) {
        // SAFETY: a block with `T`'s layout and no header (the heap is not
        // budgeted), freed once; then counted on the heap the calling
        // thread owns.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        // SAFETY: the owner word holds this thread's token, so the thread
        // owns the heap; the block kept it alive until this free is counted.
        unsafe { OwnedHeap::from_ptr(heap) }.count_heap_free_local(layout.size());
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
        // Before the free: the block keeps the state alive.
        let observer = &PoolState::of(heap_ref).observer;
        observer.free(ptr.as_ptr(), layout.size(), Intent::Heap);
        // SAFETY: the caller's live block, given up here (its value is
        // dropped); nothing reads it again.
        unsafe { poison::freed(ptr, layout.size()) };
        let Some((block_layout, offset)) = charge_header(layout) else {
            return; // not allocated: `allocate_slow` refuses such a layout
        };
        // SAFETY: the value sits `offset` bytes into its block, which starts
        // with the charge.
        let block = unsafe { ptr.sub(offset) };
        // SAFETY: as above.
        let charge = unsafe { block.cast::<Charge>().read() };
        if charge != 0 {
            // The budget is released before the free is counted (after
            // which the state may go away).
            PoolState::of(heap_ref)
                .budgets
                .release(charge - 1, layout.size());
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
    {
        // SAFETY: the block is live, so its heap is.
        let observer = &PoolState::of(unsafe { &*heap }).observer;
        observer.free(value.as_ptr(), layout.size(), Intent::Heap);
        // SAFETY: as in `deallocate_heap_slow`: the caller's value bytes,
        // given up here.
        unsafe { poison::freed(value, layout.size()) };
    }
    if charge != 0 {
        // SAFETY: the block is live, so its heap is.
        let heap = unsafe { &*heap };
        // The budget is released before the free is counted (after which
        // the state may go away).
        PoolState::of(heap)
            .budgets
            .release(charge - 1, layout.size());
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
        unsafe { mine.push_free(class, slot) }
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
    let heap_ptr = heap_of(page_ref);
    // SAFETY: as above.
    let heap = unsafe { &*heap_ptr };
    if page_ref.is_budgeted() {
        // SAFETY: a live slot of this budgeted page and `class`, held by the
        // caller, whose heap is `heap`.
        unsafe { release_watched_slot(page_ref, heap, slot, class) };
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

/// The budgeted part of [`free_slot_slow`], out of line so that the remote
/// free of an unwatched allocator keeps its small stack frame (P6, P14):
/// tells the observer, poisons (feature `debug`) and releases the charge.
///
/// # Safety
///
/// `slot` is a live slot of class `class` in `page`, a budgeted page of
/// `heap`, held by the caller (who frees it next).
#[cold]
#[inline(never)]
unsafe fn release_watched_slot(
    page: &PageHeader,
    heap: &LocalHeap,
    slot: NonNull<u8>,
    class: usize,
) {
    // The slot keeps the state alive until its free is counted.
    let state = PoolState::of(heap);
    state
        .observer
        .free(slot.as_ptr(), CLASS_SIZES[class], Intent::Pool);
    // SAFETY: the caller's live slot of this class, given up here.
    unsafe { poison::freed(slot, CLASS_SIZES[class]) };
    if state.budgets_enabled {
        // SAFETY: a live slot of this budgeted page, held by the caller.
        let tag = unsafe { page.tag_of(slot) };
        state.budgets.release(u32::from(tag), CLASS_SIZES[class]);
    }
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
    let state = PoolState::ptr_of(heap);
    let release = if heap.owner_token() == current_token() {
        // SAFETY: the owner word holds this thread's token: the thread owns
        // the heap (it gives it up only from its own thread-local
        // destructor, or under the heaps lock after the close).
        let mine = unsafe { OwnedHeap::assume(heap) };
        if !heap.is_closed() {
            // SAFETY: the owner's free of a live slot of its heap.
            unsafe { mine.push_free(class, slot) };
            return;
        }
        let push_own = |_: &LocalHeap| {
            // SAFETY: as above, under the heaps lock.
            unsafe { mine.push_free(class, slot) }
        };
        // SAFETY: `state` was read while the slot kept the heap alive; the
        // closure frees that one slot as its owner.
        unsafe { PoolState::free_after_close(state, heap_ptr, push_own) }
    } else {
        let push_counted = |_: &LocalHeap| {
            // SAFETY: the slot is still live (its push was refused), so its
            // page is.
            let page = unsafe { &*page };
            // SAFETY: the lock-free push was refused (the page is closed),
            // so the slot is still ours to give up; this pushes it
            // (counted) under the heaps lock.
            let _ = unsafe { page.push_remote(slot, true) };
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
        // SAFETY: as above; the owner word holds this thread's token, so the
        // thread owns the heap.
        unsafe { OwnedHeap::from_ptr(heap) }.count_heap_free_local(bytes);
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
    let state = PoolState::ptr_of(heap);
    let release = if heap.owner_token() == current_token() {
        // SAFETY: the owner word holds this thread's token, so the thread
        // owns the heap (see `free_slot_rare`).
        let mine = unsafe { OwnedHeap::assume(heap) };
        if !heap.is_closed() {
            mine.count_heap_free_local(bytes);
            return;
        }
        // SAFETY: `state` was read while the block kept the heap alive; the
        // closure counts that one free as the owner.
        unsafe {
            PoolState::free_after_close(state, heap_ptr, |_| mine.count_heap_free_local(bytes))
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
