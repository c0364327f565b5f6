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
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::pool_page::{CLASS_SIZES, CLASSES, PageHeader};
use super::pool_state::PoolState;

/// Single-writer counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline(always)]
    pub(crate) fn add(&self, amount: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(amount),
            Ordering::Relaxed,
        );
    }

    #[inline(always)]
    pub(crate) fn sub(&self, amount: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_sub(amount),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn raise_to(&self, value: u64) {
        if value > self.get() {
            self.0.store(value, Ordering::Relaxed);
        }
    }
}

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

#[repr(align(128))]
pub(crate) struct LocalHeap {
    /// Token of the owning thread; 0 while idle.
    pub(crate) owner: AtomicUsize,
    pub(crate) state: *const PoolState,
    /// First page of each class's list: the one allocations come from.
    heads: [Cell<*mut PageHeader>; CLASSES],
    pub(crate) counters: HeapCounters,
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
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            counters: HeapCounters::default(),
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

    /// The head page is full: collect its remote frees, or find a page of the
    /// class with room, or bring in a page.
    #[cold]
    #[inline(never)]
    fn alloc_slot_slow(&self, class: usize) -> Option<NonNull<u8>> {
        self.counters
            .pool_peak_bytes
            .raise_to(self.counters.pool_live_bytes());
        let mut previous: *mut PageHeader = ptr::null_mut();
        let mut spare_seen = false;
        let mut cursor = self.heads[class].get();
        // SAFETY: pages on the list are live and owned by this heap.
        while let Some(page) = unsafe { cursor.as_ref() } {
            let next = page.next_in_class.get();
            let freed = page.collect_remote();
            self.counters.pool_frees[class].add(u64::from(freed));
            if page.used() == 0 && spare_seen && !previous.is_null() {
                // A second empty page: give it back for any class to use.
                // SAFETY: `previous` is the list page before `page`.
                unsafe { &*previous }.next_in_class.set(next);
                self.state().release_page(NonNull::from(page));
                self.counters.pages.sub(1);
                cursor = next;
                continue;
            }
            spare_seen |= page.used() == 0;
            if page.has_room() {
                self.move_to_front(class, previous, page);
                return page.pop();
            }
            previous = cursor;
            cursor = next;
        }
        let page = self.state().take_page(class, self)?;
        self.counters.pages.add(1);
        // SAFETY: a fresh page just initialised for this heap.
        let page_ref = unsafe { page.as_ref() };
        page_ref.next_in_class.set(self.heads[class].get());
        self.heads[class].set(page.as_ptr());
        page_ref.pop()
    }

    fn move_to_front(&self, class: usize, previous: *mut PageHeader, page: &PageHeader) {
        // SAFETY: `previous` is null or the list page before `page`.
        if let Some(previous) = unsafe { previous.as_ref() } {
            previous.next_in_class.set(page.next_in_class.get());
            page.next_in_class.set(self.heads[class].get());
            self.heads[class].set(ptr::from_ref(page).cast_mut());
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
        for class in 0..CLASSES {
            let mut cursor = self.heads[class].get();
            // SAFETY: list pages are live and ours (see `alloc_slot_slow`).
            while let Some(page) = unsafe { cursor.as_ref() } {
                let freed = if wait {
                    page.collect_remote_all()
                } else {
                    page.collect_remote()
                };
                self.counters.pool_frees[class].add(u64::from(freed));
                cursor = page.next_in_class.get();
            }
        }
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
        for head in &self.heads {
            let mut cursor = head.replace(ptr::null_mut());
            // SAFETY: list pages are live and ours.
            while let Some(page) = unsafe { cursor.as_ref() } {
                cursor = page.next_in_class.get();
                self.state().release_page(NonNull::from(page));
            }
        }
        self.counters.pages.0.store(0, Ordering::Relaxed);
    }
}
