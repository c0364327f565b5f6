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

// The heap word is not part of the loom model: plain atomics in both builds.
use core::sync::atomic::{AtomicPtr as PlainAtomicPtr, Ordering as PlainOrdering};

use super::local_heap::LocalHeap;

/// The tag of a closed page's heap word (heaps are aligned far beyond 4).
pub(crate) const CLOSED_PAGE: usize = 1;

/// The tag of the heap word of a page whose allocator has budgets on. Such
/// a page keeps, in a table before its header, the tag each slot is charged
/// to; the tag makes the owner's free fast path miss, and the slow path
/// releases the charge.
pub(crate) const BUDGETED_PAGE: usize = 2;

/// Both tags of a page's heap word.
const PAGE_TAGS: usize = CLOSED_PAGE | BUDGETED_PAGE;

// A slot's tag id is kept in one byte.
const _: () = assert!(crate::budget::MAX_TAGS <= u8::MAX as usize);

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
/// `head` is shared. Free slots do not live on a list of the page: the
/// owner keeps one free list per size class across all its pages (see
/// `LocalHeap`), so a page only remembers which slots were never handed out.
#[repr(C, align(64))]
pub(crate) struct PageHeader {
    /// The heap this page serves; changed only while no slot is live,
    /// tagged with [`BUDGETED_PAGE`] when its allocator has budgets on and
    /// with [`CLOSED_PAGE`] when its allocator closes (see
    /// [`heap_word`](Self::heap_word)). Atomic because the closing thread
    /// tags it while other threads read it; relaxed accesses are plain moves.
    heap: PlainAtomicPtr<LocalHeap>,
    /// Slots never handed out yet start at this index.
    untouched: Cell<u32>,
    capacity: Cell<u32>,
    class: Cell<u32>,
    /// Scratch count for `LocalHeap::release_empty_pages` (owner only).
    pub(crate) tally: Cell<u32>,
    /// Next page of the heap's list for this class.
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

/// Slots in a page of `class`. A budgeted page gives one byte per slot to
/// its tag table, which ends where the header starts.
fn capacity_for(class: usize, budgeted: bool) -> u32 {
    let per_slot = CLASS_SIZES[class] + usize::from(budgeted);
    (HEADER_OFFSET / per_slot) as u32
}

/// A page's heap word: `heap`, tagged when the allocator has budgets on.
fn heap_word_for(heap: *const LocalHeap, budgeted: bool) -> *mut LocalHeap {
    let tag = if budgeted { BUDGETED_PAGE } else { 0 };
    heap.cast_mut().map_addr(|addr| addr | tag)
}

/// Pushes `slot` onto the intrusive list whose head is `list`.
///
/// # Safety
///
/// `slot` is a free slot (at least 8 bytes, 8-aligned) that nothing else
/// uses; its first word becomes the link.
#[inline(always)]
pub(crate) unsafe fn push_slot(list: &Cell<*mut Slot>, slot: NonNull<u8>) {
    let slot = slot.cast::<Slot>();
    // SAFETY: forwarded from the caller.
    unsafe {
        slot.as_ptr().write(Slot {
            next: AtomicPtr::new(list.get()),
        })
    };
    list.set(slot.as_ptr());
}

/// Pops the first slot of the intrusive list whose head is `list`.
///
/// # Safety
///
/// Every slot on the list is a free slot whose first word is its link.
#[inline(always)]
pub(crate) unsafe fn pop_slot(list: &Cell<*mut Slot>) -> Option<NonNull<u8>> {
    let slot = NonNull::new(list.get())?;
    // SAFETY: forwarded from the caller.
    let next = unsafe { slot.as_ref() }.next.load(Ordering::Relaxed);
    list.set(next);
    Some(slot.cast())
}

impl PageHeader {
    /// Initialises a fresh page for slots of `class`, served by `heap`;
    /// `budgeted`: its allocator has budgets on (the page keeps a tag table).
    ///
    /// Returns the header, whose pointer carries the whole page's provenance.
    pub(crate) fn init(
        page: NonNull<u8>,
        class: usize,
        heap: *const LocalHeap,
        budgeted: bool,
    ) -> NonNull<PageHeader> {
        // SAFETY: `page` is a live allocation of `PAGE_SIZE` bytes aligned to
        // `PAGE_SIZE`, so the header lies inside it and is aligned (64 divides
        // `HEADER_OFFSET`).
        let header = unsafe { page.add(HEADER_OFFSET) }.cast::<PageHeader>();
        let fresh = PageHeader {
            heap: PlainAtomicPtr::new(heap_word_for(heap, budgeted)),
            untouched: Cell::new(0),
            capacity: Cell::new(capacity_for(class, budgeted)),
            class: Cell::new(class as u32),
            tally: Cell::new(0),
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

    /// Reassigns an empty page (no slot live, remote queue settled) to
    /// another class and heap.
    pub(crate) fn reuse(&self, class: usize, heap: *const LocalHeap, budgeted: bool) {
        self.untouched.set(0);
        self.capacity.set(capacity_for(class, budgeted));
        self.class.set(class as u32);
        self.heap
            .store(heap_word_for(heap, budgeted), PlainOrdering::Relaxed);
        self.tally.set(0);
        self.next_in_class.set(ptr::null_mut());
    }

    /// The header of the page holding `slot`.
    ///
    /// # Safety
    ///
    /// `slot` points into a live page (it was handed out by `carve`), with
    /// the page's provenance.
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

    /// The page's first byte (what `allocate_page` returned).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    #[inline(always)]
    pub(crate) fn heap(&self) -> *const LocalHeap {
        self.heap_word().map_addr(|addr| addr & !PAGE_TAGS)
    }

    /// The heap, tagged with [`BUDGETED_PAGE`] when the allocator has budgets
    /// on and with [`CLOSED_PAGE`] once it closed: the owner's free fast path
    /// compares this word with its cached heap, so such a page sends it to
    /// the slow path with no test of its own.
    #[inline(always)]
    pub(crate) fn heap_word(&self) -> *const LocalHeap {
        self.heap.load(PlainOrdering::Relaxed)
    }

    /// Tags the heap word with [`CLOSED_PAGE`] (the closing thread, under the
    /// pages lock; nothing else writes the word after the close).
    pub(crate) fn mark_closed(&self) {
        let word = self.heap.load(PlainOrdering::Relaxed);
        self.heap.store(
            word.map_addr(|addr| addr | CLOSED_PAGE),
            PlainOrdering::Relaxed,
        );
    }

    /// Whether the page keeps a tag table (its allocator has budgets on).
    pub(crate) fn is_budgeted(&self) -> bool {
        self.heap_word().addr() & BUDGETED_PAGE != 0
    }

    /// `slot`'s byte in a budgeted page's tag table: the `capacity` bytes
    /// right before the header, one per slot in slot order.
    fn tag_byte(&self, slot: NonNull<u8>) -> *mut u8 {
        let index = (slot.addr().get() - self.base.addr().get()) / CLASS_SIZES[self.class()];
        let table = HEADER_OFFSET - self.capacity() as usize;
        // Inside the page, derived from `base`: the page's provenance.
        self.base.as_ptr().wrapping_add(table + index)
    }

    /// Records the tag a slot of a budgeted page is charged to (the owner,
    /// when it hands the slot out).
    ///
    /// # Safety
    ///
    /// The page is budgeted and `slot` is one of its slots, not yet handed
    /// to anyone else.
    pub(crate) unsafe fn set_tag(&self, slot: NonNull<u8>, tag: u8) {
        // SAFETY: the table byte of one of this page's slots, inside the
        // page and outside every slot (`capacity_for`); only the slot's
        // holder touches it.
        unsafe { self.tag_byte(slot).write(tag) }
    }

    /// The tag a live slot of a budgeted page is charged to.
    ///
    /// # Safety
    ///
    /// The page is budgeted and `slot` is a live slot of it, held by the
    /// caller (who saw its `set_tag` through the slot's hand-over).
    pub(crate) unsafe fn tag_of(&self, slot: NonNull<u8>) -> u8 {
        // SAFETY: as in `set_tag`.
        unsafe { self.tag_byte(slot).read() }
    }

    pub(crate) fn class(&self) -> usize {
        self.class.get() as usize
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity.get()
    }

    /// Slots never handed out.
    pub(crate) fn untouched_left(&self) -> u32 {
        self.capacity.get() - self.untouched.get()
    }

    /// Links up to `max` slots never handed out onto `list`, lowest address
    /// first (owner only). Returns how many.
    pub(crate) fn carve(&self, list: &Cell<*mut Slot>, max: u32) -> u32 {
        let first = self.untouched.get();
        let count = self.untouched_left().min(max);
        self.untouched.set(first + count);
        let size = CLASS_SIZES[self.class()];
        for index in (first..first + count).rev() {
            // `index < capacity`, so the slot lies inside the page, before
            // the header; the pointer keeps the page's provenance.
            let slot = self.base.as_ptr().wrapping_add(index as usize * size);
            if let Some(slot) = NonNull::new(slot) {
                // SAFETY: a slot never handed out, inside this live page,
                // aligned to 8 (slot sizes are multiples of 8).
                unsafe { push_slot(list, slot) };
            }
        }
        count
    }

    /// Returns a slot freed by a thread that does not own the page: one
    /// atomic swap and one store.
    pub(crate) fn push_remote(&self, slot: NonNull<u8>) {
        let slot = slot.cast::<Slot>().as_ptr();
        // SAFETY: the slot is dead and ours to overwrite (as in `push_slot`).
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

    /// Moves every remote free that is fully linked onto `list`. Returns
    /// how many slots came back (owner or lock holder only).
    pub(crate) fn collect_remote(&self, list: &Cell<*mut Slot>) -> u32 {
        let mut count = 0;
        while let Some(slot) = self.pop_remote() {
            // SAFETY: a popped slot is free and fully linked, so no producer
            // writes it any more.
            unsafe { push_slot(list, slot) };
            count += 1;
        }
        count
    }

    /// Like [`collect_remote`](Self::collect_remote), but also waits for
    /// frees caught between their two steps, so the queue ends empty. Used
    /// only when a heap changes hands or closes, where nothing may be left
    /// behind; a producer is never more than a few instructions from done.
    pub(crate) fn collect_remote_all(&self, list: &Cell<*mut Slot>) -> u32 {
        let mut count = self.collect_remote(list);
        while !self.remote_settled() {
            yield_now();
            count += self.collect_remote(list);
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
    use super::{PageHeader, allocate_page, class_for, free_page, pop_slot};
    use core::cell::Cell;
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
            let header = Shared(PageHeader::init(page, class_for(64, 8), ptr::null(), false));
            let fresh = Cell::new(ptr::null_mut());
            assert_eq!(header.get().carve(&fresh, 3), 3);
            // SAFETY: the list holds the three carved slots.
            let slots: Vec<_> = (0..3)
                .map(|_| unsafe { pop_slot(&fresh) }.unwrap())
                .collect();
            let (first, rest) = (slots[0], [slots[1], slots[2]]);
            let one = loom::thread::spawn(move || header.get().push_remote(first));
            let two = loom::thread::spawn(move || {
                rest.into_iter()
                    .for_each(|slot| header.get().push_remote(slot))
            });
            // The owner collects while the frees arrive: it may see half a
            // push, but never loses or duplicates a slot.
            let back = Cell::new(ptr::null_mut());
            let early = header.get().collect_remote(&back);
            one.join().unwrap();
            two.join().unwrap();
            let late = header.get().collect_remote_all(&back);
            assert_eq!(early + late, 3);
            // All three slots are on the list exactly once.
            // SAFETY: the list holds collected free slots.
            let again: Vec<_> = (0..3)
                .map(|_| unsafe { pop_slot(&back) }.unwrap())
                .collect();
            // SAFETY: as above.
            assert!(unsafe { pop_slot(&back) }.is_none());
            let mut addresses: Vec<usize> = again.iter().map(|slot| slot.addr().get()).collect();
            addresses.sort_unstable();
            addresses.dedup();
            assert_eq!(addresses.len(), 3);
            // SAFETY: no slot of the page is used any more.
            unsafe { free_page(page) };
        });
    }
}
