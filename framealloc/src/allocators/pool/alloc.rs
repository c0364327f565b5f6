//! The pool and heap intents' allocation paths: the inlined fast paths (a
//! slot popped from the calling thread's cached heap; a block from the
//! global allocator counted there) and the cold path behind them.
#![expect(unsafe_code, reason = "fresh slots and blocks are written and typed here")]

use core::alloc::Layout;
use core::ptr::{self, NonNull};
use std::sync::Arc;

use super::heap::LocalHeap;
use super::lifecycle::PoolState;
use super::page::{PAGE_SIZE, PageHeader};
use super::raw::{Charge, HeapRaw, Meta, PoolRaw, charge_header, header_for};
use super::size_class::{CLASS_SIZES, CLASSES, class_for, class_of};
use super::thread_heap::{cached_heap, with_current_heap};
use crate::budget::{Events, current_tag_index};
use crate::diagnostics::{self as observed, Site, site};
use crate::error::AllocError;

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

/// Room for a `T` on the pool intent. The fast path, inlined: a slot popped
/// from the calling thread's cached heap. Every other case (no cached heap,
/// budgets on, a class above the pool limit, an empty free list) goes
/// through [`allocate_slow`]. An allocator whose budgets are on or whose
/// observer watches allocations has a fast key no cache holds, so it always
/// takes the slow path.
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn allocate_pool<T>(pools: Pools<'_>) -> Result<(NonNull<T>, PoolRaw), AllocError> {
    if size_of::<T>() == 0 {
        return Ok((NonNull::dangling(), PoolRaw(NonNull::dangling())));
    }
    let (value, raw) = allocate_pool_sized(pools, Layout::new::<T>(), const { class_of::<T>() })?;
    Ok((value.cast(), raw))
}

/// Room for a value of `layout` (a slice's, known at run time) on the pool
/// intent: [`allocate_pool`]'s paths with the class computed here. For a
/// zero-sized layout the pointer is dangling (and not aligned: the caller
/// makes its own).
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn allocate_pool_layout(
    pools: Pools<'_>,
    layout: Layout,
) -> Result<(NonNull<u8>, PoolRaw), AllocError> {
    if layout.size() == 0 {
        return Ok((NonNull::dangling(), PoolRaw(NonNull::dangling())));
    }
    allocate_pool_sized(pools, layout, class_for(layout.size(), layout.align()))
}

/// The pool intent's paths for a layout of non-zero size whose class is
/// `class` (a constant when inlined into [`allocate_pool`]).
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
fn allocate_pool_sized(
    pools: Pools<'_>,
    layout: Layout,
    class: usize,
) -> Result<(NonNull<u8>, PoolRaw), AllocError> {
    if class < CLASSES
        && let Some(heap) = cached_heap(pools.fast_key)
    {
        // Classes at or above the pool limit never hold free slots, so a
        // slot found here is one the limit allows.
        if let Some(slot) = heap.pop_free(class) {
            return Ok((slot, PoolRaw(slot)));
        }
    }
    let fresh = allocate_slow(pools.state, layout, class, Intent::Pool, site())?;
    let raw = if fresh.heap_block {
        PoolRaw(fresh.value.map_addr(|addr| addr | PoolRaw::HEAP_BLOCK))
    } else {
        PoolRaw(fresh.value)
    };
    Ok((fresh.value, raw))
}

/// Room for a `T` on the heap intent. The fast path, inlined: a block from
/// the global allocator, counted on the calling thread's cached heap.
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn allocate_heap<T>(pools: Pools<'_>) -> Result<(NonNull<T>, HeapRaw), AllocError> {
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
    let (value, raw) = allocate_heap_sized(pools, Layout::new::<T>())?;
    Ok((value.cast(), raw))
}

/// Room for a value of `layout` (a slice's, known at run time) on the heap
/// intent: [`allocate_heap`]'s paths. For a zero-sized layout the pointer
/// is dangling (and not aligned: the caller makes its own).
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn allocate_heap_layout(
    pools: Pools<'_>,
    layout: Layout,
) -> Result<(NonNull<u8>, HeapRaw), AllocError> {
    if layout.size() == 0 {
        let ptr = NonNull::dangling();
        return Ok((
            ptr,
            HeapRaw {
                ptr,
                heap: ptr::null(),
            },
        ));
    }
    allocate_heap_sized(pools, layout)
}

/// The heap intent's paths for a layout of non-zero size.
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
fn allocate_heap_sized(
    pools: Pools<'_>,
    layout: Layout,
) -> Result<(NonNull<u8>, HeapRaw), AllocError> {
    if let Some(heap) = cached_heap(pools.fast_key)
        // SAFETY: `layout` is not zero-sized (the callers' promise).
        && let Some(block) = NonNull::new(unsafe { std::alloc::alloc(layout) })
    {
        heap.count_heap_alloc(layout.size());
        let heap = ptr::from_ref(heap.heap());
        return Ok((block, HeapRaw { ptr: block, heap }));
    }
    let fresh = allocate_slow(pools.state, layout, CLASSES, Intent::Heap, site())?;
    Ok((
        fresh.value,
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
/// the heap intent. Charges the budget first when budgets are on, and tells
/// the observer (with the caller's `site`) once the memory exists.
#[cold]
#[inline(never)]
fn allocate_slow(
    state: &Arc<PoolState>,
    layout: Layout,
    class: usize,
    intent: Intent,
    site: Site,
) -> Result<Fresh, AllocError> {
    let class = (class < state.class_limit).then_some(class);
    let bytes = class.map_or(layout.size(), |class| CLASS_SIZES[class]);
    let mut events = Events::default();
    let tag = if state.slow_paths {
        current_tag_index()
    } else {
        0
    };
    let reservation = if state.budgets_enabled {
        match state.budgets.reserve(tag, bytes, &mut events) {
            Ok(reservation) => Some(reservation),
            Err(error) => {
                state.budgets.emit_all(events);
                return Err(crate::error::reported(error));
            }
        }
    } else {
        None
    };
    let charge = if reservation.is_some() { tag + 1 } else { 0 };
    let result = with_current_heap(state, |heap| {
        if let Some(class) = class {
            let slot = heap.alloc_slot(class).ok_or(AllocError::OutOfMemory {
                requested: PAGE_SIZE,
            })?;
            if charge != 0 {
                // SAFETY: a slot just handed out by this heap lies in one of
                // its live pages.
                let page = unsafe { PageHeader::of(slot) };
                // SAFETY: the page is budgeted (its allocator's budgets are
                // on) and the slot is not handed to anyone yet; tag ids fit
                // in a byte (`page`).
                unsafe { page.set_tag(slot, tag as u8) };
            }
            let heap = ptr::from_ref(heap.heap());
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
            Intent::Heap if state.slow_paths => Some(charge_header(layout)),
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
        match intent {
            // SAFETY: the block starts with room for its header, aligned for
            // it (`header_for`).
            Intent::Pool => unsafe { block.cast::<Meta>().write(Meta::new(&heap, charge)) },
            // SAFETY: as above (`charge_header`).
            Intent::Heap if state.slow_paths => unsafe { block.cast::<Charge>().write(charge) },
            Intent::Heap => {}
        }
        heap.count_heap_alloc(layout.size());
        // SAFETY: `offset` lies inside the block (`Layout::extend`).
        let value = unsafe { block.add(offset) };
        let heap = ptr::from_ref(heap.heap());
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
    if let Ok(fresh) = &result {
        let intent = if class.is_some() {
            observed::Intent::Pool
        } else {
            observed::Intent::Heap
        };
        let reported = class.map_or(layout.size(), |_| bytes);
        state
            .observer
            .alloc(fresh.value.as_ptr(), reported, intent, tag, site);
    }
    result.map_err(crate::error::reported)
}
