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
use super::pool_page::{CLASS_SIZES, CLASSES, PageHeader, Slot, pop_slot, push_slot};
use super::pool_state::PoolState;

/// One size class of a heap: its free list and its counters, together on
/// one cache line (the pool fast path touches nothing else of the heap).
#[repr(C, align(64))]
struct SizeClass {
    /// Free slots across all the heap's pages of this class: the
    /// allocation fast path pops here, the owner's frees push here.
    free: Cell<*mut Slot>,
    allocs: Counter,
    frees: Counter,
}

impl SizeClass {
    fn live(&self) -> u64 {
        self.allocs.get() - self.frees.get()
    }
}

/// The owner's figures for one heap (the pool's per-class counts live in
/// its `SizeClass`es).
#[derive(Default)]
pub(crate) struct HeapCounters {
    pub(crate) pool_peak_bytes: Counter,
    pub(crate) heap_allocs: Counter,
    pub(crate) heap_frees: Counter,
    /// Heap-intent bytes live, as far as the owner knows (remote frees are
    /// subtracted when collected).
    pub(crate) heap_live_bytes: Counter,
    pub(crate) heap_peak_bytes: Counter,
    pub(crate) pages: Counter,
}

#[repr(align(64))]
struct RemoteFlags([AtomicBool; CLASSES]);

/// Bit of [`LocalHeap::owner`] set once the allocator closed, so that the
/// owner's free path notices the close through the compare it makes anyway.
pub(crate) const CLOSED: usize = 2;

/// Bit of [`LocalHeap::owner`] set for good in the heaps of an allocator
/// with budgets on: no thread's token matches such a word, so every
/// heap-block free of that allocator takes the slow path, which reads the
/// block's charge.
pub(crate) const BUDGETED: usize = 4;

/// The bits of [`LocalHeap::owner`] that are not the owner's token.
pub(crate) const OWNER_FLAGS: usize = CLOSED | BUDGETED;

/// The alignment of a heap. The header of a `PoolBox` value that went to
/// the heap keeps the heap pointer with the budget charge in its low bits
/// (see `pool_box::Meta`).
pub(crate) const HEAP_ALIGN: usize = 1024;

/// Slots linked onto a free list per refill from a page's untouched part:
/// about 4 KiB worth, at least one.
const fn carve_batch(class: usize) -> u32 {
    let slots = 4096 / CLASS_SIZES[class];
    if slots == 0 { 1 } else { slots as u32 }
}

#[repr(C, align(1024))]
pub(crate) struct LocalHeap {
    /// Token of the owning thread (0 while idle), with [`CLOSED`] set once
    /// the allocator closed, and [`BUDGETED`] when its budgets are on.
    pub(crate) owner: AtomicUsize,
    pub(crate) state: *const PoolState,
    classes: [SizeClass; CLASSES],
    pub(crate) counters: HeapCounters,
    /// Each class's pages.
    pages: [Cell<*mut PageHeader>; CLASSES],
    /// Each class's page that still has slots never handed out (or null).
    fresh: [Cell<*mut PageHeader>; CLASSES],
    /// Set by other threads before they free into a page of that class (a
    /// plain store, on a line of its own): the class's pages have remote
    /// frees to take back.
    remote_pending: RemoteFlags,
    /// Heap-intent frees made by other threads, folded in by `collect`.
    remote_heap_frees: AtomicU64,
    remote_heap_bytes: AtomicU64,
    /// Whether this heap holds a strong count on its `PoolState` (guarded by
    /// the owner or the heaps lock).
    pub(crate) retained: Cell<bool>,
}

const _: () = assert!(align_of::<LocalHeap>() == HEAP_ALIGN);

impl LocalHeap {
    pub(crate) fn new(state: *const PoolState, budgeted: bool) -> LocalHeap {
        LocalHeap {
            owner: AtomicUsize::new(if budgeted { BUDGETED } else { 0 }),
            state,
            classes: [const {
                SizeClass {
                    free: Cell::new(ptr::null_mut()),
                    allocs: Counter::new(),
                    frees: Counter::new(),
                }
            }; CLASSES],
            counters: HeapCounters::default(),
            pages: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            fresh: [const { Cell::new(ptr::null_mut()) }; CLASSES],
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

    /// The owner's token, without the flag bits.
    pub(crate) fn owner_token(&self) -> usize {
        self.owner.load(Ordering::SeqCst) & !OWNER_FLAGS
    }

    /// Whether the allocator's budgets are on (its heap blocks carry their
    /// charge in a header).
    pub(crate) fn is_budgeted(&self) -> bool {
        self.owner.load(Ordering::Relaxed) & BUDGETED != 0
    }

    /// Whether the allocator closed (as seen by the owner's free path).
    pub(crate) fn is_closed(&self) -> bool {
        self.owner.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Takes a free slot of `class` if one is at hand (owner only): the
    /// allocation fast path.
    #[inline(always)]
    pub(crate) fn pop_free(&self, class: usize) -> Option<NonNull<u8>> {
        let class = &self.classes[class];
        // SAFETY: the free lists hold free slots of this heap's live pages,
        // linked through their first word; only the owner touches them.
        let slot = unsafe { pop_slot(&class.free) }?;
        class.allocs.add(1);
        Some(slot)
    }

    /// Takes a slot of `class`, refilling the free list when it is empty
    /// (owner only). `None` when the system refuses a page.
    pub(crate) fn alloc_slot(&self, class: usize) -> Option<NonNull<u8>> {
        if let Some(slot) = self.pop_free(class) {
            return Some(slot);
        }
        self.refill(class)?;
        self.pop_free(class)
    }

    /// Returns a slot freed by the owner.
    ///
    /// # Safety
    ///
    /// `slot` is a live slot of `class` in one of this heap's pages, not used
    /// afterwards; the caller owns the heap.
    #[inline(always)]
    pub(crate) unsafe fn push_free(&self, class: usize, slot: NonNull<u8>) {
        let class = &self.classes[class];
        // SAFETY: forwarded from the caller.
        unsafe { push_slot(&class.free, slot) };
        class.frees.add(1);
    }

    /// The free list of `class` is empty. In order: take back remote frees
    /// if any were announced; carve slots from the class's fresh page; bring
    /// in a page. `None` when the system refuses a page.
    #[cold]
    #[inline(never)]
    fn refill(&self, class: usize) -> Option<()> {
        self.counters
            .pool_peak_bytes
            .raise_to(self.pool_live_bytes());
        if self.remote_pending.0[class].swap(false, Ordering::Relaxed) {
            self.collect_class(class, false);
            if !self.classes[class].free.get().is_null() {
                return Some(());
            }
        }
        // SAFETY: list pages are live pages of this heap.
        if let Some(page) = unsafe { self.fresh[class].get().as_ref() } {
            if page.carve(&self.classes[class].free, carve_batch(class)) > 0 {
                return Some(());
            }
            self.fresh[class].set(ptr::null_mut());
        }
        let page = self.state().take_page(class, self)?;
        self.counters.pages.add(1);
        // SAFETY: a fresh page just initialised for this heap.
        let page_ref = unsafe { page.as_ref() };
        page_ref.next_in_class.set(self.pages[class].get());
        self.pages[class].set(page.as_ptr());
        self.fresh[class].set(page.as_ptr());
        page_ref.carve(&self.classes[class].free, carve_batch(class));
        Some(())
    }

    /// Takes back the remote frees of every page of `class` (owner, or the
    /// heaps lock holder while the heap is idle). With `wait`, also waits out
    /// frees that are half-way through their push.
    fn collect_class(&self, class: usize, wait: bool) {
        let mut cursor = self.pages[class].get();
        // SAFETY: list pages are live pages of this heap.
        while let Some(page) = unsafe { cursor.as_ref() } {
            cursor = page.next_in_class.get();
            let freed = if wait {
                page.collect_remote_all(&self.classes[class].free)
            } else {
                page.collect_remote(&self.classes[class].free)
            };
            self.classes[class].frees.add(u64::from(freed));
        }
    }

    /// Notes, before another thread frees into a page of `class`, that the
    /// class has remote frees. A plain store: no read-modify-write.
    #[inline(always)]
    pub(crate) fn note_remote_free(&self, class: usize) {
        self.remote_pending.0[class].store(true, Ordering::Relaxed);
    }

    /// Whether another thread announced a pool free not yet taken back.
    pub(crate) fn remote_frees_announced(&self) -> bool {
        self.remote_pending
            .0
            .iter()
            .any(|flag| flag.load(Ordering::Relaxed))
    }

    /// Hands the heap's empty pages back to the state's free list (owner
    /// only), after taking back remote frees.
    ///
    /// A page is empty when its free slots (counted by walking the free
    /// list) and its untouched slots make up its capacity. Costs one walk of
    /// each free list and of each page list.
    pub(crate) fn release_empty_pages(&self) {
        self.collect(false);
        for class in 0..CLASSES {
            let free = &self.classes[class].free;
            // Move the free list aside, counting each page's free slots in
            // its `tally`.
            let aside = Cell::new(ptr::null_mut());
            // SAFETY: the free list holds free slots of this heap's live
            // pages, linked through their first word.
            while let Some(slot) = unsafe { pop_slot(free) } {
                // SAFETY: as above.
                let page = unsafe { PageHeader::of(slot) };
                page.tally.set(page.tally.get() + 1);
                // SAFETY: the slot is free and off every list.
                unsafe { push_slot(&aside, slot) };
            }
            // Unlink the empty pages; mark them with a tally of `u32::MAX`.
            let mut kept: *mut PageHeader = ptr::null_mut();
            let mut released = Vec::new();
            let mut cursor = self.pages[class].replace(ptr::null_mut());
            // SAFETY: list pages are live pages of this heap.
            while let Some(page) = unsafe { cursor.as_ref() } {
                cursor = page.next_in_class.get();
                if page.tally.get() + page.untouched_left() == page.capacity() {
                    page.tally.set(u32::MAX);
                    released.push(NonNull::from(page));
                } else {
                    page.tally.set(0);
                    page.next_in_class.set(kept);
                    kept = ptr::from_ref(page).cast_mut();
                }
            }
            self.pages[class].set(kept);
            // Put the free list back (in its order) without the released
            // pages' slots.
            // SAFETY: as above.
            while let Some(slot) = unsafe { pop_slot(&aside) } {
                // SAFETY: as above; released pages are still allocated.
                if unsafe { PageHeader::of(slot) }.tally.get() != u32::MAX {
                    // SAFETY: the slot is free and off every list.
                    unsafe { push_slot(free, slot) };
                }
            }
            if released
                .iter()
                .any(|page| page.as_ptr() == self.fresh[class].get())
            {
                self.fresh[class].set(ptr::null_mut());
            }
            for page in released {
                self.counters.pages.set(self.counters.pages.get() - 1);
                self.state().release_page(page);
            }
        }
    }

    /// Every page of every class.
    fn for_each_page(&self, mut visit: impl FnMut(usize, &PageHeader)) {
        for class in 0..CLASSES {
            let mut cursor = self.pages[class].get();
            // SAFETY: list pages are live and owned by this heap.
            while let Some(page) = unsafe { cursor.as_ref() } {
                cursor = page.next_in_class.get();
                visit(class, page);
            }
        }
    }

    /// Counts a heap-intent allocation (owner only).
    #[inline(always)]
    pub(crate) fn count_heap_alloc(&self, bytes: usize) {
        let counters = &self.counters;
        counters.heap_allocs.add(1);
        let live = counters.heap_live_bytes.get() + bytes as u64;
        counters.heap_live_bytes.set(live);
        counters.heap_peak_bytes.raise_to(live);
    }

    /// Counts a heap-intent free made by the owner.
    #[inline(always)]
    pub(crate) fn count_heap_free_local(&self, bytes: usize) {
        self.counters.heap_frees.add(1);
        self.counters
            .heap_live_bytes
            .add((bytes as u64).wrapping_neg());
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
            self.remote_pending.0[class].store(false, Ordering::Relaxed);
            self.collect_class(class, wait);
        }
        let frees = self.remote_heap_frees.swap(0, Ordering::SeqCst);
        let bytes = self.remote_heap_bytes.swap(0, Ordering::Relaxed);
        self.counters.heap_frees.add(frees);
        self.counters.heap_live_bytes.add(bytes.wrapping_neg());
    }

    /// Pool allocations counted (any thread).
    pub(crate) fn pool_allocations(&self) -> u64 {
        self.classes.iter().map(|class| class.allocs.get()).sum()
    }

    /// Pool frees counted (any thread).
    pub(crate) fn pool_deallocations(&self) -> u64 {
        self.classes.iter().map(|class| class.frees.get()).sum()
    }

    /// Pool bytes live, by slot size (any thread).
    pub(crate) fn pool_live_bytes(&self) -> u64 {
        self.classes
            .iter()
            .zip(CLASS_SIZES)
            .map(|(class, size)| class.live() * size as u64)
            .sum()
    }

    fn live_objects(&self) -> u64 {
        let pool: u64 = self.classes.iter().map(SizeClass::live).sum();
        pool + self.counters.heap_allocs.get() - self.counters.heap_frees.get()
    }

    /// Collects when other threads announced pool frees or counted heap
    /// frees not folded in yet (owner only).
    pub(crate) fn collect_if_announced(&self) {
        if self.remote_frees_announced() || self.remote_heap_frees.load(Ordering::SeqCst) != 0 {
            self.collect(false);
        }
    }

    /// Whether no pool slot or heap object of this heap is live (after a
    /// `collect`).
    pub(crate) fn is_empty(&self) -> bool {
        self.live_objects() == 0
    }

    /// Hands every page back to the state's registry (idle heap with nothing
    /// live, under the heaps lock).
    pub(crate) fn return_pages(&self) {
        let mut pages = Vec::new();
        self.for_each_page(|_, page| pages.push(NonNull::from(page)));
        for list in self.pages.iter().chain(&self.fresh) {
            list.set(ptr::null_mut());
        }
        for class in &self.classes {
            class.free.set(ptr::null_mut());
        }
        pages
            .into_iter()
            .for_each(|page| self.state().release_page(page));
        self.counters.pages.set(0);
    }
}
