//! Which `LocalHeap` the calling thread allocates pool and heap memory from.
//!
//! Two thread-locals: a one-entry cache (allocator id, heap) read on every
//! allocation and free, whose address also serves as the thread's *token*
//! for heap ownership; and the list of leases, given back when the thread
//! exits.

use core::cell::{Cell, RefCell};
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::local_heap::LocalHeap;
use super::pool_state::PoolState;

thread_local! {
    /// `(allocator id, heap)` of the last heap this thread used. `const` and
    /// without a destructor, so it is usable even during thread teardown.
    static CACHE: Cell<(u64, *const LocalHeap)> = const { Cell::new((0, ptr::null())) };
    /// The thread's token once it has leased a heap, `NO_TOKEN` before: the
    /// heap-block free compares it with the heap's owner word in one
    /// instruction.
    static TOKEN: Cell<usize> = const { Cell::new(NO_TOKEN) };
    static LEASES: HeapLeases = const { HeapLeases { leases: RefCell::new(Vec::new()) } };
}

/// The fast key of an allocator whose allocations must all take the slow
/// path (budgets on): never cached.
pub(crate) const NO_FAST_KEY: u64 = u64::MAX;

/// The calling thread's heap for the allocator whose fast key is `key`, if
/// it is the one cached: the allocation fast path. An allocator with
/// budgets on has a key no cache holds, so it always takes the slow path.
#[inline(always)]
pub(crate) fn cached_heap(key: u64) -> Option<NonNull<LocalHeap>> {
    let (cached, heap) = CACHE.with(Cell::get);
    if cached == key {
        // SAFETY: `key` is an allocator id (never 0, the empty cache's key)
        // or `NO_FAST_KEY` (never cached), so a match means a cached heap,
        // which is never null.
        Some(unsafe { NonNull::new_unchecked(heap.cast_mut()) })
    } else {
        None
    }
}

/// What `TOKEN` holds before the thread leases a heap: no owner word ever
/// equals it (tokens are 8-aligned; the owner word's other bits are
/// `CLOSED` and `BUDGETED`).
const NO_TOKEN: usize = 1;

/// Whether the calling thread owns `heap`, its allocator has not closed and
/// its budgets are off: the heap-block free fast path's test, one compare of
/// the heap's owner word with the thread's published token.
///
/// # Safety
///
/// `heap` is a live heap.
#[inline(always)]
pub(crate) unsafe fn owns_open(heap: *const LocalHeap) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { &(*heap).owner }.load(Ordering::Relaxed) == TOKEN.with(Cell::get)
}

/// `heap_word` (a page's, see `PageHeader::heap_word`), through the
/// thread-local pointer, if it is the calling thread's cached heap: the
/// pool free fast path's ownership test. The cached heap is the thread's own
/// (the cache is cleared before the thread gives its heaps up, and a heap
/// leaves its owner otherwise only after its allocator closed), and a
/// closed page's word is tagged, so it never
/// matches once the allocator closed.
///
/// # Safety
///
/// `heap_word` is not null (a live page's word never is).
#[inline(always)]
pub(crate) unsafe fn if_cached(heap_word: *const LocalHeap) -> Option<NonNull<LocalHeap>> {
    let mine = CACHE.with(Cell::get).1;
    if mine == heap_word {
        // SAFETY: equal to `heap_word`, not null (from the caller).
        Some(unsafe { NonNull::new_unchecked(mine.cast_mut()) })
    } else {
        None
    }
}

/// The calling thread's ownership token: the address of its `CACHE`, unique
/// among live threads and never 0.
#[inline(always)]
pub(crate) fn token() -> usize {
    CACHE.with(|cache| ptr::from_ref(cache).addr())
}

struct HeapLease {
    allocator: u64,
    owner: Weak<PoolState>,
    heap: NonNull<LocalHeap>,
}

struct HeapLeases {
    leases: RefCell<Vec<HeapLease>>,
}

impl Drop for HeapLeases {
    fn drop(&mut self) {
        let _ = CACHE.try_with(|cache| cache.set((0, ptr::null())));
        let me = token();
        for lease in self.leases.get_mut().drain(..) {
            if let Some(state) = lease.owner.upgrade() {
                // SAFETY: the state is alive (we hold a strong count), so its
                // heaps are.
                let heap = unsafe { lease.heap.as_ref() };
                // The owner may already have let the heap go (see
                // `PoolState::owner_free_after_close`).
                if heap.owner_token() == me {
                    state.give_up(heap).finish();
                }
            }
        }
    }
}

/// Runs `work` with the calling thread's heap for `state`, adopting one on
/// first use. The heap is the thread's own for the duration of `work`.
///
/// The fast path is one thread-local read and a compare: no struct, no
/// drop glue.
#[inline(always)]
pub(crate) fn with_current_heap<R>(
    state: &Arc<PoolState>,
    work: impl FnOnce(&LocalHeap) -> R,
) -> R {
    let (allocator, heap) = CACHE.with(Cell::get);
    if allocator == state.id {
        // SAFETY: the cache holds only this thread's own leased heap for a
        // live allocator (`state` is borrowed), cleared before the lease is
        // given back; heaps live as long as their state.
        return work(unsafe { &*heap });
    }
    with_heap_slow(state, work)
}

#[cold]
#[inline(never)]
fn with_heap_slow<R>(state: &Arc<PoolState>, work: impl FnOnce(&LocalHeap) -> R) -> R {
    let me = token();
    let leased = LEASES.try_with(|leases| {
        let mut leases = leases.leases.borrow_mut();
        let heap = match leases.iter().find(|lease| lease.allocator == state.id) {
            Some(lease) => lease.heap,
            None => {
                leases.retain(|lease| lease.owner.strong_count() > 0);
                let heap = PoolState::adopt(state, me);
                leases.push(HeapLease {
                    allocator: state.id,
                    owner: Arc::downgrade(state),
                    heap,
                });
                heap
            }
        };
        CACHE.with(|cache| cache.set((state.id, heap.as_ptr())));
        TOKEN.with(|published| published.set(me));
        heap
    });
    match leased {
        // SAFETY: the heap belongs to `state`, borrowed for this call, and
        // is owned by this thread (adopted with our token).
        Ok(heap) => work(unsafe { heap.as_ref() }),
        Err(_) => {
            // The thread is tearing down its thread-locals: lend a heap for
            // this one call and give it back (FA202).
            crate::diagnostics::report_during_teardown(
                "FA202",
                format_args!("pool or heap allocation"),
            );
            let heap = PoolState::adopt(state, me);
            // SAFETY: as above; the heap is given back right after.
            let heap = unsafe { heap.as_ref() };
            let result = work(heap);
            state.give_up(heap).finish();
            result
        }
    }
}
