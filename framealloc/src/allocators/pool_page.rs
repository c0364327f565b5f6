//! Pool pages: 64 KiB blocks of equal-sized slots, with a lock-free stack
//! for frees from other threads.
//!
//! A page is one allocation of [`PAGE_SIZE`] bytes aligned to [`PAGE_SIZE`].
//! Slots start at the page's first byte (so a slot is aligned to the largest
//! power of two dividing its size) and the [`PageHeader`] sits in the last
//! bytes, where [`PageHeader::of`] finds it from any slot address with one
//! mask.
//!
//! # The remote-free word
//!
//! A thread that does not own the page frees a slot by pushing it onto the
//! page's remote stack: one compare-and-swap of one 64-bit word, which
//! holds three things at once:
//!
//! | bits | meaning |
//! |---|---|
//! | 0..16 | the newest pushed slot, as its offset in the page / 8, plus 1 (0: empty) |
//! | 16 | `CLOSED`: the allocator closed; pushes are refused (the pusher takes the locked path) |
//! | 17..64 | how many slots were ever pushed while the page served its heap |
//!
//! Because the count rides in the same word, every remote free is counted
//! the moment it happens (statistics need no collection), and because the
//! close bit does too, a push and a close are ordered by that one word: a
//! push either lands before the close (and the closer's count sees it) or
//! is refused. The owner takes the whole stack with one `fetch_and` that
//! clears the slot bits and keeps the count and the close bit. The count
//! only grows, so a head value never repeats: no ABA.

use core::cell::Cell;
use core::ptr::{self, NonNull};
// Under `--cfg loom` the remote word and the slot links come from loom, so
// the model test at the end of this file explores every interleaving of the
// real code.
#[cfg(not(loom))]
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

// The page key and heap pointer are not part of the loom model: plain
// atomics in both builds.
use core::sync::atomic::{
    AtomicPtr as PlainAtomicPtr, AtomicU64 as PlainAtomicU64, Ordering as PlainOrdering,
};

use super::local_heap::LocalHeap;

/// The tag of a closed page's key (keys are heap ids shifted left by 2).
pub(crate) const CLOSED_PAGE: u64 = 1;

/// The tag of the key of a page whose allocator has budgets on. Such a page
/// keeps, in a table before its header, the tag each slot is charged to;
/// the tag makes the owner's free fast path miss, and the slow path
/// releases the charge.
pub(crate) const BUDGETED_PAGE: u64 = 2;

/// Bits of the remote word: the newest slot, the close bit, the count.
const TOP_MASK: u64 = (1 << 16) - 1;
const REMOTE_CLOSED: u64 = 1 << 16;
const COUNT_SHIFT: u32 = 17;

// A slot's tag id is kept in one byte.
const _: () = assert!(crate::budget::MAX_TAGS <= u8::MAX as usize);

/// Bytes per page, and their alignment.
pub(crate) const PAGE_SIZE: usize = 64 << 10;

// Every slot offset / 8, plus 1, fits below bit 16 of the remote word.
const _: () = assert!(PAGE_SIZE / 8 < TOP_MASK as usize);

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

/// The page's remote-free word (see the module docs), on a cache line of
/// its own so remote frees do not invalidate the line the owner reads.
#[repr(C, align(64))]
struct RemoteWord(AtomicU64);

/// Metadata at the end of every page.
///
/// Fields in `Cell`s belong to the thread that owns `heap` (or to whoever
/// holds the heaps lock while the heap has no owner), except `class`,
/// `capacity` and `heap`, which change only under the pages lock while no
/// slot is live (statistics read them under that lock). Free slots do not
/// live on a list of the page: the owner keeps one free list per size class
/// across all its pages (see `LocalHeap`), so a page only remembers which
/// slots were never handed out.
#[repr(C, align(64))]
pub(crate) struct PageHeader {
    /// The key of the heap this page serves (`LocalHeap::key`), tagged with
    /// [`BUDGETED_PAGE`] when its allocator has budgets on and with
    /// [`CLOSED_PAGE`] once its allocator closed. The owner's free fast path
    /// compares it with the key its thread caches; keys are never reused,
    /// so a stale cache can never match. Atomic because the closing thread
    /// tags it while other threads read it; relaxed accesses are plain moves.
    key: PlainAtomicU64,
    /// The heap this page serves.
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
    remote: RemoteWord,
}

// SAFETY: see the struct docs: cells are touched by one thread at a time
// (the heap's owner, or the holder of the lock named there), handed over
// under that lock; the shared words are atomic.
unsafe impl Sync for PageHeader {}

const HEADER_OFFSET: usize = PAGE_SIZE - size_of::<PageHeader>();

/// Slots in a page of `class`. A budgeted page gives one byte per slot to
/// its tag table, which ends where the header starts.
fn capacity_for(class: usize, budgeted: bool) -> u32 {
    let per_slot = CLASS_SIZES[class] + usize::from(budgeted);
    (HEADER_OFFSET / per_slot) as u32
}

/// A page's key: its heap's, tagged when the allocator has budgets on.
fn key_for(heap: &LocalHeap, budgeted: bool) -> u64 {
    heap.key() | if budgeted { BUDGETED_PAGE } else { 0 }
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
    ///
    /// # Safety
    ///
    /// - `page` is a live allocation of `PAGE_SIZE` bytes aligned to
    ///   `PAGE_SIZE` (from [`allocate_page`]) that nothing else uses.
    pub(crate) unsafe fn init(
        page: NonNull<u8>,
        class: usize,
        heap: &LocalHeap,
        budgeted: bool,
    ) -> NonNull<PageHeader> {
        // SAFETY: `page` spans `PAGE_SIZE` bytes aligned to `PAGE_SIZE`
        // (caller), so the header lies inside it and is aligned (64 divides
        // `HEADER_OFFSET`).
        let header = unsafe { page.add(HEADER_OFFSET) }.cast::<PageHeader>();
        let fresh = PageHeader {
            key: PlainAtomicU64::new(key_for(heap, budgeted)),
            heap: PlainAtomicPtr::new(ptr::from_ref(heap).cast_mut()),
            untouched: Cell::new(0),
            capacity: Cell::new(capacity_for(class, budgeted)),
            class: Cell::new(class as u32),
            tally: Cell::new(0),
            next_in_class: Cell::new(ptr::null_mut()),
            base: page,
            remote: RemoteWord(AtomicU64::new(0)),
        };
        // SAFETY: in bounds and aligned (above); the page is not shared yet.
        unsafe { header.write(fresh) };
        header
    }

    /// Reassigns an empty page to another class and heap (under the pages
    /// lock).
    ///
    /// # Safety
    ///
    /// - No slot of the page is live or on any list, and its remote stack
    ///   was taken and its count retired (`PoolState::release_page`), so no
    ///   thread is pushing onto it.
    pub(crate) unsafe fn reuse(&self, class: usize, heap: &LocalHeap, budgeted: bool) {
        self.untouched.set(0);
        self.capacity.set(capacity_for(class, budgeted));
        self.class.set(class as u32);
        self.key
            .store(key_for(heap, budgeted), PlainOrdering::Relaxed);
        self.heap
            .store(ptr::from_ref(heap).cast_mut(), PlainOrdering::Relaxed);
        self.tally.set(0);
        self.next_in_class.set(ptr::null_mut());
        self.remote.0.store(0, Ordering::Relaxed);
    }

    /// The header of the page holding `slot`.
    ///
    /// # Safety
    ///
    /// - `slot` points into a live page (it was handed out by `carve`), with
    ///   the page's provenance.
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

    /// The page's first byte (what `allocate_page` returned).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The heap this page serves.
    #[inline(always)]
    pub(crate) fn heap(&self) -> *const LocalHeap {
        self.heap.load(PlainOrdering::Relaxed)
    }

    /// The page's key: its heap's key, tagged with [`BUDGETED_PAGE`] when the
    /// allocator has budgets on and with [`CLOSED_PAGE`] once it closed. The
    /// owner's free fast path compares this word with the key its thread
    /// caches, so such a page sends it to the slow path with no test of its
    /// own.
    #[inline(always)]
    pub(crate) fn key(&self) -> u64 {
        self.key.load(PlainOrdering::Relaxed)
    }

    /// Marks the page closed: its key stops matching any cache, and its
    /// remote stack refuses pushes (the closing thread, under the heaps and
    /// pages locks). Returns the number of remote frees ever pushed, as of
    /// the close: every push that is not in it is refused from now on.
    pub(crate) fn close(&self) -> u64 {
        self.key.fetch_or(CLOSED_PAGE, PlainOrdering::Relaxed);
        let word = self.remote.0.fetch_or(REMOTE_CLOSED, Ordering::AcqRel);
        word >> COUNT_SHIFT
    }

    /// Whether the page keeps a tag table (its allocator has budgets on).
    pub(crate) fn is_budgeted(&self) -> bool {
        self.key() & BUDGETED_PAGE != 0
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
    /// - The page is budgeted and `slot` is one of its slots, not yet handed
    ///   to anyone else.
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
    /// - The page is budgeted and `slot` is a live slot of it, held by the
    ///   caller (who saw its `set_tag` through the slot's hand-over).
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

    /// The slot whose offset / 8, plus 1, is `top` (0: none), with the
    /// page's provenance.
    fn slot_at(&self, top: u64) -> *mut Slot {
        match top.checked_sub(1) {
            Some(eighths) => self
                .base
                .as_ptr()
                .wrapping_add((eighths as usize) << 3)
                .cast(),
            None => ptr::null_mut(),
        }
    }

    /// Pushes a slot freed by a thread that does not own the page: one
    /// compare-and-swap, which also counts the free. Refused (`Err`, nothing
    /// done) once the page is closed, unless `even_if_closed`: the caller
    /// then takes the locked after-close path, where it pushes with
    /// `even_if_closed`.
    ///
    /// # Safety
    ///
    /// - `slot` is a live slot of this page that the caller gives up: its
    ///   value is dropped and no one uses it afterwards.
    pub(crate) unsafe fn push_remote(
        &self,
        slot: NonNull<u8>,
        even_if_closed: bool,
    ) -> Result<(), Closed> {
        let top = ((slot.addr().get() - self.base.addr().get()) >> 3) as u64 + 1;
        let mut head = self.remote.0.load(Ordering::Relaxed);
        if head & REMOTE_CLOSED != 0 && !even_if_closed {
            return Err(Closed);
        }
        // SAFETY: the slot is ours to overwrite (caller); its first word
        // becomes the link to the stack's top.
        let link = unsafe {
            let link = slot.cast::<Slot>();
            link.write(Slot {
                next: AtomicPtr::new(ptr::null_mut()),
            });
            link.as_ref()
        };
        loop {
            if head & REMOTE_CLOSED != 0 && !even_if_closed {
                return Err(Closed);
            }
            link.next
                .store(self.slot_at(head & TOP_MASK), Ordering::Relaxed);
            let new = ((head & !TOP_MASK) + (1 << COUNT_SHIFT)) | top;
            // Release: the owner that takes the stack sees the link.
            match self.remote.0.compare_exchange_weak(
                head,
                new,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => head = now,
            }
        }
    }

    /// Takes every slot pushed by other threads onto `list` (the heap's
    /// owner, or the heaps lock holder while it has none). Returns how many.
    /// The count of remote frees stays in the word.
    pub(crate) fn take_remote(&self, list: &Cell<*mut Slot>) -> u32 {
        let head = self.remote.0.fetch_and(!TOP_MASK, Ordering::Acquire);
        let mut next = self.slot_at(head & TOP_MASK);
        let mut count = 0;
        while let Some(slot) = NonNull::new(next) {
            // SAFETY: a taken slot was pushed whole (its link written before
            // the release CAS that `fetch_and` acquired) and no thread writes
            // it any more; the chain ends at the slot that found the stack
            // empty.
            next = unsafe { slot.as_ref() }.next.load(Ordering::Relaxed);
            // SAFETY: the slot is free and off every list.
            unsafe { push_slot(list, slot.cast()) };
            count += 1;
        }
        count
    }

    /// Whether other threads pushed slots that were not taken yet.
    pub(crate) fn has_remote(&self) -> bool {
        self.remote.0.load(Ordering::Relaxed) & TOP_MASK != 0
    }

    /// Empties the remote word of a page being given back, and returns its
    /// count of remote frees (to be retired into its heap's figures).
    ///
    /// # Safety
    ///
    /// - No slot of the page is live, so no push is in flight.
    pub(crate) unsafe fn retire_remote(&self) -> u64 {
        self.remote.0.swap(0, Ordering::AcqRel) >> COUNT_SHIFT
    }

    /// How many slots other threads ever pushed while the page served its
    /// heap (any thread; exact once read under the pages lock).
    pub(crate) fn remote_count(&self) -> u64 {
        self.remote.0.load(Ordering::Acquire) >> COUNT_SHIFT
    }
}

/// A remote push refused because the page's allocator closed.
#[derive(Debug)]
pub(crate) struct Closed;

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
    //! `RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib --release loom_model`
    use super::{PageHeader, allocate_page, class_for, free_page, pop_slot};
    use crate::allocators::local_heap::LocalHeap;
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

    /// A page of 64-byte slots with `n` slots handed out, for the model.
    fn page_with(heap: &LocalHeap, n: usize) -> (NonNull<u8>, Shared, Vec<NonNull<u8>>) {
        let page = allocate_page().unwrap();
        // SAFETY: a fresh page, used by this model alone.
        let header = Shared(unsafe { PageHeader::init(page, class_for(64, 8), heap, false) });
        let fresh = Cell::new(ptr::null_mut());
        assert_eq!(header.get().carve(&fresh, n as u32), n as u32);
        // SAFETY: the list holds the carved slots.
        let slots = (0..n)
            .map(|_| unsafe { pop_slot(&fresh) }.unwrap())
            .collect();
        (page, header, slots)
    }

    /// Every slot on `list`, sorted by address (and the list emptied).
    fn drain(list: &Cell<*mut super::Slot>) -> Vec<usize> {
        let mut addresses = Vec::new();
        // SAFETY: the list holds taken, free slots.
        while let Some(slot) = unsafe { pop_slot(list) } {
            addresses.push(slot.addr().get());
        }
        addresses.sort_unstable();
        addresses
    }

    #[test]
    fn remote_frees_from_two_threads_all_come_back_to_the_owner_once() {
        loom::model(|| {
            let heap = LocalHeap::for_model();
            let (page, header, slots) = page_with(&heap, 3);
            let (first, rest) = (slots[0], [slots[1], slots[2]]);
            // SAFETY (both threads): each pushes slots it was given, once.
            let one = loom::thread::spawn(move || {
                unsafe { header.get().push_remote(first, false) }.unwrap()
            });
            let two = loom::thread::spawn(move || {
                for slot in rest {
                    // SAFETY: as above.
                    unsafe { header.get().push_remote(slot, false) }.unwrap();
                }
            });
            // The owner takes the stack while the frees arrive.
            let back = Cell::new(ptr::null_mut());
            let early = header.get().take_remote(&back);
            one.join().unwrap();
            two.join().unwrap();
            let late = header.get().take_remote(&back);
            assert_eq!(early + late, 3);
            assert_eq!(header.get().remote_count(), 3, "every push is counted");
            let mut expected: Vec<usize> = slots.iter().map(|s| s.addr().get()).collect();
            expected.sort_unstable();
            assert_eq!(drain(&back), expected, "each slot comes back exactly once");
            // SAFETY: no slot of the page is used any more.
            unsafe { free_page(page) };
        });
    }

    #[test]
    fn a_push_racing_the_close_is_counted_by_the_close_or_refused() {
        loom::model(|| {
            let heap = LocalHeap::for_model();
            let (page, header, slots) = page_with(&heap, 2);
            let (a, b) = (slots[0], slots[1]);
            // SAFETY: each slot is pushed at most once by one thread.
            let pusher = loom::thread::spawn(move || {
                [a, b].map(|slot| unsafe { header.get().push_remote(slot, false) }.is_ok())
            });
            let counted_at_close = header.get().close();
            let pushed = pusher.join().unwrap();
            // Whatever was not counted by the close was refused: the
            // refused frees take the locked path, so none is lost.
            let accepted = pushed.iter().filter(|&&ok| ok).count() as u64;
            assert_eq!(accepted, counted_at_close);
            // Pushes after the close only through the locked path.
            for (slot, ok) in [a, b].into_iter().zip(pushed) {
                if !ok {
                    // SAFETY: refused above, so still ours to push.
                    unsafe { header.get().push_remote(slot, true) }.unwrap();
                }
            }
            let back = Cell::new(ptr::null_mut());
            assert_eq!(header.get().take_remote(&back), 2);
            assert_eq!(header.get().remote_count(), 2);
            assert_eq!(drain(&back).len(), 2);
            // SAFETY: no slot of the page is used any more.
            unsafe { free_page(page) };
        });
    }
}
