//! A page's remote-free word: the lock-free stack that threads other than
//! the page's owner free slots onto.
//!
//! One 64-bit word holds three things at once:
//!
//! | bits | meaning |
//! |---|---|
//! | 0..16 | the newest pushed slot, as its offset in the page / 8, plus 1 (0: empty) |
//! | 16 | `CLOSED`: the allocator closed; pushes are refused (the pusher takes the locked path) |
//! | 17..64 | how many slots were ever pushed while the page served its heap |
//!
//! A remote free is one compare-and-swap of that word. Because the count
//! rides in it, every remote free is counted the moment it happens
//! (statistics need no collection); because the close bit does too, a push
//! and a close are ordered by that one word: a push either lands before the
//! close (and the closer's count sees it) or is refused. The owner takes the
//! whole stack with one `fetch_and` that clears the slot bits and keeps the
//! count and the close bit. The count only grows, so a head value never
//! repeats: no ABA.
#![expect(unsafe_code, reason = "pushed slots are linked through their first word")]

use core::cell::Cell;
use core::ptr::{self, NonNull};
// Under `--cfg loom` the word is loom's, so the model test at the end of
// this file explores every interleaving of the real code.
#[cfg(not(loom))]
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::free_list::{Slot, push_slot};

const TOP_MASK: u64 = (1 << 16) - 1;
const CLOSED: u64 = 1 << 16;
const COUNT_SHIFT: u32 = 17;

// Every slot offset / 8, plus 1, fits below bit 16.
const _: () = assert!(super::size_class::PAGE_SIZE / 8 < TOP_MASK as usize);

/// A remote push refused because the page's allocator closed.
#[derive(Debug)]
pub(crate) struct Closed;

/// The remote-free word of one page (see the module docs), on a cache line
/// of its own so remote frees do not invalidate the line the owner reads.
#[repr(C, align(64))]
pub(crate) struct RemoteWord(AtomicU64);

impl RemoteWord {
    /// An empty, open stack with a count of 0.
    pub(crate) fn new() -> RemoteWord {
        RemoteWord(AtomicU64::new(0))
    }

    /// The slot of the page at `base` whose offset / 8, plus 1, is `top`
    /// (0: none), with the page's provenance.
    fn slot_at(base: NonNull<u8>, top: u64) -> *mut Slot {
        match top.checked_sub(1) {
            Some(eighths) => base.as_ptr().wrapping_add((eighths as usize) << 3).cast(),
            None => ptr::null_mut(),
        }
    }

    /// Pushes a slot freed by a thread that does not own the page (at
    /// `base`): one compare-and-swap, which also counts the free. Refused
    /// (`Err`, nothing done) once the page is closed, unless
    /// `even_if_closed`: the caller then takes the locked after-close path,
    /// where it pushes with `even_if_closed`.
    ///
    /// # Safety
    ///
    /// - `slot` is a live slot of the page at `base` that the caller gives
    ///   up: its value is dropped and no one uses it afterwards;
    /// - `base` is that page's first byte, with its provenance.
    pub(crate) unsafe fn push(
        &self,
        base: NonNull<u8>,
        slot: NonNull<u8>,
        even_if_closed: bool,
    ) -> Result<(), Closed> {
        let top = ((slot.addr().get() - base.addr().get()) >> 3) as u64 + 1;
        let mut head = self.0.load(Ordering::Relaxed);
        if head & CLOSED != 0 && !even_if_closed {
            return Err(Closed);
        }
        let link = slot.cast::<Slot>();
        // SAFETY: the slot is ours to overwrite (caller); its first word
        // becomes the link to the stack's top.
        unsafe {
            link.write(Slot {
                next: AtomicPtr::new(ptr::null_mut()),
            })
        };
        // SAFETY: just initialised; ours until the push below publishes it.
        let link = unsafe { link.as_ref() };
        loop {
            if head & CLOSED != 0 && !even_if_closed {
                return Err(Closed);
            }
            link.next
                .store(Self::slot_at(base, head & TOP_MASK), Ordering::Relaxed);
            let new = ((head & !TOP_MASK) + (1 << COUNT_SHIFT)) | top;
            // Release: the owner that takes the stack sees the link.
            match self
                .0
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => head = now,
            }
        }
    }

    /// Takes every pushed slot of the page at `base` onto `list`; returns
    /// how many. The count of remote frees stays in the word.
    ///
    /// # Safety
    ///
    /// - `base` is the page's first byte, with its provenance;
    /// - the caller may take the page's slots: it owns the page's heap, or
    ///   holds the heaps lock while the heap has no owner.
    pub(crate) unsafe fn take(&self, base: NonNull<u8>, list: &Cell<*mut Slot>) -> u32 {
        let head = self.0.fetch_and(!TOP_MASK, Ordering::Acquire);
        let mut next = Self::slot_at(base, head & TOP_MASK);
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

    /// Whether slots were pushed that were not taken yet.
    pub(crate) fn has_pending(&self) -> bool {
        self.0.load(Ordering::Relaxed) & TOP_MASK != 0
    }

    /// How many slots were ever pushed while the page served its heap.
    pub(crate) fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire) >> COUNT_SHIFT
    }

    /// Refuses every later push that does not ask for `even_if_closed`, and
    /// returns the count as of the close: every push not in it is refused.
    pub(crate) fn close(&self) -> u64 {
        self.0.fetch_or(CLOSED, Ordering::AcqRel) >> COUNT_SHIFT
    }

    /// Empties the word of a page being given back or reused, returning its
    /// count (to be retired into its heap's figures).
    ///
    /// # Safety
    ///
    /// - No slot of the page is live, so no push is in flight.
    pub(crate) unsafe fn retire(&self) -> u64 {
        self.0.swap(0, Ordering::AcqRel) >> COUNT_SHIFT
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test -p framealloc --lib --release loom_model`
    use core::cell::Cell;
    use core::ptr::{self, NonNull};

    use super::RemoteWord;
    use crate::allocators::pool::free_list::pop_slot;

    /// A page's remote word and the page, shared by the model threads.
    #[derive(Clone, Copy)]
    struct Shared {
        word: *const RemoteWord,
        base: NonNull<u8>,
    }
    // SAFETY: the word is built for concurrent pushers; each model thread
    // pushes slots of its own.
    unsafe impl Send for Shared {}

    impl Shared {
        fn word(&self) -> &RemoteWord {
            // SAFETY: the word outlives every model thread (joined first).
            unsafe { &*self.word }
        }

        /// The `k`th 64-byte slot of the page.
        fn slot(&self, k: usize) -> NonNull<u8> {
            self.base.map_addr(|addr| addr.saturating_add(64 * k))
        }

        fn push(&self, k: usize, even_if_closed: bool) -> bool {
            // SAFETY: each slot is pushed at most once, by one thread.
            unsafe { self.word().push(self.base, self.slot(k), even_if_closed) }.is_ok()
        }

        fn take(&self, list: &Cell<*mut crate::allocators::pool::free_list::Slot>) -> u32 {
            // SAFETY: the model's main thread plays the owner.
            unsafe { self.word().take(self.base, list) }
        }
    }

    /// Every slot on `list`, as indices, sorted (and the list emptied).
    fn drain(
        shared: &Shared,
        list: &Cell<*mut crate::allocators::pool::free_list::Slot>,
    ) -> Vec<usize> {
        let mut slots = Vec::new();
        // SAFETY: the list holds taken, free slots.
        while let Some(slot) = unsafe { pop_slot(list) } {
            slots.push((slot.addr().get() - shared.base.addr().get()) / 64);
        }
        slots.sort_unstable();
        slots
    }

    /// A page-sized, page-aligned block for the model's slots.
    fn page_layout() -> std::alloc::Layout {
        let size = crate::allocators::pool::size_class::PAGE_SIZE;
        std::alloc::Layout::from_size_align(size, size).unwrap()
    }

    fn with_page(model: impl Fn(Shared) + Send + Sync + 'static) {
        loom::model(move || {
            // SAFETY: the layout has a non-zero size.
            let base = NonNull::new(unsafe { std::alloc::alloc(page_layout()) }).unwrap();
            let word = Box::new(RemoteWord::new());
            model(Shared { word: &*word, base });
            drop(word);
            // SAFETY: allocated above with this layout; no slot is used any
            // more.
            unsafe { std::alloc::dealloc(base.as_ptr(), page_layout()) };
        });
    }

    #[test]
    fn remote_frees_from_two_threads_all_come_back_to_the_owner_once() {
        with_page(|shared| {
            let one = loom::thread::spawn(move || assert!(shared.push(0, false)));
            let two = loom::thread::spawn(move || {
                assert!(shared.push(1, false));
                assert!(shared.push(2, false));
            });
            // The owner takes the stack while the frees arrive.
            let back = Cell::new(ptr::null_mut());
            let early = shared.take(&back);
            one.join().unwrap();
            two.join().unwrap();
            let late = shared.take(&back);
            assert_eq!(early + late, 3);
            assert_eq!(shared.word().count(), 3, "every push is counted");
            assert_eq!(
                drain(&shared, &back),
                [0, 1, 2],
                "each slot comes back exactly once"
            );
        });
    }

    #[test]
    fn a_push_racing_the_close_is_counted_by_the_close_or_refused() {
        with_page(|shared| {
            let pusher =
                loom::thread::spawn(move || [shared.push(0, false), shared.push(1, false)]);
            let counted_at_close = shared.word().close();
            let pushed = pusher.join().unwrap();
            // Whatever was not counted by the close was refused: the refused
            // frees take the locked path, so none is lost.
            let accepted = pushed.iter().filter(|&&ok| ok).count() as u64;
            assert_eq!(accepted, counted_at_close);
            for (k, ok) in pushed.into_iter().enumerate() {
                if !ok {
                    assert!(
                        shared.push(k, true),
                        "the locked path pushes even when closed"
                    );
                }
            }
            let back = Cell::new(ptr::null_mut());
            assert_eq!(shared.take(&back), 2);
            assert_eq!(shared.word().count(), 2);
            assert_eq!(drain(&shared, &back), [0, 1]);
        });
    }
}
