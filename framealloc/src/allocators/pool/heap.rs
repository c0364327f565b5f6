//! `LocalHeap`: one thread's pool pages (per size class) and its counters for
//! one allocator.
//!
//! A heap has at most one owner thread, recorded as a token (see
//! `thread_heap::token`). The owner allocates and frees through `Cell`s with
//! no synchronisation; any other thread frees by pushing the slot onto the
//! page's remote stack, which counts it (see `pool_page`). When the owner
//! exits, the heap goes idle and the next new thread adopts it, pages and
//! all. Who may touch what, and when a heap is released, is written down in
//! `pool_state`.
//!
//! What only the owner may do is in `owned` (`OwnedHeap`).
//!
//! Counters are written by one thread at a time (release stores, no
//! read-modify-write on the fast path; see `counter`) and read anywhere.
//! Every free is counted where it happens: by the owner in its class's
//! `frees`, by another thread in the page's remote word (pool) or in the
//! heap's remote words (heap intent). So a reader sees true figures without
//! any collection.

#![expect(unsafe_code, reason = "a heap walks its pages and hands them back through raw pointers")]

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::free_list::Slot;
use super::page::PageHeader;
use super::remote::Closed;
use super::size_class::{CLASS_SIZES, CLASSES};
use crate::allocators::counter::Counter;
use crate::allocators::sync::AtomicU64;

/// One size class of a heap: its free list and its counters, together on
/// one cache line (the pool fast path touches nothing else of the heap).
#[repr(C, align(64))]
pub(super) struct SizeClass {
    /// Free slots across all the heap's pages of this class: the
    /// allocation fast path pops here, the owner's frees push here.
    pub(super) free: Cell<*mut Slot>,
    pub(super) allocs: Counter,
    /// Slots the owner freed itself.
    pub(super) frees: Counter,
    /// Slots other threads freed into pages this heap has since given back
    /// (the pages' remote counts, retired under the pages lock).
    pub(super) retired: Counter,
    /// Slots the owner took back from its pages' remote stacks (owner only;
    /// for the peak estimate).
    pub(super) collected: Cell<u64>,
}

/// The owner's figures for one heap (the pool's per-class counts live in
/// its `SizeClass`es).
#[derive(Default)]
pub(crate) struct HeapCounters {
    pub(crate) pool_peak_bytes: Counter,
    pub(crate) heap_allocs: Counter,
    /// Heap-intent blocks the owner freed itself.
    pub(crate) heap_frees: Counter,
    /// Heap-intent bytes allocated minus the bytes the owner freed (frees
    /// by other threads are in `RemoteHeapFrees`).
    pub(crate) heap_live_bytes: Counter,
    pub(crate) heap_peak_bytes: Counter,
    pub(crate) pages: Counter,
}

#[repr(align(64))]
pub(super) struct RemoteFlags(pub(super) [AtomicBool; CLASSES]);

/// Heap-intent frees made by other threads: counted where they happen.
#[repr(align(64))]
struct RemoteHeapFrees {
    /// The number of frees, shifted left by one, with [`HEAP_CLOSED`] in bit
    /// 0: a free and the close are ordered by this one word, as for a
    /// page's remote word.
    frees: AtomicU64,
    /// Their bytes.
    bytes: AtomicU64,
}

const HEAP_CLOSED: u64 = 1;

/// Bit of [`LocalHeap::owner`] set once the allocator closed, so that the
/// owner's free path notices the close through the compare it makes anyway.
pub(crate) const CLOSED: u64 = 2;

/// Bit of [`LocalHeap::owner`] set for good in the heaps of an allocator
/// with budgets on: no thread's token matches such a word, so every
/// heap-block free of that allocator takes the slow path, which reads the
/// block's charge.
///
/// "Budgeted" in this folder means "takes the slow paths"
/// (`PoolState::slow_paths`): budgets on, or an observer that watches every
/// allocation and free (profiler hooks, the `debug` feature). The charge of
/// a watched allocator with budgets off is 0, and nothing is released.
pub(crate) const BUDGETED: u64 = 4;

/// The bits of [`LocalHeap::owner`] that are not the owner's token.
pub(crate) const OWNER_FLAGS: u64 = CLOSED | BUDGETED;

/// The alignment of a heap. The header of a `PoolBox` value that went to
/// the heap keeps the heap pointer with the budget charge in its low bits
/// (see `pool_box::Meta`).
pub(crate) const HEAP_ALIGN: usize = 1024;

/// Slots linked onto a free list per refill from a page's untouched part:
/// about 4 KiB worth, at least one.
pub(super) const fn carve_batch(class: usize) -> u32 {
    let slots = 4096 / CLASS_SIZES[class];
    if slots == 0 { 1 } else { slots as u32 }
}

/// What a heap holds, exactly, as read under the pages lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeapFigures {
    pub(crate) pool_allocs: u64,
    pub(crate) pool_frees: u64,
    pub(crate) pool_live_bytes: u64,
    pub(crate) heap_allocs: u64,
    pub(crate) heap_frees: u64,
    pub(crate) heap_live_bytes: u64,
}

impl HeapFigures {
    /// Objects of either intent still live.
    pub(crate) fn live_objects(&self) -> u64 {
        (self.pool_allocs - self.pool_frees) + (self.heap_allocs - self.heap_frees)
    }
}

#[repr(C, align(1024))]
pub(crate) struct LocalHeap {
    /// Token of the owning thread (0 while idle), with [`CLOSED`] set once
    /// the allocator closed, and [`BUDGETED`] when its budgets are on.
    owner: AtomicU64,
    /// Never reused by another heap in this process: what pages and thread
    /// caches name the heap by (see `pool_page::PageHeader::key`).
    key: u64,
    /// The heap's `PoolState`, which owns it (typed where heaps are owned:
    /// `lifecycle::PoolState::of`).
    pub(crate) state: *const (),
    pub(super) classes: [SizeClass; CLASSES],
    pub(crate) counters: HeapCounters,
    /// Each class's pages.
    pub(super) pages: [Cell<*mut PageHeader>; CLASSES],
    /// Each class's page that still has slots never handed out (or null).
    pub(super) fresh: [Cell<*mut PageHeader>; CLASSES],
    /// Set by other threads before they free into a page of that class (a
    /// plain store, on a line of its own): the class's pages have remote
    /// frees to take back.
    pub(super) remote_pending: RemoteFlags,
    remote_heap: RemoteHeapFrees,
    /// Whether this heap holds a strong count on its `PoolState` (heaps
    /// lock).
    pub(crate) retained: Cell<bool>,
    /// After the close: at least the number of live objects, lowered by one
    /// on every locked free (heaps lock; see `PoolState::free_after_close`).
    pub(crate) live_bound: Cell<u64>,
}

const _: () = assert!(align_of::<LocalHeap>() == HEAP_ALIGN);

impl LocalHeap {
    /// A heap of the `PoolState` at `state`.
    ///
    /// # Safety
    ///
    /// - `state` points to the `PoolState` that will own the heap and free
    ///   it (only) when it drops: `PoolState::of` relies on it.
    pub(crate) unsafe fn new(state: *const (), budgeted: bool) -> LocalHeap {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        // Ids stay far below 2^62, so shifting keeps them unique and leaves
        // the page key's two tag bits free.
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        LocalHeap {
            owner: AtomicU64::new(if budgeted { BUDGETED } else { 0 }),
            key: id << 2,
            state,
            classes: [const {
                SizeClass {
                    free: Cell::new(ptr::null_mut()),
                    allocs: Counter::new(),
                    frees: Counter::new(),
                    retired: Counter::new(),
                    collected: Cell::new(0),
                }
            }; CLASSES],
            counters: HeapCounters::default(),
            pages: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            fresh: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            remote_pending: RemoteFlags([const { AtomicBool::new(false) }; CLASSES]),
            remote_heap: RemoteHeapFrees {
                frees: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            },
            retained: Cell::new(false),
            live_bound: Cell::new(0),
        }
    }

    /// The heap's never-reused key (a multiple of 4).
    #[inline(always)]
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The owner word (token and flags), for the heap-block free fast path.
    #[inline(always)]
    pub(crate) fn owner_word(&self) -> u64 {
        self.owner.load(Ordering::Relaxed)
    }

    /// The owner's token, without the flag bits (0: no owner).
    pub(crate) fn owner_token(&self) -> u64 {
        self.owner.load(Ordering::SeqCst) & !OWNER_FLAGS
    }

    /// Records `token` as the owner (0: none), keeping the flags (heaps
    /// lock).
    pub(crate) fn set_owner(&self, token: u64) {
        let flags = self.owner.load(Ordering::SeqCst) & OWNER_FLAGS;
        self.owner.store(token | flags, Ordering::SeqCst);
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

    /// Marks the heap closed: the owner's heap-block fast path stops
    /// matching, and other threads' heap-block frees are refused (they take
    /// the locked path). Closing thread, under the heaps lock.
    pub(crate) fn close(&self) {
        self.owner.fetch_or(CLOSED, Ordering::SeqCst);
        self.remote_heap
            .frees
            .fetch_or(HEAP_CLOSED, Ordering::AcqRel);
    }

    /// Notes, before another thread frees into a page of `class`, that the
    /// class has remote frees. A plain store: no read-modify-write.
    #[inline(always)]
    pub(crate) fn note_remote_free(&self, class: usize) {
        self.remote_pending.0[class].store(true, Ordering::Relaxed);
    }

    /// Calls `visit` with every page of every class.
    ///
    /// # Safety
    ///
    /// - The caller owns the heap, or holds the heaps lock while it has no
    ///   owner: the page lists are its alone.
    pub(super) unsafe fn for_each_page(&self, mut visit: impl FnMut(usize, &PageHeader)) {
        for class in 0..CLASSES {
            let mut cursor = self.pages[class].get();
            // SAFETY: list pages are live and owned by this heap.
            while let Some(page) = unsafe { cursor.as_ref() } {
                cursor = page.next_in_class.get();
                visit(class, page);
            }
        }
    }

    /// Adds the remote count of a page this heap gives back to its class's
    /// retired count (under the pages lock, by whoever may give the page
    /// back).
    pub(crate) fn retire_remote_count(&self, class: usize, count: u64) {
        self.classes[class].retired.add(count);
    }

    /// Counts a heap-intent free made by another thread. Refused (nothing
    /// counted) once the allocator closed, unless `even_if_closed`: the
    /// caller then takes the locked after-close path.
    pub(crate) fn count_heap_free_remote(
        &self,
        bytes: usize,
        even_if_closed: bool,
    ) -> Result<(), Closed> {
        // The bytes first: until the free itself is counted the block keeps
        // the heap alive, so a refusal can still take them back.
        self.remote_heap
            .bytes
            .fetch_add(bytes as u64, Ordering::Release);
        let mut word = self.remote_heap.frees.load(Ordering::Relaxed);
        loop {
            if word & HEAP_CLOSED != 0 && !even_if_closed {
                self.remote_heap
                    .bytes
                    .fetch_sub(bytes as u64, Ordering::Release);
                return Err(Closed);
            }
            match self.remote_heap.frees.compare_exchange_weak(
                word,
                word + 2,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => word = now,
            }
        }
    }

    /// The heap's report for statistics, with its exact `figures`.
    pub(crate) fn report(&self, figures: HeapFigures) -> super::HeapReport {
        super::HeapReport {
            owned: self.owner_token() != 0,
            figures,
            pool_peak_bytes: self.counters.pool_peak_bytes.get(),
            heap_peak_bytes: self.counters.heap_peak_bytes.get(),
            pages: self.counters.pages.get(),
        }
    }

    /// The heap's exact figures, given `remote`: the remote counts of its
    /// pages by class (`PoolState::remote_counts`). The caller holds the
    /// pages lock, so no page changes hands while the figures are read.
    ///
    /// Every free is read before the allocations: each free counted
    /// happened after its allocation was counted, so the figures never show
    /// more frees than allocations.
    pub(crate) fn figures(&self, remote: &[u64; CLASSES]) -> HeapFigures {
        let mut figures = HeapFigures::default();
        let remote_heap_frees = self.remote_heap.frees.load(Ordering::Acquire) >> 1;
        let remote_heap_bytes = self.remote_heap.bytes.load(Ordering::Acquire);
        for ((class, size), remote) in self.classes.iter().zip(CLASS_SIZES).zip(remote) {
            let frees = remote + class.retired.get() + class.frees.get();
            let allocs = class.allocs.get();
            debug_assert!(frees <= allocs, "more pool frees than allocations");
            figures.pool_frees += frees;
            figures.pool_allocs += allocs;
            figures.pool_live_bytes += allocs.saturating_sub(frees) * size as u64;
        }
        let frees = remote_heap_frees + self.counters.heap_frees.get();
        let live_bytes = self.counters.heap_live_bytes.get();
        let allocs = self.counters.heap_allocs.get();
        debug_assert!(frees <= allocs && remote_heap_bytes <= live_bytes);
        figures.heap_frees = frees;
        figures.heap_allocs = allocs;
        figures.heap_live_bytes = live_bytes.saturating_sub(remote_heap_bytes);
        figures
    }
}

/// The heap a page serves: what `PageHeader::heap` points to, typed.
#[inline(always)]
pub(crate) fn heap_of(page: &PageHeader) -> *const LocalHeap {
    page.heap().cast()
}
