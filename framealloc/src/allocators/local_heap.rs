//! `LocalHeap`: one thread's pool pages (per size class) and its counters for
//! one allocator.
//!
//! A heap has at most one owner thread, recorded as a token (see
//! `thread_heap::token`). The owner allocates and frees through `Cell`s with
//! no synchronisation; any other thread frees by pushing the slot onto the
//! page's remote queue. When the owner exits, the heap goes idle and the next
//! new thread adopts it, pages and all.
//!
//! Counters are written by the owner only (relaxed load + store: no
//! read-modify-write on the fast path) and read by `stats()` anywhere.

use core::cell::Cell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::counter::Counter;
use super::pool_page::{CLASS_SIZES, CLASSES, PageHeader};
use super::pool_state::PoolState;

/// The owner's figures for one heap.
#[derive(Default)]
pub(crate) struct HeapCounters {
    pub(crate) pool_allocs: [Counter; CLASSES],
    pub(crate) pool_frees: [Counter; CLASSES],
    pub(crate) pool_peak_bytes: Counter,
    pub(crate) heap_allocs: Counter,
    pub(crate) heap_frees: Counter,
    pub(crate) heap_bytes_allocated: Counter,
    pub(crate) heap_bytes_freed: Counter,
    pub(crate) heap_peak_bytes: Counter,
    pub(crate) pages: Counter,
}

impl HeapCounters {
    pub(crate) fn pool_live_bytes(&self) -> u64 {
        (0..CLASSES)
            .map(|c| (self.pool_allocs[c].get() - self.pool_frees[c].get()) * CLASS_SIZES[c] as u64)
            .sum()
    }

    fn live_objects(&self) -> u64 {
        let pool: u64 = (0..CLASSES)
            .map(|c| self.pool_allocs[c].get() - self.pool_frees[c].get())
            .sum();
        pool + self.heap_allocs.get() - self.heap_frees.get()
    }
}

#[repr(align(64))]
struct RemoteFlags([AtomicBool; CLASSES]);

#[repr(align(128))]
pub(crate) struct LocalHeap {
    /// Token of the owning thread; 0 while idle.
    pub(crate) owner: AtomicUsize,
    pub(crate) state: *const PoolState,
    /// A copy of the state's `closed`, set by `PoolState::close` on every
    /// heap, so the owner's free path reads its own cache line.
    pub(crate) closed: AtomicBool,
    /// Each class's pages that may have room; the first is the one
    /// allocations come from.
    heads: [Cell<*mut PageHeader>; CLASSES],
    /// Each class's pages that were full when last looked at.
    full: [Cell<*mut PageHeader>; CLASSES],
    /// Set when the owner frees into a page on a full list.
    room_in_full: [Cell<bool>; CLASSES],
    pub(crate) counters: HeapCounters,
    /// Set by other threads before they free into a page of that class (a
    /// plain store, on a line of its own): the full list may have room.
    remote_pending: RemoteFlags,
    /// Heap-intent frees made by other threads, folded in by `collect`.
    remote_heap_frees: AtomicU64,
    remote_heap_bytes: AtomicU64,
    /// Whether this heap holds a strong count on its `PoolState` (guarded by
    /// the owner or the heaps lock).
    pub(crate) retained: Cell<bool>,
}

impl LocalHeap {
    pub(crate) fn new(state: *const PoolState) -> LocalHeap {
        LocalHeap {
            owner: AtomicUsize::new(0),
            state,
            closed: AtomicBool::new(false),
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            full: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            room_in_full: [const { Cell::new(false) }; CLASSES],
            counters: HeapCounters::default(),
            remote_pending: RemoteFlags([const { AtomicBool::new(false) }; CLASSES]),
            remote_heap_frees: AtomicU64::new(0),
            remote_heap_bytes: AtomicU64::new(0),
            retained: Cell::new(false),
        }
    }

    fn state(&self) -> &PoolState {
        // SAFETY: a heap lives inside its `PoolState`'s registry and is freed
        // only when the state drops.
        unsafe { &*self.state }
    }

    /// Takes a slot of `class` (owner only).
    #[inline(always)]
    pub(crate) fn alloc_slot(&self, class: usize) -> Option<NonNull<u8>> {
        let head = self.heads[class].get();
        // SAFETY: list pages are live pages of this heap (freed only with the
        // state), and only the owner touches their cells.
        let slot = match unsafe { head.as_ref() }.and_then(PageHeader::pop) {
            Some(slot) => slot,
            None => self.alloc_slot_slow(class)?,
        };
        self.counters.pool_allocs[class].add(1);
        Some(slot)
    }

    /// The head page is full. In order: take back its remote frees; move it
    /// to the full list and try the next page; when no page is left, look
    /// through the full list, but only if a free landed there since the last
    /// look; else bring in a page. Each page moves between the two lists at
    /// most once per refill, so a refill costs O(1) except for the scans,
    /// which happen once per burst of frees.
    #[cold]
    #[inline(never)]
    fn alloc_slot_slow(&self, class: usize) -> Option<NonNull<u8>> {
        self.counters
            .pool_peak_bytes
            .raise_to(self.counters.pool_live_bytes());
        loop {
            // SAFETY: list pages are live and owned by this heap.
            if let Some(page) = unsafe { self.heads[class].get().as_ref() } {
                let freed = page.collect_remote();
                self.counters.pool_frees[class].add(u64::from(freed));
                if let Some(slot) = page.pop() {
                    return Some(slot);
                }
                self.heads[class].set(page.next_in_class.get());
                self.push_page(&self.full[class], page);
                page.set_in_full_list(true);
                continue;
            }
            let room_reported = self.room_in_full[class].replace(false)
                | self.remote_pending.0[class].swap(false, Ordering::Relaxed);
            if !(room_reported && self.refill_from_full(class)) {
                break;
            }
        }
        let page = self.state().take_page(class, self)?;
        self.counters.pages.add(1);
        // SAFETY: a fresh page just initialised for this heap.
        let page = unsafe { page.as_ref() };
        self.push_page(&self.heads[class], page);
        page.pop()
    }

    /// Moves every page of the full list that has room (after taking back
    /// its remote frees) to the available list. Returns whether any moved.
    fn refill_from_full(&self, class: usize) -> bool {
        let mut still_full: *mut PageHeader = ptr::null_mut();
        let mut moved = false;
        let mut cursor = self.full[class].replace(ptr::null_mut());
        // SAFETY: list pages are live and owned by this heap.
        while let Some(page) = unsafe { cursor.as_ref() } {
            cursor = page.next_in_class.get();
            let freed = page.collect_remote();
            self.counters.pool_frees[class].add(u64::from(freed));
            if page.has_room() {
                page.set_in_full_list(false);
                self.push_page(&self.heads[class], page);
                moved = true;
            } else {
                page.next_in_class.set(still_full);
                still_full = ptr::from_ref(page).cast_mut();
            }
        }
        self.full[class].set(still_full);
        moved
    }

    fn push_page(&self, list: &Cell<*mut PageHeader>, page: &PageHeader) {
        page.next_in_class.set(list.get());
        list.set(ptr::from_ref(page).cast_mut());
    }

    /// Counts a pool free made by the owner.
    #[inline(always)]
    pub(crate) fn count_pool_free(&self, class: usize) {
        if let Some(counter) = self.counters.pool_frees.get(class) {
            counter.add(1);
        }
    }

    /// Notes that the owner freed into a page on the full list.
    #[inline(always)]
    pub(crate) fn note_room_in_full(&self, class: usize) {
        self.room_in_full[class].set(true);
    }

    /// Notes, before another thread frees into a page of `class`, that the
    /// full list may have room. A plain store: no read-modify-write.
    #[inline(always)]
    pub(crate) fn note_remote_free(&self, class: usize) {
        self.remote_pending.0[class].store(true, Ordering::Relaxed);
    }

    /// Hands the empty pages of both lists back to the state's free list
    /// (owner only), after taking back remote frees.
    pub(crate) fn release_empty_pages(&self) {
        self.collect(false);
        for list in self.heads.iter().chain(&self.full) {
            let mut kept: *mut PageHeader = ptr::null_mut();
            let mut cursor = list.replace(ptr::null_mut());
            // SAFETY: list pages are live and owned by this heap.
            while let Some(page) = unsafe { cursor.as_ref() } {
                cursor = page.next_in_class.get();
                if page.used() == 0 {
                    self.counters.pages.set(self.counters.pages.get() - 1);
                    self.state().release_page(NonNull::from(page));
                } else {
                    page.next_in_class.set(kept);
                    kept = ptr::from_ref(page).cast_mut();
                }
            }
            list.set(kept);
        }
    }

    /// Every page of both lists of every class.
    fn for_each_page(&self, mut visit: impl FnMut(usize, &PageHeader)) {
        for class in 0..CLASSES {
            for list in [&self.heads[class], &self.full[class]] {
                let mut cursor = list.get();
                // SAFETY: list pages are live and owned by this heap.
                while let Some(page) = unsafe { cursor.as_ref() } {
                    cursor = page.next_in_class.get();
                    visit(class, page);
                }
            }
        }
    }

    /// Counts a heap-intent allocation (owner only).
    pub(crate) fn count_heap_alloc(&self, bytes: usize) {
        let counters = &self.counters;
        counters.heap_allocs.add(1);
        counters.heap_bytes_allocated.add(bytes as u64);
        counters
            .heap_peak_bytes
            .raise_to(counters.heap_bytes_allocated.get() - counters.heap_bytes_freed.get());
    }

    /// Counts a heap-intent free made by the owner.
    pub(crate) fn count_heap_free_local(&self, bytes: usize) {
        self.counters.heap_frees.add(1);
        self.counters.heap_bytes_freed.add(bytes as u64);
    }

    /// Counts a heap-intent free made by another thread.
    pub(crate) fn count_heap_free_remote(&self, bytes: usize) {
        self.remote_heap_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.remote_heap_frees.fetch_add(1, Ordering::SeqCst);
    }

    /// Folds every remote free in (owner, or the heaps lock holder while the
    /// heap is idle). With `wait`, also waits out frees that are half-way
    /// through their push, so that nothing is left behind.
    pub(crate) fn collect(&self, wait: bool) {
        self.for_each_page(|class, page| {
            let freed = if wait {
                page.collect_remote_all()
            } else {
                page.collect_remote()
            };
            self.counters.pool_frees[class].add(u64::from(freed));
        });
        let frees = self.remote_heap_frees.swap(0, Ordering::SeqCst);
        let bytes = self.remote_heap_bytes.swap(0, Ordering::Relaxed);
        self.counters.heap_frees.add(frees);
        self.counters.heap_bytes_freed.add(bytes);
    }

    /// Whether no pool slot or heap object of this heap is live (after a
    /// `collect`).
    pub(crate) fn is_empty(&self) -> bool {
        self.counters.live_objects() == 0
    }

    /// Hands every page back to the state's registry (idle heap with nothing
    /// live, under the heaps lock).
    pub(crate) fn return_pages(&self) {
        let mut pages = Vec::new();
        self.for_each_page(|_, page| pages.push(NonNull::from(page)));
        for list in self.heads.iter().chain(&self.full) {
            list.set(ptr::null_mut());
        }
        pages
            .into_iter()
            .for_each(|page| self.state().release_page(page));
        self.counters.pages.set(0);
    }
}
