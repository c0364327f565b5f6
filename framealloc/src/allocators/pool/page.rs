//! Pool pages: 64 KiB blocks of equal-sized slots, with a lock-free stack
//! for frees from other threads (`remote`).
//!
//! A page is one allocation of [`PAGE_SIZE`] bytes aligned to [`PAGE_SIZE`].
//! Slots start at the page's first byte (so a slot is aligned to the largest
//! power of two dividing its size) and the [`PageHeader`] sits in the last
//! bytes, where [`PageHeader::of`] finds it from any slot address with one
//! mask.
#![expect(unsafe_code, reason = "page headers live inside their pages, found from slot addresses")]

use core::cell::Cell;
use core::ptr::{self, NonNull};
// The page key and heap pointer are not part of the loom model: plain
// atomics in both builds.
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::free_list::{Slot, push_slot};
use super::remote::{Closed, RemoteWord};
use super::size_class::CLASS_SIZES;
pub(crate) use super::size_class::PAGE_SIZE;

/// The tag of a closed page's key (keys are heap ids shifted left by 2).
pub(crate) const CLOSED_PAGE: u64 = 1;

/// The tag of the key of a page whose allocator has budgets on. Such a page
/// keeps, in a table before its header, the tag each slot is charged to;
/// the tag makes the owner's free fast path miss, and the slow path
/// releases the charge. (Also set for an allocator whose observer watches
/// every free, with budgets off: see `heap::BUDGETED`.)
pub(crate) const BUDGETED_PAGE: u64 = 2;

// A slot's tag id is kept in one byte.
const _: () = assert!(crate::budget::MAX_TAGS <= u8::MAX as usize);

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
    key: AtomicU64,
    /// The heap this page serves (a `LocalHeap`; pages sit below heaps, so
    /// the type is named where heaps are: `heap::heap_of`).
    heap: AtomicPtr<()>,
    /// Slots never handed out yet start at this index.
    untouched: Cell<u32>,
    capacity: Cell<u32>,
    class: Cell<u32>,
    /// Scratch count for `LocalHeap::release_empty_pages` (owner only).
    pub(super) tally: Cell<u32>,
    /// Next page of the heap's list for this class.
    pub(super) next_in_class: Cell<*mut PageHeader>,
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

/// A page's key: its heap's key, tagged when the allocator has budgets on.
fn key_for(heap_key: u64, budgeted: bool) -> u64 {
    heap_key | if budgeted { BUDGETED_PAGE } else { 0 }
}

impl PageHeader {
    /// Initialises a fresh page for slots of `class`, served by the heap at
    /// `heap` whose key is `heap_key`; `budgeted`: its allocator has budgets
    /// on (the page keeps a tag table).
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
        heap: *const (),
        heap_key: u64,
        budgeted: bool,
    ) -> NonNull<PageHeader> {
        // SAFETY: `page` spans `PAGE_SIZE` bytes aligned to `PAGE_SIZE`
        // (caller), so the header lies inside it and is aligned (64 divides
        // `HEADER_OFFSET`).
        let header = unsafe { page.add(HEADER_OFFSET) }.cast::<PageHeader>();
        let fresh = PageHeader {
            key: AtomicU64::new(key_for(heap_key, budgeted)),
            heap: AtomicPtr::new(heap.cast_mut()),
            untouched: Cell::new(0),
            capacity: Cell::new(capacity_for(class, budgeted)),
            class: Cell::new(class as u32),
            tally: Cell::new(0),
            next_in_class: Cell::new(ptr::null_mut()),
            base: page,
            remote: RemoteWord::new(),
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
    pub(crate) unsafe fn reuse(
        &self,
        class: usize,
        heap: *const (),
        heap_key: u64,
        budgeted: bool,
    ) {
        self.untouched.set(0);
        self.capacity.set(capacity_for(class, budgeted));
        self.class.set(class as u32);
        self.key
            .store(key_for(heap_key, budgeted), Ordering::Relaxed);
        self.heap.store(heap.cast_mut(), Ordering::Relaxed);
        self.tally.set(0);
        self.next_in_class.set(ptr::null_mut());
        // SAFETY: no slot of the page is live (caller).
        let _ = unsafe { self.remote.retire() };
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

    /// The heap this page serves (see `heap::heap_of`).
    #[inline(always)]
    pub(crate) fn heap(&self) -> *const () {
        self.heap.load(Ordering::Relaxed)
    }

    /// The page's key: its heap's key, tagged with [`BUDGETED_PAGE`] when the
    /// allocator has budgets on and with [`CLOSED_PAGE`] once it closed. The
    /// owner's free fast path compares this word with the key its thread
    /// caches, so such a page sends it to the slow path with no test of its
    /// own.
    #[inline(always)]
    pub(crate) fn key(&self) -> u64 {
        self.key.load(Ordering::Relaxed)
    }

    /// Marks the page closed: its key stops matching any cache, and its
    /// remote stack refuses pushes (the closing thread, under the heaps and
    /// pages locks). Returns the number of remote frees ever pushed, as of
    /// the close: every push that is not in it is refused from now on.
    pub(crate) fn close(&self) -> u64 {
        self.key.fetch_or(CLOSED_PAGE, Ordering::Relaxed);
        self.remote.close()
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
    ///
    /// # Safety
    ///
    /// - As [`carve`](Self::carve), which writes the count.
    pub(crate) unsafe fn untouched_left(&self) -> u32 {
        self.capacity.get() - self.untouched.get()
    }

    /// Links up to `max` slots never handed out onto `list`, lowest address
    /// first. Returns how many.
    ///
    /// # Safety
    ///
    /// - The caller owns the page's heap (or holds the heaps lock while it
    ///   has no owner): the page's cells are its alone.
    pub(crate) unsafe fn carve(&self, list: &Cell<*mut Slot>, max: u32) -> u32 {
        let first = self.untouched.get();
        // SAFETY: forwarded from the caller.
        let count = unsafe { self.untouched_left() }.min(max);
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

    /// Pushes a slot freed by a thread that does not own the page onto the
    /// remote stack (see `remote::RemoteWord::push`).
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
        // SAFETY: forwarded from the caller; `base` is this page's.
        unsafe { self.remote.push(self.base, slot, even_if_closed) }
    }

    /// Takes every slot pushed by other threads onto `list`; returns how
    /// many. The count of remote frees stays in the word.
    ///
    /// # Safety
    ///
    /// - The caller owns the page's heap, or holds the heaps lock while the
    ///   heap has no owner.
    pub(crate) unsafe fn take_remote(&self, list: &Cell<*mut Slot>) -> u32 {
        // SAFETY: forwarded from the caller; `base` is this page's.
        unsafe { self.remote.take(self.base, list) }
    }

    /// Whether other threads pushed slots that were not taken yet.
    pub(crate) fn has_remote(&self) -> bool {
        self.remote.has_pending()
    }

    /// Empties the remote word of a page being given back, and returns its
    /// count of remote frees (to be retired into its heap's figures).
    ///
    /// # Safety
    ///
    /// - No slot of the page is live, so no push is in flight.
    pub(crate) unsafe fn retire_remote(&self) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe { self.remote.retire() }
    }

    /// How many slots other threads ever pushed while the page served its
    /// heap (any thread; exact once read under the pages lock).
    pub(crate) fn remote_count(&self) -> u64 {
        self.remote.count()
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
