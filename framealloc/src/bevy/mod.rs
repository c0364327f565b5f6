//! Bevy integration (feature `bevy`): frame memory in Bevy systems with no
//! lifetimes in sight and no `unsafe`.
//!
//! | item | what it is |
//! |---|---|
//! | [`SmartAllocPlugin`] | inserts the allocator and runs the frame steps in `First` and `Last` |
//! | [`AllocResource`] | the allocator as an immutable resource: `Res<AllocResource>` derefs to [`SmartAlloc`](crate::SmartAlloc) |
//! | [`#[frame_system]`](crate::frame_system) | `fn f(frame: &Frame, …)` becomes an ordinary system with a frame for each run |
//! | [`FrameAlloc`] | the system parameter behind it, for systems written without the macro |
//! | [`AllocFrameReport`], [`AllocFrameEnded`] | each app frame's frame-memory figures, per thread (a resource), and its totals (a message) |
//! | [`FrameAllocSystems`] | the plugin's steps, to order systems against |
//!
//! A frame is one system run on one thread. `Frame` is `!Send` and borrows
//! the allocator, so no frame spans two systems; the system's thread opens
//! it when the system starts and ends it when the system returns, and the
//! next system on that thread reuses the same memory. Systems running in
//! parallel use their own threads' arenas, with no lock between them.
//!
//! ```
//! use bevy_app::{App, Update};
//! use bevy_ecs::prelude::*;
//! use framealloc::bevy::SmartAllocPlugin;
//! use framealloc::{Frame, frame_system};
//!
//! #[derive(Component)]
//! struct Position(f32);
//!
//! #[frame_system]
//! fn nearest_three(frame: &Frame, query: Query<&Position>) {
//!     // Scratch memory for this run only: no Vec, no Local, no lifetime.
//!     let mut distances = frame.alloc_slice_fill_iter(query.iter().map(|p| p.0.abs()));
//!     distances.sort_unstable_by(f32::total_cmp);
//!     assert_eq!(&distances[..3], &[0.5, 1.0, 2.0]);
//! }
//!
//! let mut app = App::new();
//! app.add_plugins(SmartAllocPlugin::default())
//!     .add_systems(Update, nearest_three);
//! app.world_mut()
//!     .spawn_batch([-1.0, 4.0, 0.5, 2.0, -8.0].map(Position));
//! app.update();
//! ```
//!
//! The code that uses the crate through `bevy_ecs` and `bevy_app` 0.20
//! directly works the same with the umbrella `bevy` crate. The guide,
//! `docs/bevy.md` in the repository, shows every shape of system, the
//! figures and the diagnostics.

mod param;
mod plugin;
mod report;
mod resource;

#[doc(hidden)]
pub use param::Captured;
pub use param::FrameAlloc;
pub use plugin::{FrameAllocSystems, SmartAllocPlugin};
pub use report::{AllocFrameEnded, AllocFrameReport, ThreadFrameFigures};
pub use resource::AllocResource;

/// The Bevy guide's examples (`docs/bevy.md`), compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/bevy.md")]
pub struct BevyGuideDoctests;
