//! `OwnedHeap`: what only the thread that owns a heap may do with it (or
//! the heaps lock holder while the heap has no owner): allocate from its
//! free lists, push its own frees, refill, take back remote frees, give
//! empty pages back. "Owner only" is this type, not a comment: it is made
//! only by `OwnedHeap::assume`, whose contract is the ownership.
#![expect(unsafe_code, reason = "the owner walks its free lists and pages through raw pointers")]

use core::cell::Cell;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::free_list::{pop_slot, push_slot};
use super::heap::{LocalHeap, carve_batch};
use super::lifecycle::PoolState;
use super::page::PageHeader;
use super::size_class::{CLASS_SIZES, CLASSES};

/// A heap the calling thread owns, for as long as `'a` (see the module
/// docs). Neither `Send` nor `Sync`: ownership belongs to one thread.
#[derive(Clone, Copy)]
pub(crate) struct OwnedHeap<'a> {
    heap: &'a LocalHeap,
    _one_thread: PhantomData<*const ()>,
}

impl<'a> OwnedHeap<'a> {
    /// Takes `heap` as the calling thread's own.
    ///
    /// # Safety
    ///
    /// - For all of `'a`, the calling thread owns `heap` (its token is in
    ///   the heap's owner word), or holds the heaps lock while `heap` has no
    ///   owner; no other `OwnedHeap` of it is used on another thread.
    #[inline(always)]
    pub(crate) unsafe fn assume(heap: &'a LocalHeap) -> OwnedHeap<'a> {
        OwnedHeap {
            heap,
            _one_thread: PhantomData,
        }
    }

    /// [`assume`](Self::assume) through a pointer.
    ///
    /// # Safety
    ///
    /// - `heap` points to a live heap for all of `'a`, and the calling
    ///   thread owns it as [`assume`](Self::assume) requires.
    #[inline(always)]
    pub(crate) unsafe fn from_ptr(heap: *const LocalHeap) -> OwnedHeap<'a> {
        OwnedHeap {
            // SAFETY: live for `'a` (caller).
            heap: unsafe { &*heap },
            _one_thread: PhantomData,
        }
    }

    /// The heap itself.
    #[inline(always)]
    pub(crate) fn heap(self) -> &'a LocalHeap {
        self.heap
    }

    /// Takes a free slot of `class` if one is at hand : the
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
    /// . `None` when the system refuses a page.
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
    /// - `slot` is a live slot of `class` in one of this heap's pages, not
    ///   used afterwards;
    /// - the caller owns the heap (or holds the heaps lock while it has no
    ///   owner).
    #[inline(always)]
    pub(crate) unsafe fn push_free(&self, class: usize, slot: NonNull<u8>) {
        let class = &self.classes[class];
        // SAFETY: forwarded from the caller.
        unsafe { push_slot(&class.free, slot) };
        class.frees.add(1);
    }

    /// The free list of `class` is empty. In order: take back remote frees
    /// if any were announced; carve slots from the class's fresh page; take
    /// back remote frees from any page of the class; bring in a page. `None`
    /// when the system refuses a page.
    #[cold]
    #[inline(never)]
    fn refill(&self, class: usize) -> Option<()> {
        self.counters
            .pool_peak_bytes
            .raise_to(self.pool_live_bytes_estimate());
        if self.remote_pending.0[class].swap(false, Ordering::Relaxed) {
            self.collect_class(class);
            if !self.classes[class].free.get().is_null() {
                return Some(());
            }
        }
        // SAFETY: list pages are live pages of this heap.
        if let Some(page) = unsafe { self.fresh[class].get().as_ref() } {
            // SAFETY: a page of this heap, which the calling thread owns.
            if unsafe { page.carve(&self.classes[class].free, carve_batch(class)) } > 0 {
                return Some(());
            }
            self.fresh[class].set(ptr::null_mut());
        }
        // An announcement can be missed (it is a plain flag, raised before
        // the push); before taking a new page, look at every page's stack.
        self.collect_class(class);
        if !self.classes[class].free.get().is_null() {
            return Some(());
        }
        let page = PoolState::of(self.heap).take_page(class, self.heap)?;
        self.counters.pages.add(1);
        PoolState::of(self.heap).observer.refill(CLASS_SIZES[class]);
        // SAFETY: a fresh page just initialised for this heap.
        let page_ref = unsafe { page.as_ref() };
        page_ref.next_in_class.set(self.pages[class].get());
        self.pages[class].set(page.as_ptr());
        self.fresh[class].set(page.as_ptr());
        // SAFETY: as above.
        unsafe { page_ref.carve(&self.classes[class].free, carve_batch(class)) };
        Some(())
    }

    /// Takes back the remote frees of every page of `class` .
    fn collect_class(&self, class: usize) {
        let size_class = &self.classes[class];
        let mut cursor = self.pages[class].get();
        // SAFETY: list pages are live pages of this heap.
        while let Some(page) = unsafe { cursor.as_ref() } {
            cursor = page.next_in_class.get();
            if page.has_remote() {
                // SAFETY: the page is one of this heap's, which the calling
                // thread owns.
                let taken = unsafe { page.take_remote(&size_class.free) };
                size_class
                    .collected
                    .set(size_class.collected.get() + u64::from(taken));
            }
        }
    }

    /// Hands the heap's empty pages back to the state's free list (owner
    /// only), after taking back remote frees.
    ///
    /// A page is empty when its free slots (counted by walking the free
    /// list) and its untouched slots make up its capacity. Costs one walk of
    /// each free list and of each page list.
    pub(crate) fn release_empty_pages(&self) {
        self.collect();
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
                // SAFETY: a page of this heap, which the calling thread owns.
                let untouched = unsafe { page.untouched_left() };
                if page.tally.get() + untouched == page.capacity() {
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
                // SAFETY: an empty page of this heap, unlinked from every
                // list, whose remote stack was taken (`collect` above); with
                // a handle alive no thread pushes onto it any more.
                unsafe { PoolState::of(self.heap).release_page(page, self.heap) };
            }
        }
    }

    /// Counts a heap-intent allocation.
    #[inline(always)]
    pub(crate) fn count_heap_alloc(&self, bytes: usize) {
        let counters = &self.counters;
        counters.heap_allocs.add(1);
        let live = counters.heap_live_bytes.get() + bytes as u64;
        counters.heap_live_bytes.set(live);
        counters.heap_peak_bytes.raise_to(live);
    }

    /// Counts a heap-intent free made by the owner (or by the heaps lock
    /// holder while the heap has no owner).
    #[inline(always)]
    pub(crate) fn count_heap_free_local(&self, bytes: usize) {
        self.counters.heap_frees.add(1);
        self.counters
            .heap_live_bytes
            .add((bytes as u64).wrapping_neg());
    }

    /// Takes back every remote pool free, so the slots can be reused Counting does not depend on it.
    pub(crate) fn collect(&self) {
        for class in 0..CLASSES {
            self.remote_pending.0[class].store(false, Ordering::Relaxed);
            self.collect_class(class);
        }
    }

    /// The owner's estimate of its pool bytes live, for the peak: it counts
    /// remote frees only once taken back, so it may be high .
    fn pool_live_bytes_estimate(&self) -> u64 {
        self.classes
            .iter()
            .zip(CLASS_SIZES)
            .map(|(class, size)| {
                let freed = class.frees.get() + class.retired.get() + class.collected.get();
                class.allocs.get().saturating_sub(freed) * size as u64
            })
            .sum()
    }
}

impl Deref for OwnedHeap<'_> {
    type Target = LocalHeap;

    #[inline(always)]
    fn deref(&self) -> &LocalHeap {
        self.heap
    }
}
