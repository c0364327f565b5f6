//! Deterministic, frame-based memory for game engines, renderers and
//! simulations.
//!
//! `framealloc` makes the *intent* of an allocation explicit:
//!
//! | intent | how | memory lives until | cost |
//! |---|---|---|---|
//! | frame | [`SmartAlloc::begin_frame`], then [`Frame::alloc`] | the frame ends (checked by the compiler) | a pointer bump; O(1) reset |
//! | pool | [`SmartAlloc::pool_box`] | the [`PoolBox`] drops, on any thread | a thread-local free-list pop |
//! | heap | [`SmartAlloc::heap_box`] | the [`HeapBox`] drops, on any thread | one global-allocator call, counted |
//! | groups | [`SmartAlloc::groups`], then [`Group::alloc`] | [`Groups::free_group`] (checked by the compiler) | a pointer bump; one destructor record per run of a type |
//! | handles | [`HandleAllocator::alloc`] | [`HandleAllocator::free`]; values move in [`HandleAllocator::defragment`] | a slot and a bump; `get` is one lookup |
//! | streaming | [`SmartAlloc::streaming`], then [`StreamingAllocator::reserve`] | released, or evicted for room (never while an [`AccessGuard`] holds it) | `access` is a compare-and-swap; `reserve` takes a lock |
//!
//! Around them: [budgets and tags](BudgetManager), [statistics](AllocStats),
//! coded [diagnostics] with a strict mode for CI, and (feature `bevy`) a
//! Bevy plugin with `#[frame_system]`.
//!
//! ```
//! use framealloc::{AllocConfig, SmartAlloc};
//!
//! let alloc = SmartAlloc::new(AllocConfig::default());
//! for frame_number in 0..3 {
//!     let frame = alloc.begin_frame();                 // Frame<'_>
//!     {
//!         let visible = frame.alloc_slice_fill_with(128, |i| i as u32 * frame_number);
//!         let label = frame.alloc_str("culling");
//!         assert_eq!((visible.len(), &*label), (128, "culling"));
//!     }                                                // frame memory is dropped first
//!     let report = frame.end();                        // O(1) reset
//!     assert_eq!(report.allocations, 2);
//! }
//! // Repeated frames reuse the same chunks: no new system allocations.
//! assert_eq!(alloc.stats().frame.chunk_allocations, 1);
//! ```
//!
//! # The lifetime-typed API
//!
//! [`SmartAlloc::begin_frame`] returns a [`Frame<'_>`](Frame). Everything
//! allocated from it borrows it: [`FrameBox<'frame, T>`](FrameBox), frame
//! slices and strings, and collections whose allocator is `&Frame`. Two
//! classic arena bugs are therefore compile errors:
//!
//! - **FA001, allocation outside a frame**: there is nothing to allocate from
//!   without a `Frame` ([`SmartAlloc::frame_alloc`] exists only to say so);
//! - **FA002, frame memory escaping its frame**: the borrow checker rejects
//!   any use of frame memory after the frame is dropped or ended.
//!
//! ```compile_fail
//! let alloc = framealloc::SmartAlloc::with_defaults();
//! let escaped = {
//!     let frame = alloc.begin_frame();
//!     frame.alloc(42u32) // error[E0597]: `frame` does not live long enough
//! };
//! ```
//!
//! A `Frame` is `!Send` and `!Sync`: it is the calling thread's arena. Every
//! thread that calls `begin_frame` gets its own arena, so threads never
//! contend on the allocation path, and a `FrameBox` is `Send`/`Sync` exactly
//! when its contents are, so scoped threads can read frame data.
//!
//! # Collections
//!
//! `&Frame` implements allocator-api2 0.2's `Allocator` (re-exported as
//! [`allocator_api2`]) on stable Rust, so `allocator_api2::vec::Vec<T,
//! &Frame>` and hashbrown maps work; growth of the most recent allocation
//! happens in place. With the `nightly` feature it also implements
//! `core::alloc::Allocator`.
//!
//! # Safety
//!
//! The public API is safe. `unsafe` code sits only in leaf files under the
//! private `allocators` module that opt in at their top; the crate denies it
//! everywhere else. Every unsafe block has its justification, and the test
//! suite runs under Miri with strict provenance.
//!
//! # Modules
//!
//! | module | holds |
//! |---|---|
//! | `smart_alloc`, `shared` | the allocator handle and the state its clones share |
//! | `config`, `error`, `stats`, `tag` | what every intent shares |
//! | `allocators` | the memory engines: `frame`, `pool` (pool and heap intents), `group`, `handle`, `streaming` |
//! | `budget`, [`diagnostics`] | cross-cutting services the engines call |
//! | `bevy` (feature `bevy`) | the Bevy plugin, resource, system parameter and frame figures |
#![cfg_attr(feature = "nightly", feature(allocator_api))]

mod allocators;
#[cfg(feature = "bevy")]
pub mod bevy;
mod budget;
mod config;
pub mod diagnostics;
mod error;
mod frame_required;
mod guard_stack;
mod shared;
mod smart_alloc;
mod stats;
mod tag;

pub use allocator_api2;
pub use allocators::frame::{Frame, FrameBox, FrameReport};
pub use allocators::group::{Group, GroupStats, Groups, GroupsStats};
pub use allocators::handle::{
    Defragmentation, Handle, HandleAllocator, HandleStats, Place, RawHandle, Relocation,
};
pub use allocators::pool::{BoxValue, HeapBox, PoolBox};
pub use allocators::streaming::{
    AccessGuard, Eviction, LoadWriter, StreamId, StreamPriority, StreamState, StreamingAllocator,
    StreamingStats,
};
pub use budget::{BudgetEvent, BudgetManager, BudgetUsage, ListenerId};
pub use config::AllocConfig;
pub use diagnostics::{DiagnosticKind, StrictMode, StrictModeGuard, set_strict_mode};
pub use error::AllocError;
pub use frame_required::{FrameEndsWithItsValue, FrameRequired, IntentRequired};
pub use framealloc_macros::{fa_compile_error, frame_system};

/// The type named by the compiler when a [`Frame`](crate::Frame) (or a
/// borrow of one) is sent to, or shared with, another thread: frame memory
/// lives in the arena of the thread that opened the frame, which only that
/// thread touches. Open a frame on the other thread (`alloc.begin_frame()`
/// there; every thread has its own arena), or send values, not the frame.
/// Never made. It sits at the crate root so the message names it
/// `framealloc::ThisFrameBelongsToTheThreadThatOpenedIt`.
pub(crate) enum ThisFrameBelongsToTheThreadThatOpenedIt {}
pub use smart_alloc::{SmartAlloc, WeakAlloc};
pub use stats::{AllocStats, FrameArenaStats, FrameStats, IntentStats, ThreadStats};
pub use tag::{AllocationTag, MAX_TAGS, TagGuard};

/// The README's examples, compiled and run as doc tests (with the `bevy`
/// feature, which its Bevy section needs and the README's test command
/// turns on).
#[cfg(all(doctest, feature = "bevy"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The last step of `#[frame_system]`'s expansion: the Bevy system when
/// this framealloc has the `bevy` feature. Not public API.
#[cfg(feature = "bevy")]
#[doc(hidden)]
#[macro_export]
macro_rules! __frame_system_expand {
    (bevy { $($system:tt)* } fallback { $($fallback:tt)* }) => { $($system)* };
}

/// The last step of `#[frame_system]`'s expansion: FA101 at the attribute
/// when this framealloc lacks the `bevy` feature. Not public API.
#[cfg(not(feature = "bevy"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __frame_system_expand {
    (bevy { $($system:tt)* } fallback { $($fallback:tt)* }) => { $($fallback)* };
}

/// Support for framealloc's own tests and the code its macros generate.
/// Not public API: anything here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::smart_alloc::MemoryProbe;
}
