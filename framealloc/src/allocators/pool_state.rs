//! `PoolState`: the pages and heaps of one allocator's pool and heap intents,
//! and the rules that decide when their memory goes back to the system.
//!
//! It lives in an `Arc` with these strong counts: one held by the
//! allocator's shared state (dropped with the last `SmartAlloc`), and one
//! held by each *retained* heap (a heap that has a thread or live objects).
//! Thread leases hold `Weak`s. When the count reaches zero, no box and no
//! handle is left, and `Drop` frees every page and heap.
//!
//! After the last `SmartAlloc` is gone the state is *closed*: no allocation
//! can happen any more, and heaps are released as soon as they are empty:
//! - by their owner thread, on its next free or when it exits;
//! - for an idle heap (owner exited), by whichever thread frees into it
//!   (under the heaps lock), or by the closing thread.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::chunk::lock;
use super::local_heap::{CLOSED, LocalHeap, OWNER_FLAGS};
use super::pool_page::{self, PageHeader};

pub(crate) struct PoolState {
    pub(crate) id: u64,
    /// Classes at or above this index are served by the heap intent.
    pub(crate) class_limit: usize,
    pub(crate) closed: AtomicBool,
    pub(crate) budgets: Arc<crate::budget::BudgetManager>,
    /// `budgets.is_enabled()`, kept here to spare the fast path a load.
    pub(crate) budgets_enabled: bool,
    /// The allocator id when allocations may take the fast path, else
    /// `NO_FAST_KEY` (budgets on: every allocation is charged).
    pub(crate) fast_key: u64,
    pages: Mutex<PageSet>,
    heaps: Mutex<HeapSet>,
}

#[derive(Default)]
struct PageSet {
    /// Every page base from `allocate_page`; freed in `Drop`.
    all: Vec<NonNull<u8>>,
    /// Empty pages ready for any class.
    free: Vec<NonNull<PageHeader>>,
}

#[derive(Default)]
struct HeapSet {
    /// Every heap from `Box::into_raw`; freed in `Drop`.
    all: Vec<NonNull<LocalHeap>>,
    /// Heaps whose thread exited, ready for a new thread.
    idle: Vec<NonNull<LocalHeap>>,
}

// SAFETY: the raw pointers in the sets are owned by the state and only
// handed to one thread at a time under the locks (see `LocalHeap`'s docs for
// who may touch a heap's cells); all other shared fields are atomics.
unsafe impl Send for PoolState {}
// SAFETY: as above.
unsafe impl Sync for PoolState {}

impl PoolState {
    pub(crate) fn new(
        id: u64,
        class_limit: usize,
        budgets: Arc<crate::budget::BudgetManager>,
    ) -> PoolState {
        PoolState {
            id,
            class_limit,
            closed: AtomicBool::new(false),
            budgets_enabled: budgets.is_enabled(),
            fast_key: if budgets.is_enabled() {
                super::thread_heap::NO_FAST_KEY
            } else {
                id
            },
            budgets,
            pages: Mutex::default(),
            heaps: Mutex::default(),
        }
    }

    /// A page for `class`, from the free list or the global allocator.
    pub(crate) fn take_page(&self, class: usize, heap: &LocalHeap) -> Option<NonNull<PageHeader>> {
        let mut pages = lock(&self.pages);
        if let Some(page) = pages.free.pop() {
            // SAFETY: free pages are live, empty and reachable by no heap.
            unsafe { page.as_ref() }.reuse(class, heap, heap.is_budgeted());
            return Some(page);
        }
        let base = pool_page::allocate_page()?;
        pages.all.push(base);
        Some(PageHeader::init(base, class, heap, heap.is_budgeted()))
    }

    /// Frees every page on the free list; returns the bytes given back.
    pub(crate) fn free_spare_pages(&self) -> usize {
        let mut pages = lock(&self.pages);
        let spare: Vec<NonNull<u8>> = pages
            .free
            .drain(..)
            .map(|header| {
                // SAFETY: free pages are live and reachable by no heap.
                unsafe { header.as_ref() }.base()
            })
            .collect();
        pages.all.retain(|base| !spare.contains(base));
        for &base in &spare {
            // SAFETY: the page came from `allocate_page`, is no longer in
            // `all` (so `Drop` will not free it again) and no slot of it is
            // live (it was on the free list).
            unsafe { pool_page::free_page(base) };
        }
        spare.len() * pool_page::PAGE_SIZE
    }

    /// Puts an empty page on the free list.
    pub(crate) fn release_page(&self, page: NonNull<PageHeader>) {
        lock(&self.pages).free.push(page);
    }

    /// Gives the calling thread (`token`) a heap: an idle one when there is
    /// one, otherwise a new one. The heap then holds a strong count.
    pub(crate) fn adopt(this: &Arc<PoolState>, token: usize) -> NonNull<LocalHeap> {
        let mut heaps = lock(&this.heaps);
        let heap = match heaps.idle.pop() {
            Some(heap) => heap,
            None => {
                let heap = NonNull::from(Box::leak(Box::new(LocalHeap::new(
                    Arc::as_ptr(this),
                    this.budgets_enabled,
                ))));
                heaps.all.push(heap);
                heap
            }
        };
        // SAFETY: heaps in the set are live; under the lock and unowned, the
        // heap's cells are ours.
        let heap_ref = unsafe { heap.as_ref() };
        let flags = heap_ref.owner.load(Ordering::SeqCst) & OWNER_FLAGS;
        heap_ref.owner.store(token | flags, Ordering::SeqCst);
        if !heap_ref.retained.replace(true) {
            // SAFETY: `this` is a live `Arc`; the count is given back in
            // `release_locked`'s caller.
            unsafe { Arc::increment_strong_count(Arc::as_ptr(this)) };
        }
        heap
    }

    /// The owner thread is done with `heap` (it exits, or lent it for one
    /// allocation during teardown).
    pub(crate) fn give_up(&self, heap: &LocalHeap) -> Release {
        let release = {
            let mut heaps = lock(&self.heaps);
            heap.owner.fetch_and(OWNER_FLAGS, Ordering::SeqCst);
            heap.collect(true);
            if self.closed.load(Ordering::SeqCst) && heap.is_empty() {
                self.release_locked(&mut heaps, heap)
            } else {
                heaps.idle.push(NonNull::from(heap));
                false
            }
        };
        Release::of(heap, release)
    }

    /// Marks the state closed (the last `SmartAlloc` is gone) and releases
    /// every idle heap that is already empty. The caller must hold a strong
    /// count of its own across the call (the counts released here are
    /// dropped before returning).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let released: Vec<Release> = {
            let mut heaps = lock(&self.heaps);
            for heap in &heaps.all {
                // SAFETY: heaps in the set are live; `closed` is atomic.
                unsafe { heap.as_ref() }
                    .owner
                    .fetch_or(CLOSED, Ordering::SeqCst);
            }
            // After the owners' bits, so a tagged page means a closed owner
            // (lock order: heaps, then pages).
            for &base in &lock(&self.pages).all {
                // SAFETY: every page in `all` is live and initialised; the
                // base carries the page's provenance.
                unsafe { PageHeader::of(base) }.mark_closed();
            }
            let idle: Vec<NonNull<LocalHeap>> = core::mem::take(&mut heaps.idle);
            let mut released = Vec::new();
            for heap in idle {
                // SAFETY: idle heaps are live and unowned; we hold the lock.
                let heap_ref = unsafe { heap.as_ref() };
                heap_ref.collect(true);
                if heap_ref.is_empty() {
                    let release = self.release_locked(&mut heaps, heap_ref);
                    released.push(Release::of(heap_ref, release));
                } else {
                    heaps.idle.push(heap);
                }
            }
            released
        };
        // The caller still holds its own strong count, so none of these
        // brings the count to zero while `self` is borrowed.
        released.into_iter().for_each(Release::finish);
    }

    /// A free into `heap` after the state closed, by a thread that does not
    /// own it: done under the lock so an idle heap is collected (and
    /// released once empty) by whoever frees into it last.
    pub(crate) fn free_after_close(&self, heap: &LocalHeap, free: impl FnOnce()) -> Release {
        let release = {
            let mut heaps = lock(&self.heaps);
            free();
            if heap.owner_token() == 0 && heap.retained.get() {
                heap.collect(true);
                heap.is_empty() && self.release_locked(&mut heaps, heap)
            } else {
                false
            }
        };
        Release::of(heap, release)
    }

    /// The owner freed into its heap after the state closed: once the heap
    /// is empty, the owner lets it go.
    ///
    /// Costs O(size classes) per free, plus a collection when other threads
    /// announced frees: counting live objects needs no page walk.
    pub(crate) fn owner_free_after_close(&self, heap: &LocalHeap) -> Release {
        heap.collect_if_announced();
        if !heap.is_empty() {
            return Release(None);
        }
        let release = {
            let mut heaps = lock(&self.heaps);
            heap.owner.fetch_and(OWNER_FLAGS, Ordering::SeqCst);
            self.release_locked(&mut heaps, heap)
        };
        Release::of(heap, release)
    }

    /// Marks an empty, unowned heap released and returns its pages. Returns
    /// whether it held a strong count, which the caller must drop *after*
    /// unlocking.
    fn release_locked(&self, heaps: &mut HeapSet, heap: &LocalHeap) -> bool {
        heaps.idle.retain(|idle| *idle != NonNull::from(heap));
        heap.return_pages();
        heap.retained.replace(false)
    }

    /// Calls `visit` with every heap's counters.
    pub(crate) fn for_each_heap(&self, mut visit: impl FnMut(&LocalHeap)) {
        let heaps = lock(&self.heaps);
        for heap in &heaps.all {
            // SAFETY: live until `Drop`; `visit` reads atomics only.
            visit(unsafe { heap.as_ref() });
        }
    }

    /// Whether this state has been freed, seen through a `Weak` (tests).
    pub(crate) fn probe(this: &Arc<PoolState>) -> std::sync::Weak<PoolState> {
        Arc::downgrade(this)
    }

    /// Pages held (in heaps or free) and free pages.
    pub(crate) fn page_counts(&self) -> (usize, usize) {
        let pages = lock(&self.pages);
        (pages.all.len(), pages.free.len())
    }
}

/// The strong count a released heap held on its state, to be dropped by
/// [`finish`](Release::finish) once the caller no longer uses the heap or
/// the state: dropping it may free both. It is taken by value, not through
/// a reference argument, so no live reference is left dangling.
#[must_use = "a released heap's strong count must be dropped with `finish`"]
pub(crate) struct Release(Option<*const PoolState>);

impl Release {
    fn of(heap: &LocalHeap, released: bool) -> Release {
        Release(released.then_some(heap.state))
    }

    pub(crate) fn finish(self) {
        if let Some(state) = self.0 {
            // `retained` flips back to false under the lock, so each count
            // taken in `adopt` is given back here exactly once.
            // SAFETY: `state` came from `Arc::as_ptr` (full provenance) and
            // the released heap held one strong count.
            unsafe { Arc::decrement_strong_count(state) };
        }
    }
}

impl Drop for PoolState {
    fn drop(&mut self) {
        let heaps = self
            .heaps
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for heap in heaps.all.drain(..) {
            // SAFETY: from `Box::leak` in `adopt`; the last strong count is
            // gone, so no thread uses it.
            drop(unsafe { Box::from_raw(heap.as_ptr()) });
        }
        let pages = self
            .pages
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for page in pages.all.drain(..) {
            // SAFETY: from `allocate_page`, freed once; no slot is live (no
            // box holds a strong count any more).
            unsafe { pool_page::free_page(page) };
        }
    }
}
