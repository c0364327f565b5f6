//! Which arena the calling thread uses for a given allocator.
//!
//! The thread's leases (the crate's one lease mechanism,
//! `allocators::lease`) record one arena per allocator it has opened frames
//! on; `begin_frame` looks the lease up once, through a one-entry cache
//! keyed by the allocator's never-reused id, and the returned `Frame` then
//! points straight at the arena, so allocations never touch thread-local
//! storage. When the thread exits, its leases are given back
//! (`FrameMemory::give_up`). A lease holds only a `Weak` to the allocator's
//! frame memory, so a thread that once used an allocator does not keep its
//! memory alive.
#![expect(unsafe_code, reason = "an arena is reached through a pointer its registry keeps alive")]

use core::cell::Cell;
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::sync::Arc;

use super::arena::Arena;
use super::registry::FrameMemory;
use crate::allocators::lease::{Leases, Lessor};
use crate::diagnostics::ThreadFrames;

thread_local! {
    static LEASES: Leases<FrameMemory> = const { Leases::new() };
    /// `(allocator id, arena)` of the last lease used: `begin_frame`'s fast
    /// path. `const` and without a destructor; cleared before the leases are
    /// given back.
    static CACHE: Cell<(u64, *const Arena)> = const { Cell::new((0, core::ptr::null())) };
}

impl Lessor for FrameMemory {
    type Item = Arena;

    fn id(&self) -> u64 {
        self.id
    }

    fn adopt(this: &Arc<Self>, _token: u64) -> NonNull<Arena> {
        FrameMemory::adopt(this)
    }

    fn give_up(&self, arena: NonNull<Arena>, _token: u64) {
        // SAFETY: the caller holds a strong count on this registry, so its
        // arenas are alive.
        let arena = unsafe { arena.as_ref() };
        // SAFETY: the calling thread held the lease, and gives it back as it
        // exits (or when the registry is gone, with the thread's cache
        // cleared first): it does not use the arena afterwards.
        unsafe { FrameMemory::give_up(self, arena) };
    }

    fn clear_thread_cache() {
        let _ = CACHE.try_with(|cache| cache.set((0, core::ptr::null())));
    }
}

/// A borrow of the calling thread's arena for `'a`.
///
/// Made only by [`arena_for_current_thread`]. It is neither `Send` nor `Sync`,
/// which is what makes `Frame` thread-bound: its `thread` field says so in
/// the compiler's words.
#[derive(Clone, Copy)]
pub(crate) struct ArenaRef<'a> {
    /// Makes `ArenaRef` (and so `Frame`) `!Send + !Sync`, and names the rule
    /// when a `Frame` is sent or shared: sending a `Frame` to another
    /// thread fails with "`*const ThisFrameBelongsToTheThreadThatOpenedIt`
    /// cannot be sent between threads safely".
    _thread: PhantomData<*const crate::ThisFrameBelongsToTheThreadThatOpenedIt>,
    /// Invariant: live for `'a` and used by the calling thread alone.
    arena: ArenaPtr,
    _registry: PhantomData<&'a FrameMemory>,
}

/// The arena's address. `Send` and `Sync` on its own so that the compiler's
/// message about a `Frame` sent to another thread names `ArenaRef::_thread`'s
/// type (one error, in words) rather than also this pointer. Its holders,
/// `ArenaRef` and `Lent`, live only inside a `Frame`, which `ArenaRef::_thread`
/// makes `!Send + !Sync` (the ui-tests `frame_not_send` and `frame_not_sync`
/// fail to compile, and would compile if `_thread` went).
#[derive(Clone, Copy)]
struct ArenaPtr(NonNull<Arena>);

// SAFETY: an `ArenaPtr` is only ever held by an `ArenaRef` or a `Lent`, and
// those only by a `Frame` (or on the way into one, on its thread), which
// `ArenaRef::_thread` makes `!Send + !Sync`: no `ArenaPtr` crosses threads.
unsafe impl Send for ArenaPtr {}
// SAFETY: as above.
unsafe impl Sync for ArenaPtr {}

impl<'a> ArenaRef<'a> {
    #[inline(always)]
    pub(crate) fn get(self) -> &'a Arena {
        // SAFETY: type invariant; the arena's cells are touched only by this
        // thread because `ArenaRef` cannot leave it.
        unsafe { self.arena.0.as_ref() }
    }
}

/// How the calling thread holds the arena `arena_for_current_thread` returned.
pub(crate) enum Tenancy<'a> {
    /// Recorded in the thread's leases; used again by the thread's next frame.
    Leased,
    /// The thread is tearing down its thread-locals, so the arena is lent to
    /// this one frame (FA202), and given back when this value drops.
    Lent(#[expect(dead_code, reason = "held for its `Drop`, which gives the arena back")] Lent<'a>),
}

/// An arena lent to one frame during thread teardown; gives it back to its
/// registry when dropped. Made only by `arena_slow`, for the arena it
/// adopted for this frame alone.
pub(crate) struct Lent<'a> {
    frames: &'a FrameMemory,
    /// Held only inside a `Frame`, beside its `ArenaRef`, so it never
    /// leaves the thread (see `ArenaPtr`).
    arena: ArenaPtr,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        // SAFETY: the arena belongs to `frames` (adopted from it, alive while
        // `frames` is borrowed).
        let arena = unsafe { self.arena.0.as_ref() };
        // SAFETY: it was adopted for one frame of this thread, which owns
        // this value and drops it as that frame ends: nothing uses the arena
        // afterwards.
        unsafe { self.frames.give_up(arena) };
    }
}

/// Returns the calling thread's arena of `frames`, adopting one on first
/// use.
///
/// The arena is used by the calling thread only, until the thread exits
/// (`Leased`) or until the `Lent` value drops.
#[inline]
pub(crate) fn arena_for_current_thread(frames: &Arc<FrameMemory>) -> (ArenaRef<'_>, Tenancy<'_>) {
    let (allocator, cached) = CACHE.with(Cell::get);
    if let Some(arena) = NonNull::new(cached.cast_mut()).filter(|_| allocator == frames.id) {
        // The cache holds only this thread's live lease for `frames` (ids are
        // never reused), so the `ArenaRef` invariant holds as below.
        return (
            ArenaRef {
                _thread: PhantomData,
                arena: ArenaPtr(arena),
                _registry: PhantomData,
            },
            Tenancy::Leased,
        );
    }
    arena_slow(frames)
}

#[cold]
fn arena_slow(frames: &Arc<FrameMemory>) -> (ArenaRef<'_>, Tenancy<'_>) {
    let leased = LEASES.try_with(|leases| {
        let arena = leases.get_or_adopt(frames, 0);
        CACHE.with(|cache| cache.set((frames.id, arena.as_ptr())));
        arena
    });
    let (arena, tenancy) = match leased {
        Ok(arena) => (arena, Tenancy::Leased),
        Err(_) => {
            crate::diagnostics::report_during_teardown("FA202", format_args!(""));
            let arena = frames.adopt();
            let frames: &FrameMemory = frames;
            (
                arena,
                Tenancy::Lent(Lent {
                    frames,
                    arena: ArenaPtr(arena),
                }),
            )
        }
    };
    // `arena` belongs to `frames`, which is freed only when the last handle
    // to the allocator drops, and `frames` is borrowed for the returned
    // lifetime. `adopt` gave it to this thread alone (the `ArenaRef`
    // invariant).
    (
        ArenaRef {
            _thread: PhantomData,
            arena: ArenaPtr(arena),
            _registry: PhantomData,
        },
        tenancy,
    )
}

/// What the calling thread's arenas say about frames, across every
/// allocator the thread has used: what diagnostics report as context.
/// Handed to diagnostics by the allocator handle. Returns the default while
/// the thread is tearing down its thread-locals.
pub(crate) fn current_thread_frames() -> ThreadFrames {
    LEASES
        .try_with(|leases| {
            let mut state = ThreadFrames::default();
            leases.for_each(|_, arena| {
                // SAFETY: `for_each` holds a strong count on the registry, so
                // the arena is alive; the lease is this thread's, so no other
                // thread uses it.
                let (ended, open) = unsafe { arena.as_ref() }.frames();
                state.open |= open;
                state.ended += ended;
            });
            state
        })
        .unwrap_or_default()
}
