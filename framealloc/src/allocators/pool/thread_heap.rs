//! Which `LocalHeap` the calling thread allocates pool and heap memory from.
//!
//! Three thread-locals, all `const`: a one-entry cache `(allocator id, heap,
//! heap key)` read on every allocation and free; the thread's ownership
//! token; and the thread's leases (the crate's one lease mechanism,
//! `allocators::lease`), given back when the thread exits.
//!
//! Every identity compared on a fast path is one that is never reused in
//! the process: allocator ids, heap keys and thread tokens all come from
//! counters. An address would not do: once a heap is freed, the global
//! allocator may place another allocator's heap at the same address, and a
//! cache that compared addresses would take that heap for its own.
#![expect(unsafe_code, reason = "the cached heap becomes a reference again on the fast paths")]

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::heap::LocalHeap;
use super::lifecycle::PoolState;
use super::owned::OwnedHeap;
use crate::allocators::lease::{Leases, Lessor};

/// `(allocator id, heap, heap key)` of the heap this thread used last.
type Cached = (u64, *const LocalHeap, u64);

/// The empty cache: allocator id 0 and key 0 are never used.
const EMPTY: Cached = (0, ptr::null(), 0);

thread_local! {
    static CACHE: Cell<Cached> = const { Cell::new(EMPTY) };
    /// The thread's token once it has one, `NO_TOKEN` before: the
    /// heap-block free compares it with the heap's owner word in one
    /// instruction.
    static TOKEN: Cell<u64> = const { Cell::new(NO_TOKEN) };
    static LEASES: Leases<PoolState> = const { Leases::new() };
}

/// What `TOKEN` holds before the thread has a token: no owner word ever
/// equals it (tokens are multiples of 8; the owner word's other bits are
/// `CLOSED` and `BUDGETED`).
const NO_TOKEN: u64 = 1;

/// The calling thread's heap for the allocator whose fast key is `key`, if
/// it is the one cached: the allocation fast path. An allocator with
/// budgets on has a key no cache holds, so it always takes the slow path.
#[inline(always)]
pub(crate) fn cached_heap<'a>(key: u64) -> Option<OwnedHeap<'a>> {
    let (cached, heap, _) = CACHE.with(Cell::get);
    if cached == key {
        // SAFETY: `key` is an allocator id (never 0, the empty cache's key)
        // or `NO_FAST_KEY` (never cached), so a match means a cached heap:
        // this thread's own leased heap of a live allocator (the caller
        // borrows it, and ids are never reused), cleared before the lease
        // is given back. Heaps live as long as their allocator's state.
        Some(unsafe { OwnedHeap::from_ptr(heap) })
    } else {
        None
    }
}

/// The heap-block free fast path's test: whether `owner_word` (a heap's,
/// see `LocalHeap::owner_word`) names the calling thread as owner, with the
/// allocator open and budgets off. One compare with the published token.
#[inline(always)]
pub(crate) fn is_my_open_heap(owner_word: u64) -> bool {
    owner_word == TOKEN.with(Cell::get)
}

/// The pool free fast path's test: the calling thread's cached heap, if
/// `page_key` (a page's, see `PageHeader::key`) is that heap's key. Keys
/// are never reused, the cached heap is the thread's own, and a closed or
/// budgeted page's key is tagged, so a match means "the owner frees into
/// its open heap".
#[inline(always)]
pub(crate) fn if_cached<'a>(page_key: u64) -> Option<OwnedHeap<'a>> {
    let (_, heap, key) = CACHE.with(Cell::get);
    if key == page_key {
        // SAFETY: a heap is cached only together with its key, and the
        // empty cache's key (0) is no page's key (keys are at least 4), so
        // a match means the thread's own cached heap, live while one of its
        // slots is (the caller frees one).
        Some(unsafe { OwnedHeap::from_ptr(heap) })
    } else {
        None
    }
}

/// The calling thread's token as published: its token once it has one,
/// else `NO_TOKEN`, which no owner word holds. Enough to ask "do I own this
/// heap?": a thread that never leased a heap owns none.
#[inline(always)]
pub(crate) fn current_token() -> u64 {
    TOKEN.with(Cell::get)
}

/// The calling thread's ownership token: unique for the life of the
/// process, a multiple of 8 and never 0. Assigned on first use.
pub(crate) fn token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let current = TOKEN.with(Cell::get);
    if current != NO_TOKEN {
        return current;
    }
    let fresh = NEXT.fetch_add(1, Ordering::Relaxed) << 3;
    TOKEN.with(|token| token.set(fresh));
    fresh
}

impl Lessor for PoolState {
    type Item = LocalHeap;

    fn id(&self) -> u64 {
        self.id
    }

    fn adopt(this: &Arc<Self>, token: u64) -> NonNull<LocalHeap> {
        PoolState::adopt(this, token)
    }

    fn give_up(&self, heap: NonNull<LocalHeap>, token: u64) {
        // SAFETY: the caller holds a strong count on this state, so its
        // heaps are alive.
        let heap = unsafe { heap.as_ref() };
        // SAFETY: the thread adopted the heap with `token` and gives its
        // leases back with its cache cleared first (`Leases`). The heap may
        // have been released since; `give_up` checks under the lock.
        unsafe { PoolState::give_up(self, heap, token) }.finish();
    }

    fn is_done(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn clear_thread_cache() {
        let _ = CACHE.try_with(|cache| cache.set(EMPTY));
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
    work: impl FnOnce(OwnedHeap<'_>) -> R,
) -> R {
    let (allocator, heap, _) = CACHE.with(Cell::get);
    if allocator == state.id {
        // SAFETY: the cache holds only this thread's own leased heap for a
        // live allocator (`state` is borrowed, and allocator ids are never
        // reused), cleared before the lease is given back; heaps live as
        // long as their state.
        return work(unsafe { OwnedHeap::from_ptr(heap) });
    }
    with_heap_slow(state, work)
}

#[cold]
#[inline(never)]
fn with_heap_slow<R>(state: &Arc<PoolState>, work: impl FnOnce(OwnedHeap<'_>) -> R) -> R {
    let me = token();
    let leased = LEASES.try_with(|leases| {
        let heap = leases.get_or_adopt(state, me);
        // SAFETY: a heap of `state`, alive while `state` is.
        let key = unsafe { heap.as_ref() }.key();
        CACHE.with(|cache| cache.set((state.id, heap.as_ptr(), key)));
        heap
    });
    match leased {
        // SAFETY: the heap belongs to `state`, borrowed for this call, and
        // is owned by this thread (adopted with our token) until the thread
        // gives its leases back.
        Ok(heap) => work(unsafe { OwnedHeap::from_ptr(heap.as_ptr()) }),
        Err(_) => {
            // The thread is tearing down its thread-locals: lend a heap for
            // this one call and give it back (FA202).
            crate::diagnostics::report_during_teardown(
                "FA202",
                format_args!("pool or heap allocation"),
            );
            let heap = PoolState::adopt(state, me);
            // SAFETY: adopted just above with our token; given back right
            // after `work`.
            let heap = unsafe { heap.as_ref() };
            // SAFETY: as above.
            let result = work(unsafe { OwnedHeap::assume(heap) });
            // SAFETY: lent to this one call, which is over; this thread never
            // cached it.
            unsafe { state.give_up(heap, me) }.finish();
            result
        }
    }
}
