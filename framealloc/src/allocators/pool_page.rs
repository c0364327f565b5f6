//! Pool pages: 64 KiB blocks of equal-sized slots, with a local free list for
//! the owning thread and a lock-free queue for frees from other threads.
//!
//! A page is one allocation of [`PAGE_SIZE`] bytes aligned to [`PAGE_SIZE`].
//! Slots start at the page's first byte (so a slot is aligned to the largest
//! power of two dividing its size) and the [`PageHeader`] sits in the last
//! bytes, where [`PageHeader::of`] finds it from any slot address with one
//! mask.
//!
//! The remote queue is Dmitry Vyukov's intrusive MPSC queue: a remote free is
//! one `swap` and one store, and the owner pops in batches. Its consumer side
//! can briefly see a producer between its two steps; it then stops and tries
//! again on a later collection.

use core::cell::Cell;
use core::ptr::{self, NonNull};
// Under `--cfg loom` the queue's atomics come from loom, so the model test at
// the end of this file explores every interleaving of the real code.
#[cfg(not(loom))]
use core::sync::atomic::{AtomicPtr, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicPtr, Ordering};
#[cfg(loom)]
use loom::thread::yield_now;
#[cfg(not(loom))]
use std::thread::yield_now;

use super::local_heap::LocalHeap;

/// Bytes per page, and their alignment.
pub(crate) const PAGE_SIZE: usize = 64 << 10;

/// Slot sizes. Each serves any layout whose size fits and whose alignment
/// divides the slot size's lowest set bit.
pub(crate) const CLASS_SIZES: [usize; 30] = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
    1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
];

/// Number of size classes.
pub(crate) const CLASSES: usize = CLASS_SIZES.len();

/// The smallest class that can hold `size` bytes aligned to `align`, or
/// `CLASSES` when none can (the caller then uses the heap).
pub(crate) const fn class_for(size: usize, align: usize) -> usize {
    let mut class = 0;
    while class < CLASSES {
        let slot = CLASS_SIZES[class];
        // A slot at `base + i * slot` is aligned to `slot & slot.wrapping_neg()`.
        if slot >= size && (slot & slot.wrapping_neg()) >= align {
            return class;
        }
        class += 1;
    }
    CLASSES
}

/// A free slot's first word: the link of whichever list it is on.
#[repr(C)]
pub(crate) struct Slot {
    next: AtomicPtr<Slot>,
}

// The smallest class must hold a free slot's link.
#[cfg(not(loom))]
const _: () = assert!(size_of::<Slot>() <= CLASS_SIZES[0]);

/// The producers' side of a page's remote queue, on a cache line of its own
/// so remote frees do not invalidate the line the owner allocates from.
#[repr(C, align(64))]
struct RemoteQueue {
    /// Pushed to by other threads.
    head: AtomicPtr<Slot>,
    /// Queue stub: stays in the header, never handed out.
    stub: Slot,
}

/// Metadata at the end of every page.
///
/// Fields in `Cell`s belong to the thread that owns `heap` (or to whoever
/// holds the pool lock while the heap has no owner); the remote queue's
/// `head` is shared.
#[repr(C, align(64))]
pub(crate) struct PageHeader {
    local_free: Cell<*mut Slot>,
    /// Slots never handed out yet start at this index.
    untouched: Cell<u32>,
    used: Cell<u32>,
    capacity: Cell<u32>,
    class: Cell<u32>,
    /// Whether the page sits on its heap's list of full pages.
    in_full_list: Cell<bool>,
    /// The heap this page serves; changed only while no slot is live.
    heap: Cell<*const LocalHeap>,
    /// Next page in the heap's list (available or full) for this class.
    pub(crate) next_in_class: Cell<*mut PageHeader>,
    /// The page's first byte, with the whole allocation's provenance (a
    /// pointer derived from `&self` would cover the header alone).
    base: NonNull<u8>,
    /// The consumer's end of the remote queue (owner only).
    remote_tail: Cell<*mut Slot>,
    remote: RemoteQueue,
}

// SAFETY: see the struct docs: cells are touched by one thread at a time
// (the heap's owner, or the pool lock holder), handed over under the pool
// lock; the queue head is atomic.
unsafe impl Sync for PageHeader {}

const HEADER_OFFSET: usize = PAGE_SIZE - size_of::<PageHeader>();

impl PageHeader {
    /// Initialises a fresh page for slots of `class`, served by `heap`.
    ///
    /// Returns the header, whose pointer carries the whole page's provenance.
    pub(crate) fn init(
        page: NonNull<u8>,
        class: usize,
        heap: *const LocalHeap,
    ) -> NonNull<PageHeader> {
        // SAFETY: `page` is a live allocation of `PAGE_SIZE` bytes aligned to
        // `PAGE_SIZE`, so the header lies inside it and is aligned (64 divides
        // `HEADER_OFFSET`).
        let header = unsafe { page.add(HEADER_OFFSET) }.cast::<PageHeader>();
        let fresh = PageHeader {
            local_free: Cell::new(ptr::null_mut()),
            untouched: Cell::new(0),
            used: Cell::new(0),
            capacity: Cell::new((HEADER_OFFSET / CLASS_SIZES[class]) as u32),
            class: Cell::new(class as u32),
            in_full_list: Cell::new(false),
            heap: Cell::new(heap),
            next_in_class: Cell::new(ptr::null_mut()),
            base: page,
            remote_tail: Cell::new(ptr::null_mut()),
            remote: RemoteQueue {
                head: AtomicPtr::new(ptr::null_mut()),
                stub: Slot {
                    next: AtomicPtr::new(ptr::null_mut()),
                },
            },
        };
        // SAFETY: in bounds and aligned (above); the page is not shared yet.
        unsafe { header.write(fresh) };
        // SAFETY: just initialised; the stub's address is now stable.
        let this = unsafe { header.as_ref() };
        let stub = this.stub_ptr();
        this.remote.head.store(stub, Ordering::Relaxed);
        this.remote_tail.set(stub);
        header
    }

    /// Reassigns an empty page to another class and heap.
    pub(crate) fn reuse(&self, class: usize, heap: *const LocalHeap) {
        debug_assert_eq!(self.used.get(), 0);
        self.local_free.set(ptr::null_mut());
        self.untouched.set(0);
        self.capacity
            .set((HEADER_OFFSET / CLASS_SIZES[class]) as u32);
        self.class.set(class as u32);
        self.heap.set(heap);
        self.next_in_class.set(ptr::null_mut());
        self.in_full_list.set(false);
    }

    /// Whether the page sits on its heap's full list.
    #[inline(always)]
    pub(crate) fn in_full_list(&self) -> bool {
        self.in_full_list.get()
    }

    pub(crate) fn set_in_full_list(&self, full: bool) {
        self.in_full_list.set(full);
    }

    /// The header of the page holding `slot`.
    ///
    /// # Safety
    ///
    /// `slot` points into a live page (it was handed out by `pop`), with the
    /// page's provenance.
    #[inline(always)]
    pub(crate) unsafe fn of<'a>(slot: NonNull<u8>) -> &'a PageHeader {
        let header = slot.map_addr(|addr| {
            let base = addr.get() & !(PAGE_SIZE - 1);
            // Never zero: a live allocation is not at address 0.
            core::num::NonZeroUsize::new(base + HEADER_OFFSET).unwrap_or(addr)
        });
        // SAFETY: the caller's slot is inside a live page, whose header lies
        // at this offset from the page base and was initialised by `init`.
        unsafe { header.cast::<PageHeader>().as_ref() }
    }

    fn stub_ptr(&self) -> *mut Slot {
        (&raw const self.remote.stub).cast_mut()
    }

    fn base_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The page's first byte (what `allocate_page` returned).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    pub(crate) fn heap(&self) -> *const LocalHeap {
        self.heap.get()
    }

    pub(crate) fn class(&self) -> usize {
        self.class.get() as usize
    }

    pub(crate) fn used(&self) -> u32 {
        self.used.get()
    }

    /// Whether a slot can be taken without collecting remote frees.
    pub(crate) fn has_room(&self) -> bool {
        !self.local_free.get().is_null() || self.untouched.get() < self.capacity.get()
    }

    /// Takes a free slot (owner only).
    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<NonNull<u8>> {
        let slot = self.local_free.get();
        if let Some(slot) = NonNull::new(slot) {
            // SAFETY: slots on the local list are free slots of this page,
            // whose first word is their link.
            let next = unsafe { slot.as_ref() }.next.load(Ordering::Relaxed);
            self.local_free.set(next);
            self.used.set(self.used.get() + 1);
            return Some(slot.cast());
        }
        self.pop_untouched()
    }

    #[cold]
    fn pop_untouched(&self) -> Option<NonNull<u8>> {
        let index = self.untouched.get();
        if index >= self.capacity.get() {
            return None;
        }
        self.untouched.set(index + 1);
        self.used.set(self.used.get() + 1);
        let offset = index as usize * CLASS_SIZES[self.class()];
        // `offset + slot size <= HEADER_OFFSET`, inside the page.
        NonNull::new(self.base_ptr().wrapping_add(offset))
    }

    /// Returns a slot freed by the owner. Returns `true` when the page became
    /// empty.
    #[inline(always)]
    pub(crate) fn push_local(&self, slot: NonNull<u8>) -> bool {
        let slot = slot.cast::<Slot>();
        // SAFETY: the slot is a dead slot of this page, at least 8 bytes and
        // 8-aligned; its first word becomes the link.
        unsafe {
            slot.as_ptr().write(Slot {
                next: AtomicPtr::new(self.local_free.get()),
            })
        };
        self.local_free.set(slot.as_ptr());
        let used = self.used.get() - 1;
        self.used.set(used);
        used == 0
    }

    /// Returns a slot freed by a thread that does not own the page: one
    /// atomic swap and one store.
    pub(crate) fn push_remote(&self, slot: NonNull<u8>) {
        let slot = slot.cast::<Slot>().as_ptr();
        // SAFETY: the slot is dead and ours to overwrite (as in `push_local`).
        unsafe {
            slot.write(Slot {
                next: AtomicPtr::new(ptr::null_mut()),
            })
        };
        let previous = self.remote.head.swap(slot, Ordering::AcqRel);
        // SAFETY: `previous` is the stub or a slot pushed earlier and not yet
        // popped (the consumer never pops the newest slot while a producer
        // may still link it), so it is valid to write its link.
        unsafe { (*previous).next.store(slot, Ordering::Release) };
    }

    /// Whether the remote queue holds nothing, not even a half-pushed slot:
    /// the consumer's tail is the producers' head and has no successor.
    fn remote_settled(&self) -> bool {
        let tail = self.remote_tail.get();
        // SAFETY: the tail is the stub or a pushed, not yet popped slot.
        let linked = unsafe { (*tail).next.load(Ordering::SeqCst) };
        self.remote.head.load(Ordering::SeqCst) == tail && linked.is_null()
    }

    /// Moves every remote free that is fully linked onto the local list.
    /// Returns how many slots came back (owner or lock holder only).
    pub(crate) fn collect_remote(&self) -> u32 {
        let mut count = 0;
        while let Some(slot) = self.pop_remote() {
            self.push_local(slot);
            count += 1;
        }
        count
    }

    /// Like [`collect_remote`](Self::collect_remote), but also waits for
    /// frees caught between their two steps, so the queue ends empty. Used
    /// only when a heap changes hands or closes, where nothing may be left
    /// behind; a producer is never more than a few instructions from done.
    pub(crate) fn collect_remote_all(&self) -> u32 {
        let mut count = self.collect_remote();
        while !self.remote_settled() {
            yield_now();
            count += self.collect_remote();
        }
        count
    }

    fn pop_remote(&self) -> Option<NonNull<u8>> {
        let stub = self.stub_ptr();
        let mut tail = self.remote_tail.get();
        // In this function `tail`, `next`, `stub` and `previous` are always the
        // stub or slots pushed and not yet popped, which stay valid; producers
        // only ever write a slot's `next`.
        // SAFETY: `tail` is such a pointer (see above).
        let mut next = unsafe { (*tail).next.load(Ordering::Acquire) };
        if tail == stub {
            if next.is_null() {
                return None;
            }
            self.remote_tail.set(next);
            tail = next;
            // SAFETY: `next` is such a pointer (see above).
            next = unsafe { (*next).next.load(Ordering::Acquire) };
        }
        if !next.is_null() {
            self.remote_tail.set(next);
            return NonNull::new(tail.cast());
        }
        if tail != self.remote.head.load(Ordering::Acquire) {
            // A producer swapped the head but has not linked yet.
            return None;
        }
        // `tail` is the last slot: push the stub behind it so it can be taken.
        // SAFETY: the stub is ours; writing its link before publishing it.
        unsafe { (*stub).next.store(ptr::null_mut(), Ordering::Relaxed) };
        let previous = self.remote.head.swap(stub, Ordering::AcqRel);
        // SAFETY: `previous` is such a pointer (see above).
        unsafe { (*previous).next.store(stub, Ordering::Release) };
        // SAFETY: `tail` is such a pointer (see above).
        next = unsafe { (*tail).next.load(Ordering::Acquire) };
        if !next.is_null() {
            self.remote_tail.set(next);
            return NonNull::new(tail.cast());
        }
        None
    }
}

/// Allocates one page from the global allocator.
pub(crate) fn allocate_page() -> Option<NonNull<u8>> {
    // SAFETY: the layout has a non-zero size.
    NonNull::new(unsafe { std::alloc::alloc(page_layout()) })
}

/// Frees a page.
///
/// # Safety
///
/// `page` came from [`allocate_page`], is freed once, and no slot of it is
/// used afterwards.
pub(crate) unsafe fn free_page(page: NonNull<u8>) {
    // SAFETY: forwarded from the caller.
    unsafe { std::alloc::dealloc(page.as_ptr(), page_layout()) }
}

fn page_layout() -> core::alloc::Layout {
    // PAGE_SIZE is a power of two, so the layout is valid.
    core::alloc::Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).unwrap_or_else(|_| unreachable!())
}

#[cfg(all(test, loom))]
mod loom_model {
    //! `RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib loom_model`
    use super::{PageHeader, allocate_page, class_for, free_page};
    use core::ptr::{self, NonNull};

    /// Lets a model thread hold the page header.
    #[derive(Clone, Copy)]
    struct Shared(NonNull<PageHeader>);
    // SAFETY: `PageHeader` is `Sync`; the remote side only calls
    // `push_remote`, which is built for concurrent producers.
    unsafe impl Send for Shared {}

    impl Shared {
        fn get(&self) -> &PageHeader {
            // SAFETY: the page outlives every model thread (joined before
            // the page is freed).
            unsafe { self.0.as_ref() }
        }
    }

    #[test]
    fn remote_frees_from_two_threads_all_come_back_to_the_owner() {
        loom::model(|| {
            let page = allocate_page().unwrap();
            // 64-byte slots: a loom atomic is larger than a plain pointer.
            let header = Shared(PageHeader::init(page, class_for(64, 8), ptr::null()));
            let slots: Vec<_> = (0..3).map(|_| header.get().pop().unwrap()).collect();
            let (first, rest) = (slots[0], [slots[1], slots[2]]);
            let one = loom::thread::spawn(move || header.get().push_remote(first));
            let two = loom::thread::spawn(move || {
                rest.into_iter()
                    .for_each(|slot| header.get().push_remote(slot))
            });
            // The owner collects while the frees arrive: it may see half a
            // push, but never loses or duplicates a slot.
            let early = header.get().collect_remote();
            one.join().unwrap();
            two.join().unwrap();
            let late = header.get().collect_remote_all();
            assert_eq!(early + late, 3);
            assert_eq!(header.get().used(), 0);
            // All three slots are on the local list exactly once.
            let again: Vec<_> = (0..3).map(|_| header.get().pop().unwrap()).collect();
            let mut addresses: Vec<usize> = again.iter().map(|slot| slot.addr().get()).collect();
            addresses.sort_unstable();
            addresses.dedup();
            assert_eq!(addresses.len(), 3);
            // SAFETY: no slot of the page is used any more.
            unsafe { free_page(page) };
        });
    }
}
