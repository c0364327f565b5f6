//! `PoolState`: the pages and heaps of one allocator's pool and heap intents,
//! and the rules that decide when their memory goes back to the system.
//!
//! # Ownership
//!
//! The state lives in an `Arc` with these strong counts: one held by the
//! allocator's shared state (dropped with the last `SmartAlloc`), and one
//! held by each *retained* heap (a heap that is not released). Thread leases
//! hold `Weak`s. When the count reaches zero no box and no handle is left,
//! and `Drop` frees every page and heap.
//!
//! # Heap lifecycle
//!
//! | state | who touches the heap's cells | enters it by |
//! |---|---|---|
//! | owned | the owner thread only, with no lock | `adopt` (heaps lock): a thread's first pool or heap allocation |
//! | idle | whoever holds the heaps lock | `give_up` (heaps lock): the owner thread exits |
//! | released | no one: pages returned, strong count dropped | `release_locked` (heaps lock, after the close only) |
//!
//! Transitions:
//!
//! - owned → idle (`give_up`): the owner's thread-local destructor; if the
//!   allocator closed and the heap is empty, straight to released instead.
//! - idle → owned (`adopt`): a new thread takes the heap, pages and all.
//! - owned or idle → released: only once the allocator closed, under the
//!   heaps lock, when the heap's exact figures (read under the pages lock)
//!   say nothing is live. It happens at the close itself (`close`), at the
//!   locked free that takes the last object (`free_after_close`), or when the
//!   owner leaves (`give_up`, or a lease prune).
//!
//! The close (`close`, the last `SmartAlloc` dropping, under both locks)
//! first marks every heap and page closed: the owner's free fast paths stop
//! matching (the page key and the owner word carry a close tag), and other
//! threads' frees are refused by the same atomic word that counts them (a
//! page's remote word, a heap's remote-frees word). So every free either
//! was counted before the close counted it, or takes the locked path after
//! it (`free_after_close`), which counts it under the heaps lock and releases
//! the heap once it is empty. Nothing can allocate after the close (no
//! handle is left), so the figures only fall.
//!
//! One window remains, and it only delays: an owner's fast-path free that
//! read the page key just before another thread's close tagged it is not
//! seen by the close's count and takes no locked path. The heap then waits
//! for its owner to leave (thread exit, or its next lease lookup) before it
//! is released.
//!
//! A thread that frees into a heap holds nothing once the free is counted:
//! the count may let the heap, and the state, go. The after-close path
//! therefore reads everything it needs (the state pointer) before taking the
//! lock and drops the released strong count only after unlocking
//! ([`Release`]).

#![expect(
    unsafe_code,
    reason = "heaps and pages are owned through raw pointers and freed when the last strong count goes"
)]

use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use std::sync::Arc;

use super::heap::{HeapFigures, LocalHeap};
use super::page::{self, PageHeader};
use super::size_class::CLASSES;
use crate::allocators::sync::{AtomicBool, Mutex, lock};

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

/// After the close, a locked free lowers a heap's bound of live objects by
/// one; at or below this the bound is recomputed exactly (a walk of the
/// pages), so the last frees find an empty heap however the bound was
/// off.
const RECOUNT_BELOW: u64 = 32;

// SAFETY: the raw pointers in the sets are owned by the state and only
// handed to one thread at a time under the locks (see the lifecycle above
// for who may touch a heap's cells); all other shared fields are atomics.
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
            // SAFETY: free pages are live.
            let page_ref = unsafe { page.as_ref() };
            // SAFETY: and empty, reachable by no heap, their remote stacks
            // taken and counts retired (`release_page`).
            unsafe { page_ref.reuse(class, heap, heap.is_budgeted()) };
            return Some(page);
        }
        let base = page::allocate_page()?;
        pages.all.push(base);
        // SAFETY: a fresh page from `allocate_page`, used by no one else.
        Some(unsafe { PageHeader::init(base, class, heap, heap.is_budgeted()) })
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
            unsafe { page::free_page(base) };
        }
        spare.len() * page::PAGE_SIZE
    }

    /// Puts an empty page of `heap` on the free list, moving its count of
    /// remote frees into the heap's retired count (under the pages lock, so
    /// a reader of the figures sees the count in one place or the other).
    ///
    /// # Safety
    ///
    /// - `page` is one of `heap`'s pages, unlinked from its lists, with no
    ///   live slot and no push in flight;
    /// - the caller may write `heap`'s counters: it owns the heap, or holds
    ///   the heaps lock while no thread uses it.
    pub(crate) unsafe fn release_page(&self, page: NonNull<PageHeader>, heap: &LocalHeap) {
        let mut pages = lock(&self.pages);
        // SAFETY: a live page with no live slot and no push in flight
        // (caller).
        let header = unsafe { page.as_ref() };
        // SAFETY: as above.
        let count = unsafe { header.retire_remote() };
        heap.retire_remote_count(header.class(), count);
        pages.free.push(page);
    }

    /// The remote-free counts of `heap`'s pages, by class. The caller holds
    /// the pages lock (`pages`), so no page changes hands meanwhile. Pages
    /// on the free list count nothing (their counts were retired).
    fn remote_counts(pages: &PageSet, heap: &LocalHeap) -> [u64; CLASSES] {
        let mut counts = [0; CLASSES];
        for &base in &pages.all {
            // SAFETY: every page in `all` is live and initialised; the base
            // carries the page's provenance.
            let page = unsafe { PageHeader::of(base) };
            if core::ptr::eq(page.heap(), heap) {
                counts[page.class()] += page.remote_count();
            }
        }
        counts
    }

    /// `heap`'s exact figures (the caller holds the heaps lock, or owns the
    /// heap; this takes the pages lock).
    pub(crate) fn figures_of(&self, heap: &LocalHeap) -> HeapFigures {
        let pages = lock(&self.pages);
        heap.figures(&Self::remote_counts(&pages, heap))
    }

    /// Gives the calling thread (`token`) a heap: an idle one when there is
    /// one, otherwise a new one. The heap then holds a strong count.
    pub(crate) fn adopt(this: &Arc<PoolState>, token: u64) -> NonNull<LocalHeap> {
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
        heap_ref.set_owner(token);
        if !heap_ref.retained.replace(true) {
            // SAFETY: `this` is a live `Arc`; the count is given back by the
            // `Release` of the heap's release.
            unsafe { Arc::increment_strong_count(Arc::as_ptr(this)) };
        }
        heap
    }

    /// The owner thread is done with `heap` (it exits, or lent it for one
    /// allocation during teardown): the heap goes idle, or is released if
    /// the allocator closed and nothing in it is live.
    pub(crate) fn give_up(&self, heap: &LocalHeap) -> Release {
        let state = heap.state;
        let released = {
            let mut heaps = lock(&self.heaps);
            heap.set_owner(0);
            if self.closed.load(Ordering::SeqCst) {
                heap.live_bound.set(self.figures_of(heap).live_objects());
                heap.live_bound.get() == 0 && self.release_locked(&mut heaps, heap)
            } else {
                heaps.idle.push(NonNull::from(heap));
                false
            }
        };
        Release::of(state, released)
    }

    /// Marks the state closed (the last `SmartAlloc` is gone), then releases
    /// every heap with nothing live. The caller must hold a strong count of
    /// its own across the call (the counts released here are dropped before
    /// returning, and must not be the last).
    pub(crate) fn close(&self) {
        let released: Vec<Release> = {
            let mut heaps = lock(&self.heaps);
            self.closed.store(true, Ordering::SeqCst);
            for heap in &heaps.all {
                // SAFETY: heaps in the set are live.
                unsafe { heap.as_ref() }.close();
            }
            {
                let pages = lock(&self.pages);
                for &base in &pages.all {
                    // SAFETY: every page in `all` is live and initialised; the
                    // base carries the page's provenance.
                    unsafe { PageHeader::of(base) }.close();
                }
            }
            let candidates: Vec<NonNull<LocalHeap>> = heaps.all.clone();
            let mut released = Vec::new();
            for heap in candidates {
                // SAFETY: heaps in the set are live.
                let heap_ref = unsafe { heap.as_ref() };
                if !heap_ref.retained.get() {
                    continue;
                }
                let live = self.figures_of(heap_ref).live_objects();
                heap_ref.live_bound.set(live);
                if live == 0 {
                    let done = self.release_locked(&mut heaps, heap_ref);
                    released.push(Release::of(heap_ref.state, done));
                }
            }
            released
        };
        // The caller still holds its own strong count, so none of these
        // brings the count to zero while `self` is borrowed.
        released.into_iter().for_each(Release::finish);
    }

    /// A free into `heap` after the close (the free's fast path refused it):
    /// `free` does it under the heaps lock, then the heap is released if it
    /// is empty.
    ///
    /// # Safety
    ///
    /// - `state` is `heap.state`, read while the object being freed kept
    ///   the heap alive; `heap` is that object's heap;
    /// - `free` frees exactly one object of `heap`, in the way the calling
    ///   thread may (its own cells if it owns the heap, else the remote
    ///   words).
    pub(crate) unsafe fn free_after_close(
        state: *const PoolState,
        heap: *const LocalHeap,
        free: impl FnOnce(&LocalHeap),
    ) -> Release {
        // SAFETY: the object being freed keeps the heap, and so the state,
        // alive until `free` counts it; under the heaps lock a heap with a
        // live object cannot be released, and the state outlives its
        // retained heaps.
        let this = unsafe { &*state };
        // SAFETY: as above.
        let heap = unsafe { &*heap };
        let released = {
            let mut heaps = lock(&this.heaps);
            free(heap);
            debug_assert!(
                heap.retained.get(),
                "a heap with a live object was released"
            );
            let mut bound = heap.live_bound.get().saturating_sub(1);
            if bound <= RECOUNT_BELOW {
                bound = this.figures_of(heap).live_objects();
            }
            heap.live_bound.set(bound);
            bound == 0 && this.release_locked(&mut heaps, heap)
        };
        // From here on only `state` (a plain pointer) is used.
        Release::of(state, released)
    }

    /// Marks an empty heap released and returns its pages (heaps lock held,
    /// as `heaps`). Returns whether it held a strong count, which the caller
    /// must drop *after* unlocking.
    fn release_locked(&self, heaps: &mut HeapSet, heap: &LocalHeap) -> bool {
        heaps.idle.retain(|idle| *idle != NonNull::from(heap));
        heap.set_owner(0);
        // SAFETY: the caller found nothing live in the heap under the locks;
        // after the close no thread can allocate from it, and one with
        // nothing left to free does not touch it.
        unsafe { heap.return_pages() };
        heap.retained.replace(false)
    }

    /// Calls `visit` with every heap and its exact figures (under both
    /// locks, so the figures are one consistent snapshot).
    pub(crate) fn for_each_heap(&self, mut visit: impl FnMut(&LocalHeap, HeapFigures)) {
        let heaps = lock(&self.heaps);
        let pages = lock(&self.pages);
        for heap in &heaps.all {
            // SAFETY: live until `Drop`; only atomics are read.
            let heap = unsafe { heap.as_ref() };
            visit(heap, heap.figures(&Self::remote_counts(&pages, heap)));
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
/// the state: dropping it may free both. It holds the state as a plain
/// pointer read before the release, so nothing of the heap is read after.
#[must_use = "a released heap's strong count must be dropped with `finish`"]
pub(crate) struct Release(Option<*const PoolState>);

impl Release {
    fn of(state: *const PoolState, released: bool) -> Release {
        Release(released.then_some(state))
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
            unsafe { page::free_page(page) };
        }
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! `RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib --release loom_model`
    //!
    //! The close and the frees that race it, on the real paths: the heap's
    //! remote-frees word, the heaps and pages locks and the closed flag are
    //! loom's, so every interleaving of them is explored. The heap-intent
    //! free path stands for both intents (the pool path differs only in
    //! using a page's remote word, modelled in `pool_page`).
    use std::sync::{Arc, Weak};

    use super::PoolState;
    use crate::allocators::pool::free::count_heap_free_slow;
    use crate::allocators::pool::heap::LocalHeap;
    use crate::allocators::pool::owned::OwnedHeap;
    use crate::budget::BudgetManager;

    /// A heap pointer a model thread may hold: the heap outlives the free
    /// that holds it (that free's block keeps it alive).
    #[derive(Clone, Copy)]
    struct HeapPtr(*const LocalHeap);
    // SAFETY: the model threads only call the remote free path, built for
    // concurrent callers.
    unsafe impl Send for HeapPtr {}

    impl HeapPtr {
        fn free_one(self) {
            // SAFETY: each call counts the free of one distinct live block
            // of 16 bytes, counted on this heap by `idle_heap_with`.
            unsafe { count_heap_free_slow(self.0, 16) }
        }
    }

    /// An allocator's pool state whose only heap is idle (its thread
    /// exited) with `blocks` live heap-intent blocks of 16 bytes.
    fn idle_heap_with(blocks: usize) -> (Arc<PoolState>, HeapPtr, Weak<PoolState>) {
        let state = Arc::new(PoolState::new(1, 0, Arc::new(BudgetManager::new(false))));
        let heap = PoolState::adopt(&state, 8);
        // SAFETY: adopted just above, by this (model) thread.
        let heap_ref = unsafe { heap.as_ref() };
        // SAFETY: as above: owned by this thread until `give_up` below.
        let owned = unsafe { OwnedHeap::assume(heap_ref) };
        for _ in 0..blocks {
            owned.count_heap_alloc(16);
        }
        state.give_up(heap_ref).finish();
        let probe = Arc::downgrade(&state);
        (state, HeapPtr(heap.as_ptr()), probe)
    }

    #[test]
    fn the_close_racing_a_remote_free_into_an_idle_heap_leaves_nothing_behind() {
        // Issue 9, item 5: the free read "open", the close released nothing
        // (one block live), then the free counted itself with no one left
        // to release the heap: the whole state leaked.
        loom::model(|| {
            let (state, heap, probe) = idle_heap_with(1);
            let closer = loom::thread::spawn(move || {
                state.close();
                drop(state); // the last handle's count
            });
            let freer = loom::thread::spawn(move || heap.free_one());
            closer.join().unwrap();
            freer.join().unwrap();
            assert!(probe.upgrade().is_none(), "the state must be freed");
        });
    }

    #[test]
    fn the_last_two_frees_after_the_close_release_the_heap_once() {
        // Issue 9, item 17: the free that did not empty the heap read it
        // after unlocking, while the other released it and freed the state.
        loom::model(|| {
            let (state, heap, probe) = idle_heap_with(2);
            state.close();
            drop(state);
            assert!(probe.upgrade().is_some(), "two blocks keep it");
            let one = loom::thread::spawn(move || heap.free_one());
            let two = loom::thread::spawn(move || heap.free_one());
            one.join().unwrap();
            two.join().unwrap();
            assert!(probe.upgrade().is_none(), "the state must be freed");
        });
    }

    #[test]
    fn the_close_racing_two_remote_frees_frees_the_state_once() {
        loom::model(|| {
            let (state, heap, probe) = idle_heap_with(2);
            let closer = loom::thread::spawn(move || {
                state.close();
                drop(state);
            });
            let one = loom::thread::spawn(move || heap.free_one());
            heap.free_one();
            closer.join().unwrap();
            one.join().unwrap();
            assert!(probe.upgrade().is_none(), "the state must be freed");
        });
    }
}
