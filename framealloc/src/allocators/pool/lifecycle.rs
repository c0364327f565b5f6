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
//! The one table of a heap's states. "Open" and "closed" are the
//! allocator's: closed once the last `SmartAlloc` is gone.
//!
//! | state | owner word | who may touch the heap's cells | strong count held |
//! |---|---|---|---|
//! | owned (open) | the owner thread's token | the owner thread, with no lock (through `OwnedHeap`) | yes |
//! | idle (open) | 0 | whoever holds the heaps lock | yes |
//! | owned (closed) | token, `CLOSED` | the owner; its frees take the locked path | yes |
//! | idle (closed) | `CLOSED` | whoever holds the heaps lock | yes |
//! | released | `CLOSED` | no one (its pages are back on the free list) | no |
//!
//! | transition | by whom, under which lock |
//! |---|---|
//! | new → owned | `adopt`, the thread's first pool or heap allocation; heaps lock |
//! | idle → owned (*adopted*) | `adopt`, a new thread takes the heap, pages and all; heaps lock |
//! | owned → idle | `give_up`, the owner's thread-local destructor (or a heap lent during teardown); heaps lock |
//! | open → closed (every heap) | `close`, the thread dropping the last handle; heaps then pages lock |
//! | closed → released | when its exact figures (read under the pages lock) show nothing live: at the close (`close`), at the locked free that takes its last object (`free_after_close`), or when its owner leaves (`give_up`, also from a lease prune); heaps lock |
//!
//! Nothing else changes a heap's owner word, and a heap is released at
//! most once (`retained` flips under the heaps lock). An owner that leaves
//! after the close may find its heap already released by the free that took
//! its last object: `give_up` asks "do I still own it?" under the heaps lock,
//! where releases happen, never from a read made before locking. Loom models of the
//! close racing frees into an idle heap, and of two last frees racing, are
//! in `loom_model`; the page's side is modelled in `remote`.
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

#![expect(unsafe_code, reason = "heaps and pages are raw, freed with the last strong count")]

use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;
use std::sync::Arc;

use super::heap::{HeapFigures, LocalHeap, heap_of};
use super::page::{self, PageHeader};
use super::size_class::CLASSES;
use crate::allocators::sync::{AtomicBool, Mutex, get_mut, lock};

pub(crate) struct PoolState {
    pub(crate) id: u64,
    /// Classes at or above this index are served by the heap intent.
    pub(crate) class_limit: usize,
    pub(crate) closed: AtomicBool,
    pub(crate) budgets: Arc<crate::budget::BudgetManager>,
    /// Hears of every allocation and free when it watches them (then the
    /// fast key is `NO_FAST_KEY` and the heaps are marked `BUDGETED`, so
    /// every one takes a slow path).
    pub(crate) observer: Arc<crate::diagnostics::Observer>,
    /// `budgets.is_enabled()`, kept here to spare the fast path a load.
    pub(crate) budgets_enabled: bool,
    /// Budgets on, or the observer watches every allocation: no fast path
    /// is ever taken (the fast key is `NO_FAST_KEY`, heaps and pages are
    /// marked `BUDGETED`).
    pub(crate) slow_paths: bool,
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

/// The fast key of an allocator whose allocations must all take the slow
/// path (budgets on): no thread's cache ever holds it.
pub(crate) const NO_FAST_KEY: u64 = u64::MAX;

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
        observer: Arc<crate::diagnostics::Observer>,
    ) -> PoolState {
        let slow_paths = budgets.is_enabled() || observer.watches_allocations();
        PoolState {
            id,
            class_limit,
            closed: AtomicBool::new(false),
            budgets_enabled: budgets.is_enabled(),
            slow_paths,
            fast_key: if slow_paths { NO_FAST_KEY } else { id },
            budgets,
            observer,
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
            unsafe {
                page_ref.reuse(
                    class,
                    ptr::from_ref(heap).cast(),
                    heap.key(),
                    heap.is_budgeted(),
                )
            };
            return Some(page);
        }
        let base = page::allocate_page()?;
        pages.all.push(base);
        // SAFETY: a fresh page from `allocate_page`, used by no one else.
        Some(unsafe {
            PageHeader::init(
                base,
                class,
                ptr::from_ref(heap).cast(),
                heap.key(),
                heap.is_budgeted(),
            )
        })
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
            if core::ptr::eq(heap_of(page), heap) {
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
                // SAFETY: this state owns the heap from now on (`all`) and
                // frees it only when it drops.
                let fresh = unsafe { LocalHeap::new(Arc::as_ptr(this).cast(), this.slow_paths) };
                let heap = NonNull::from(Box::leak(Box::new(fresh)));
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

    /// The thread that adopted `heap` with `token` is done with it (it
    /// exits, or lent it for one allocation during teardown): the heap goes
    /// idle, or is released if the allocator closed and nothing in it is
    /// live. If the heap was released meanwhile (at the close, or by the
    /// locked free that took its last object), nothing happens: whether the
    /// thread still owns it is decided under the heaps lock, where every
    /// release happens, never from a read made before taking it.
    ///
    /// # Safety
    ///
    /// - `heap` is one of this state's heaps, adopted by the calling thread
    ///   with `token` (the thread's own), which does not use it as owner
    ///   afterwards (another thread may adopt it as soon as this returns).
    ///   Its fast-path cache no longer names the heap.
    pub(crate) unsafe fn give_up(&self, heap: &LocalHeap, token: u64) -> Release {
        let state = Self::ptr_of(heap);
        let released = {
            let mut heaps = lock(&self.heaps);
            if heap.owner_token() != token {
                // Released since the thread last looked (the release clears
                // the owner): the close or a free gave its count back.
                return Release::of(state, false);
            }
            heap.set_owner(0);
            if self.closed.load(Ordering::SeqCst) {
                heap.live_bound.set(self.figures_of(heap).live_objects());
                let empty = heap.live_bound.get() == 0;
                if empty {
                    self.release_locked(&mut heaps, heap);
                }
                empty
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
            // No thread adopts a heap after the close (no handle is left to
            // allocate with).
            heaps.idle.clear();
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
                    self.release_locked(&mut heaps, heap_ref);
                    released.push(Release::of(Self::ptr_of(heap_ref), true));
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
            if bound == 0 {
                this.release_locked(&mut heaps, heap);
            }
            bound == 0
        };
        // From here on only `state` (a plain pointer) is used.
        Release::of(state, released)
    }

    /// Marks an empty heap released and returns its pages (heaps lock held:
    /// `_heaps` proves it). The heap's strong count goes to the caller's
    /// `Release`, to be dropped *after* unlocking.
    fn release_locked(&self, _heaps: &mut HeapSet, heap: &LocalHeap) {
        heap.set_owner(0);
        // SAFETY: the caller found nothing live in the heap under the locks;
        // after the close no thread can allocate from it, and one with
        // nothing left to free does not touch it.
        unsafe { self.return_pages(heap) };
        // Only retained heaps are released: the close skips released ones,
        // an owner gives up only a heap it still owns (a released heap has
        // no owner), and a locked free holds a live object of its heap.
        // A second release would give the state's strong count back twice
        // (a use after free): stop here instead. One branch on a cold path.
        let was_retained = heap.retained.replace(false);
        assert!(was_retained, "a heap is released once");
    }

    /// Hands every page of `heap` back to the free list (an empty heap being
    /// released, under the heaps lock; takes the pages lock).
    ///
    /// # Safety
    ///
    /// - No object of the heap is live (its exact figures say so) and no
    ///   thread uses its cells: it has no owner, or its owner can no longer
    ///   allocate (the allocator closed) and has nothing left to free.
    unsafe fn return_pages(&self, heap: &LocalHeap) {
        let mut pages = Vec::new();
        // SAFETY: the heaps lock is held and the heap has nothing live, so no
        // thread uses its cells (caller).
        unsafe { heap.for_each_page(|_, page| pages.push(NonNull::from(page))) };
        for list in heap.pages.iter().chain(&heap.fresh) {
            list.set(ptr::null_mut());
        }
        for class in &heap.classes {
            class.free.set(ptr::null_mut());
        }
        for page in pages {
            // SAFETY: no slot of the heap is live (caller), so none of its
            // pages has a live slot or a pusher in flight.
            unsafe { self.release_page(page, heap) };
        }
        heap.counters.pages.set(0);
    }

    /// The state that owns `heap`.
    pub(crate) fn of(heap: &LocalHeap) -> &PoolState {
        // SAFETY: a heap's `state` is the `PoolState` that made it (`adopt`),
        // which frees its heaps only when it drops: it outlives the heap.
        unsafe { &*Self::ptr_of(heap) }
    }

    /// [`of`](Self::of) as a plain pointer, for paths that must not hold a
    /// reference past the free they count.
    pub(crate) fn ptr_of(heap: &LocalHeap) -> *const PoolState {
        heap.state.cast()
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
        let heaps = get_mut(&mut self.heaps);
        for heap in heaps.all.drain(..) {
            // SAFETY: from `Box::leak` in `adopt`; the last strong count is
            // gone, so no thread uses it.
            drop(unsafe { Box::from_raw(heap.as_ptr()) });
        }
        let pages = get_mut(&mut self.pages);
        for page in pages.all.drain(..) {
            // SAFETY: from `allocate_page`, freed once; no slot is live (no
            // box holds a strong count any more).
            unsafe { page::free_page(page) };
        }
    }
}
