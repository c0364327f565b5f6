//! Which arena the calling thread uses for a given `SmartAlloc`.
//!
//! Each thread keeps a short list of leases, one per `SmartAlloc` it has
//! opened frames on. `begin_frame` looks the lease up once; the returned
//! `Frame` then points straight at the arena, so allocations never touch
//! thread-local storage.
//!
//! When the thread exits, its leases are given back (`FrameMemory::give_up`).
//! A lease holds only a `Weak` to the allocator's state, so a thread that once
//! used an allocator does not keep its memory alive.

use core::cell::{Cell, RefCell};
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::sync::{Arc, Weak};

use super::arena::Arena;
use crate::shared::Shared;

struct Lease {
    /// `Shared::id` of the allocator; unique for the life of the process, so
    /// a lease whose allocator is gone can never match a live one.
    allocator: u64,
    owner: Weak<Shared>,
    arena: NonNull<Arena>,
}

struct ThreadLeases {
    leases: RefCell<Vec<Lease>>,
}

impl Drop for ThreadLeases {
    fn drop(&mut self) {
        let _ = CACHE.try_with(|cache| cache.set((0, core::ptr::null())));
        for lease in self.leases.get_mut().drain(..) {
            if let Some(shared) = lease.owner.upgrade() {
                // SAFETY: the allocator is alive (we hold a strong count), so
                // its arenas are too; this thread is the arena's only user.
                shared.frames.give_up(unsafe { lease.arena.as_ref() });
            }
        }
    }
}

thread_local! {
    static LEASES: ThreadLeases = const { ThreadLeases { leases: RefCell::new(Vec::new()) } };
    /// `(allocator id, arena)` of the last lease used: `begin_frame`'s fast
    /// path. `const` and without a destructor; cleared before the leases are
    /// given back.
    static CACHE: Cell<(u64, *const Arena)> = const { Cell::new((0, core::ptr::null())) };
}

/// A borrow of the calling thread's arena for `'a`.
///
/// Made only by [`arena_for_current_thread`]. It is neither `Send` nor `Sync`
/// (it holds a `NonNull`), which is what makes `Frame` thread-bound.
#[derive(Clone, Copy)]
pub(crate) struct ArenaRef<'a> {
    /// Invariant: live for `'a` and used by the calling thread alone.
    arena: NonNull<Arena>,
    _allocator: PhantomData<&'a Shared>,
}

impl<'a> ArenaRef<'a> {
    #[inline(always)]
    pub(crate) fn get(self) -> &'a Arena {
        // SAFETY: type invariant; the arena's cells are touched only by this
        // thread because `ArenaRef` cannot leave it.
        unsafe { self.arena.as_ref() }
    }
}

/// How the calling thread holds the arena `arena_for_current_thread` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tenancy {
    /// Recorded in the thread's leases; used again by the thread's next frame.
    Leased,
    /// The thread is tearing down its thread-locals, so the arena is lent to
    /// this one frame and must be given back when it ends (FA202).
    Borrowed,
}

/// Returns the calling thread's arena for `shared`, adopting one on first use.
///
/// The arena is used by the calling thread only, until the thread exits
/// (`Leased`) or until the caller gives it back (`Borrowed`).
#[inline]
pub(crate) fn arena_for_current_thread(shared: &Arc<Shared>) -> (ArenaRef<'_>, Tenancy) {
    let (allocator, cached) = CACHE.with(Cell::get);
    if let Some(arena) = NonNull::new(cached.cast_mut()).filter(|_| allocator == shared.id) {
        // The cache holds only this thread's live lease for `shared` (ids are
        // never reused), so the `ArenaRef` invariant holds as below.
        return (
            ArenaRef {
                arena,
                _allocator: PhantomData,
            },
            Tenancy::Leased,
        );
    }
    arena_slow(shared)
}

#[cold]
fn arena_slow(shared: &Arc<Shared>) -> (ArenaRef<'_>, Tenancy) {
    let leased = LEASES.try_with(|leases| {
        let mut leases = leases.leases.borrow_mut();
        let arena = match leases.iter().find(|lease| lease.allocator == shared.id) {
            Some(lease) => lease.arena,
            None => {
                leases.retain(|lease| lease.owner.strong_count() > 0);
                let arena = shared.frames.adopt();
                leases.push(Lease {
                    allocator: shared.id,
                    owner: Arc::downgrade(shared),
                    arena,
                });
                arena
            }
        };
        CACHE.with(|cache| cache.set((shared.id, arena.as_ptr())));
        arena
    });
    let (arena, tenancy) = match leased {
        Ok(arena) => (arena, Tenancy::Leased),
        Err(_) => {
            crate::diagnostics::report_during_teardown("FA202", format_args!(""));
            (shared.frames.adopt(), Tenancy::Borrowed)
        }
    };
    // `arena` belongs to `shared.frames`, which is freed only when the last
    // handle to `shared` drops, and `shared` is borrowed for the returned
    // lifetime. `adopt` gave it to this thread alone (the `ArenaRef`
    // invariant).
    (
        ArenaRef {
            arena,
            _allocator: PhantomData,
        },
        tenancy,
    )
}

/// What the calling thread's arenas say about frames, across every allocator
/// the thread has used (for diagnostic context).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ThreadFrames {
    /// Outermost frames ended on the arenas this thread holds.
    pub(crate) ended: u64,
    /// Whether a frame is open on any of them.
    pub(crate) open: bool,
}

/// Reads [`ThreadFrames`] for the calling thread. Returns the default while
/// the thread is tearing down its thread-locals.
pub(crate) fn current_thread_frames() -> ThreadFrames {
    LEASES
        .try_with(|leases| {
            let mut state = ThreadFrames::default();
            for lease in leases.leases.borrow().iter() {
                // Holding a strong count keeps the arena alive while we look.
                let Some(_alive) = lease.owner.upgrade() else {
                    continue;
                };
                // SAFETY: the allocator is alive, so its arena is; the lease
                // is this thread's, so no other thread uses the arena.
                let arena = unsafe { lease.arena.as_ref() };
                state.open |= arena.depth() > 0;
                state.ended += arena.published.frames_completed.get();
            }
            state
        })
        .unwrap_or_default()
}
