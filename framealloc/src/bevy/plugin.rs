//! `SmartAllocPlugin`: inserts the allocator and runs the frame steps.

use bevy_app::{App, First, Last, Plugin, PostStartup};
use bevy_ecs::prelude::*;

use super::report::{AllocFrameEnded, AllocFrameReport, FrameTally};
use super::resource::{AllocResource, Steps};
use crate::{AllocConfig, SmartAlloc};

/// Adds framealloc to a Bevy app.
///
/// It inserts [`AllocResource`] (the allocator), marks the diagnostic
/// context as a Bevy app ([`DiagContext::bevy`]), and runs two steps:
///
/// | step | schedule | does |
/// |---|---|---|
/// | [`FrameAllocSystems::Begin`] | `First` | opens the app's frame (checks that the previous one ended: FA102) |
/// | [`FrameAllocSystems::End`] | `Last` | records the frame's figures in [`AllocFrameReport`] (a resource) and [`AllocFrameEnded`] (a message), reads the global budget, advances [`SmartAlloc::frame_number`] |
///
/// Frame memory itself does not wait for these steps: a frame system opens
/// a frame on the thread that runs it and ends it when the system returns,
/// so the next system on that thread reuses the memory. The steps keep the
/// books.
///
/// # Example
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{AllocFrameReport, SmartAllocPlugin};
/// use framealloc::{AllocConfig, Frame, frame_system};
///
/// #[frame_system]
/// fn scratch(frame: &Frame) {
///     let keys = frame.alloc_slice_fill_with(100, |i| i as u32);
///     assert_eq!(keys[99], 99);
/// }
///
/// let config = AllocConfig::default().with_frame_arena_size(4 << 20);
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::new(config))
///     .add_systems(Update, scratch);
/// app.update();
/// let report = app.world().resource::<AllocFrameReport>();
/// assert_eq!((report.frame_number, report.system_frames), (0, 1));
/// assert_eq!(report.bytes, 400);
/// ```
///
/// [`DiagContext::bevy`]: crate::diagnostics::DiagContext::bevy
pub struct SmartAllocPlugin {
    alloc: SmartAlloc,
}

impl SmartAllocPlugin {
    /// A plugin that creates an allocator with `config`.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_budgets(true);
    /// let plugin = framealloc::bevy::SmartAllocPlugin::new(config);
    /// # drop(plugin);
    /// ```
    pub fn new(config: AllocConfig) -> SmartAllocPlugin {
        SmartAllocPlugin::with_alloc(SmartAlloc::new(config))
    }

    /// A plugin that shares `alloc`, an allocator the game already uses
    /// outside Bevy (a loader thread, a renderer): the app's figures and the
    /// game's are then one set.
    ///
    /// ```
    /// use framealloc::{SmartAlloc, bevy::{AllocResource, SmartAllocPlugin}};
    ///
    /// let alloc = SmartAlloc::with_defaults();
    /// let mut app = bevy_app::App::new();
    /// app.add_plugins(SmartAllocPlugin::with_alloc(alloc.clone()));
    /// app.update();
    /// assert_eq!(alloc.frame_number(), 1, "the app's frame counter is the allocator's");
    /// ```
    pub fn with_alloc(alloc: SmartAlloc) -> SmartAllocPlugin {
        SmartAllocPlugin { alloc }
    }
}

impl Default for SmartAllocPlugin {
    /// A plugin with [`AllocConfig::default`].
    fn default() -> SmartAllocPlugin {
        SmartAllocPlugin::new(AllocConfig::default())
    }
}

impl core::fmt::Debug for SmartAllocPlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmartAllocPlugin").finish_non_exhaustive()
    }
}

/// The plugin's steps, for ordering your systems against them.
///
/// A system in `First` that opens frames and must count in this frame's
/// figures runs `.after(FrameAllocSystems::Begin)`; one in `Last` runs
/// `.before(FrameAllocSystems::End)`.
///
/// ```
/// use bevy_app::{App, Last};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{FrameAllocSystems, SmartAllocPlugin};
///
/// fn flush_debug_lines() {}
///
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::default())
///     .add_systems(Last, flush_debug_lines.before(FrameAllocSystems::End));
/// app.update();
/// ```
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameAllocSystems {
    /// The frame-begin step, in `First`.
    Begin,
    /// The frame-end step, in `Last`.
    End,
}

impl Plugin for SmartAllocPlugin {
    fn build(&self, app: &mut App) {
        let resource = AllocResource::new(self.alloc.clone());
        resource.steps.set(Steps::PLUGIN);
        crate::diagnostics::set_bevy_context(true);
        app.insert_resource(resource)
            .init_resource::<AllocFrameReport>()
            .add_message::<AllocFrameEnded>()
            .add_systems(PostStartup, startup_done)
            .add_systems(First, begin_frame.in_set(FrameAllocSystems::Begin))
            .add_systems(Last, end_frame.in_set(FrameAllocSystems::End));
    }
}

/// `PostStartup`: from now on, a frame system needs the begin step to have
/// run (startup systems run before the first `First`).
fn startup_done(alloc: Res<AllocResource>) {
    alloc.steps.set(Steps::STARTED);
}

/// `First`: the app's frame begins.
fn begin_frame(alloc: Res<AllocResource>) {
    let was_open = alloc.steps.open();
    if was_open && alloc.steps.has(Steps::BEGUN) {
        alloc.steps.report_missing(format_args!(
            "frame {} had no frame-end step: `FrameAllocSystems::End` did not run in `Last`, so its figures were not recorded",
            alloc.frame_number().saturating_sub(1)
        ));
    }
    alloc.steps.set(Steps::BEGUN);
}

/// `Last`: the app's frame ends. Its figures go to [`AllocFrameReport`]
/// and, as totals, to an [`AllocFrameEnded`] message; the allocator's frame
/// counter moves on. Allocation-free once the arenas are known.
fn end_frame(
    alloc: Res<AllocResource>,
    mut report: ResMut<AllocFrameReport>,
    mut messages: MessageWriter<AllocFrameEnded>,
    mut tally: Local<FrameTally>,
) {
    if !alloc.steps.close() {
        alloc.steps.report_missing(format_args!(
            "frame {} had no frame-begin step: `FrameAllocSystems::Begin` did not run in `First`",
            alloc.frame_number()
        ));
    }
    tally.close_frame(&alloc, &mut report);
    messages.write(report.totals());
    alloc.advance_frame();
}
