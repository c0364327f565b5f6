//! The contenders every benchmark compares, behind one small interface.
//!
//! Shared by `frame.rs` (criterion timings) and `callgrind_probe.rs`
//! (instruction counts), so both measure exactly the same code: a round is
//! one framealloc frame, or the span between two resets of a peer arena.

use std::alloc::{Layout, handle_alloc_error};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use framealloc::{AllocConfig, Frame, SmartAlloc};

/// Allocations per round ("frame") in the throughput cases.
pub const FRAME_ALLOCS: usize = 16_384;

/// Allocations per round in the small-frame case.
pub const SMALL_FRAME_ALLOCS: usize = 64;

/// Elements pushed into one vector per round in the vector case.
pub const VEC_PUSHES: usize = 1_000_000;

/// The runtime layout of the layout cases (callers hide it behind
/// `black_box`): 24 bytes, aligned to 8.
pub const LAYOUT: Layout = Layout::new::<[u64; 3]>();

/// Per-thread limit for framealloc: far above what any case uses, so no case
/// measures the limit check failing.
const FRAME_ARENA_LIMIT: usize = 256 << 20;

/// A 64-byte plain value.
#[derive(Clone, Copy)]
pub struct Block64(#[expect(dead_code, reason = "written, never read back")] pub [u64; 8]);

/// Destructors run on [`Counted`] values, all threads together.
pub static DROPS: AtomicU64 = AtomicU64::new(0);

/// An 8-byte value whose destructor has a visible effect: it bumps [`DROPS`]
/// (a plain load and store, not an atomic read-modify-write).
pub struct Counted(#[expect(dead_code, reason = "written, never read back")] pub u64);

impl Drop for Counted {
    #[inline]
    fn drop(&mut self) {
        DROPS.store(DROPS.load(Relaxed).wrapping_add(1), Relaxed);
    }
}

/// What one round of an arena offers. Every method passes its result through
/// `black_box`. The `op_` prefix keeps the libraries' inherent methods of the
/// same names (`Frame::alloc`, `Bump::alloc`, ...) from shadowing these in
/// non-generic code.
pub trait Scope {
    /// Allocates a plain value (no destructor to run).
    fn op_alloc<T: Copy + 'static>(&self, value: T);
    /// Allocates a value whose destructor runs: when its box is dropped
    /// (framealloc, bumpalo, bump-scope) or when the round ends (blink).
    fn op_alloc_owned<T: 'static>(&self, value: T);
    /// The runtime-`Layout` entry point.
    fn op_alloc_layout(&self, layout: Layout);
    /// The allocator-trait entry point (`Allocator::allocate`).
    fn op_allocate(&self, layout: Layout);
    /// Pushes `0..n` into a vector in this arena, starting from no capacity.
    fn op_push_vec(&self, n: usize);
}

/// An arena that is used in rounds: framealloc's `SmartAlloc` (a round is a
/// frame) or a peer's bump arena (a round ends with a reset).
pub trait Contender: Send + Sized {
    /// The name benchmarks and the probe use.
    const NAME: &'static str;
    /// What allocations come from during a round.
    type Scope<'a>: Scope
    where
        Self: 'a;
    /// A new, empty arena.
    fn create() -> Self;
    /// An arena for another thread: a clone of the same allocator for
    /// framealloc, a new arena for the peers.
    #[allow(dead_code, reason = "used by frame.rs (two_threads), not by the probe")]
    fn sibling(&self) -> Self;
    /// Begins a round, runs `body` in it and ends it (frame end or reset).
    fn round(&mut self, body: impl FnOnce(&Self::Scope<'_>));
}

/// Runs `total` operations `op(scope, i)` in rounds of at most `per_round`.
#[inline]
pub fn run_rounds<C: Contender>(
    arena: &mut C,
    total: usize,
    per_round: usize,
    op: impl Fn(&C::Scope<'_>, u64),
) {
    let mut left = total;
    while left > 0 {
        let count = left.min(per_round);
        arena.round(|scope| {
            for i in 0..count as u64 {
                op(scope, i);
            }
        });
        left -= count;
    }
}

/// Runs `rounds` empty rounds: begin + end, nothing allocated. The scope
/// goes through `black_box`, so the compiler cannot drop a reset of an arena
/// it can see is already empty.
#[inline]
pub fn empty_rounds<C: Contender>(arena: &mut C, rounds: usize) {
    for _ in 0..rounds {
        arena.round(|scope| {
            black_box(scope);
        });
    }
}

/// Pushes `total` elements with `push(scope, count)`, one vector of at most
/// [`VEC_PUSHES`] per round.
#[inline]
pub fn vec_rounds<C: Contender>(arena: &mut C, total: usize, push: impl Fn(&C::Scope<'_>, usize)) {
    let mut left = total;
    while left > 0 {
        let count = left.min(VEC_PUSHES);
        arena.round(|scope| push(scope, count));
        left -= count;
    }
}

/// Pushes `0..n` into an allocator-api2 0.2 `Vec` over `alloc`.
#[inline]
pub fn push_api2_vec<A: allocator_api2::alloc::Allocator>(alloc: A, n: usize) {
    let mut vec = allocator_api2::vec::Vec::<u32, A>::new_in(alloc);
    for i in 0..n as u32 {
        vec.push(i);
    }
    black_box(&vec);
}

// ---- framealloc ------------------------------------------------------------

impl Contender for SmartAlloc {
    const NAME: &'static str = "framealloc";
    type Scope<'a> = Frame<'a>;

    fn create() -> Self {
        SmartAlloc::new(AllocConfig::default().with_frame_arena_size(FRAME_ARENA_LIMIT))
    }

    fn sibling(&self) -> Self {
        self.clone()
    }

    #[inline]
    fn round(&mut self, body: impl FnOnce(&Frame<'_>)) {
        let frame = self.begin_frame();
        body(&frame);
    }
}

impl Scope for Frame<'_> {
    #[inline(always)]
    fn op_alloc<T: Copy + 'static>(&self, value: T) {
        black_box(Frame::alloc(self, value));
    }

    #[inline(always)]
    fn op_alloc_owned<T: 'static>(&self, value: T) {
        drop(black_box(Frame::alloc(self, value)));
    }

    #[inline(always)]
    fn op_alloc_layout(&self, layout: Layout) {
        black_box(Frame::alloc_layout(self, layout));
    }

    #[inline(always)]
    fn op_allocate(&self, layout: Layout) {
        let block = allocator_api2::alloc::Allocator::allocate(&self, layout)
            .unwrap_or_else(|_| handle_alloc_error(layout));
        black_box(block);
    }

    #[inline]
    fn op_push_vec(&self, n: usize) {
        push_api2_vec(self, n);
    }
}

// ---- bumpalo ---------------------------------------------------------------

impl Contender for bumpalo::Bump {
    const NAME: &'static str = "bumpalo";
    type Scope<'a> = bumpalo::Bump;

    fn create() -> Self {
        bumpalo::Bump::new()
    }

    fn sibling(&self) -> Self {
        bumpalo::Bump::new()
    }

    #[inline]
    fn round(&mut self, body: impl FnOnce(&bumpalo::Bump)) {
        body(self);
        self.reset();
    }
}

impl Scope for bumpalo::Bump {
    #[inline(always)]
    fn op_alloc<T: Copy + 'static>(&self, value: T) {
        black_box(bumpalo::Bump::alloc(self, value));
    }

    #[inline(always)]
    fn op_alloc_owned<T: 'static>(&self, value: T) {
        drop(black_box(bumpalo::boxed::Box::new_in(value, self)));
    }

    #[inline(always)]
    fn op_alloc_layout(&self, layout: Layout) {
        black_box(bumpalo::Bump::alloc_layout(self, layout));
    }

    #[inline(always)]
    fn op_allocate(&self, layout: Layout) {
        let block = allocator_api2::alloc::Allocator::allocate(&self, layout)
            .unwrap_or_else(|_| handle_alloc_error(layout));
        black_box(block);
    }

    /// bumpalo's own `collections::Vec` (the allocator-api2 `Vec` over `&Bump`
    /// is measured separately with [`push_api2_vec`]).
    #[inline]
    fn op_push_vec(&self, n: usize) {
        let mut vec = bumpalo::collections::Vec::<u32>::new_in(self);
        for i in 0..n as u32 {
            vec.push(i);
        }
        black_box(&vec);
    }
}

// ---- bump-scope ------------------------------------------------------------

impl Contender for bump_scope::Bump {
    const NAME: &'static str = "bump-scope";
    type Scope<'a> = bump_scope::Bump;

    fn create() -> Self {
        bump_scope::Bump::new()
    }

    fn sibling(&self) -> Self {
        bump_scope::Bump::new()
    }

    #[inline]
    fn round(&mut self, body: impl FnOnce(&bump_scope::Bump)) {
        body(self);
        self.reset();
    }
}

impl Scope for bump_scope::Bump {
    #[inline(always)]
    fn op_alloc<T: Copy + 'static>(&self, value: T) {
        black_box(bump_scope::Bump::alloc(self, value).into_mut());
    }

    #[inline(always)]
    fn op_alloc_owned<T: 'static>(&self, value: T) {
        drop(black_box(bump_scope::Bump::alloc(self, value)));
    }

    #[inline(always)]
    fn op_alloc_layout(&self, layout: Layout) {
        black_box(bump_scope::traits::BumpAllocatorTyped::allocate_layout(
            self, layout,
        ));
    }

    #[inline(always)]
    fn op_allocate(&self, layout: Layout) {
        let block = bump_scope::alloc::Allocator::allocate(self, layout)
            .unwrap_or_else(|_| handle_alloc_error(layout));
        black_box(block);
    }

    #[inline]
    fn op_push_vec(&self, n: usize) {
        let mut vec = bump_scope::BumpVec::<u32, _>::new_in(self);
        for i in 0..n as u32 {
            vec.push(i);
        }
        black_box(&vec);
    }
}

// ---- blink-alloc -----------------------------------------------------------

impl Contender for blink_alloc::Blink {
    const NAME: &'static str = "blink-alloc";
    type Scope<'a> = blink_alloc::Blink;

    fn create() -> Self {
        blink_alloc::Blink::new()
    }

    fn sibling(&self) -> Self {
        blink_alloc::Blink::new()
    }

    #[inline]
    fn round(&mut self, body: impl FnOnce(&blink_alloc::Blink)) {
        body(self);
        self.reset();
    }
}

impl Scope for blink_alloc::Blink {
    #[inline(always)]
    fn op_alloc<T: Copy + 'static>(&self, value: T) {
        black_box(blink_alloc::Blink::put(self, value));
    }

    /// `put` records values that need dropping in the drop list; the
    /// destructors run at `reset`.
    #[inline(always)]
    fn op_alloc_owned<T: 'static>(&self, value: T) {
        black_box(blink_alloc::Blink::put(self, value));
    }

    #[inline(always)]
    fn op_alloc_layout(&self, layout: Layout) {
        let block = self
            .allocator()
            .allocate(layout)
            .unwrap_or_else(|_| handle_alloc_error(layout));
        black_box(block);
    }

    /// blink-alloc's allocator trait is allocator-api2 0.4's.
    #[inline(always)]
    fn op_allocate(&self, layout: Layout) {
        let block = allocator_api2_04::alloc::Allocator::allocate(self.allocator(), layout)
            .unwrap_or_else(|_| handle_alloc_error(layout));
        black_box(block);
    }

    /// allocator-api2 0.4's `Vec` over `&BlinkAlloc`: blink has no vector
    /// type of its own.
    #[inline]
    fn op_push_vec(&self, n: usize) {
        let mut vec = allocator_api2_04::vec::Vec::<u32, _>::new_in(self.allocator());
        for i in 0..n as u32 {
            vec.push(i);
        }
        black_box(&vec);
    }
}
