//! `AllocFrameReport`: what the app's frames did with frame memory, per
//! frame and per thread.

use std::sync::Arc;
use std::thread::ThreadId;

use bevy_ecs::message::Message;
use bevy_ecs::resource::Resource;

use super::resource::AllocResource;
use crate::BudgetUsage;

/// The figures of the app's last frame, written by the plugin's frame-end
/// step into this resource (and, as totals, into an [`AllocFrameEnded`]
/// message per frame for readers that keep a history).
///
/// A *system frame* is one outermost frame ended on some thread during the
/// app's frame: one per run of a frame system, plus any frame a system
/// opened itself with `begin_frame`. Frames nested inside another on the
/// same thread (a frame system run by a worker while it waits inside another
/// system's `par_iter`) count inside the outer one.
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{AllocFrameReport, SmartAllocPlugin};
/// use framealloc::{Frame, frame_system};
///
/// #[frame_system]
/// fn sort_keys(frame: &Frame) {
///     let mut keys = frame.alloc_slice_fill_with(256, |i| (255 - i) as u64);
///     keys.sort_unstable();
///     assert_eq!(keys[0], 0);
/// }
///
/// fn show(report: Res<AllocFrameReport>) {
///     // The previous frame's figures: `Last` has not run yet this frame.
///     let _ = (report.frame_number, report.bytes);
/// }
///
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::default())
///     .add_systems(Update, (sort_keys, show));
/// // One thread runs `Update`, so every frame reuses the same arena (with
/// // the multi-threaded executor, a frame whose system lands on a thread
/// // that never ran one before takes that thread's first chunk).
/// app.edit_schedule(Update, |schedule| {
///     schedule.set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
/// });
/// for _ in 0..3 {
///     app.update();
/// }
/// let report = app.world().resource::<AllocFrameReport>();
/// assert_eq!(report.frame_number, 2);
/// assert_eq!((report.system_frames, report.allocations, report.bytes), (1, 1, 2048));
/// assert_eq!(report.threads.len(), 1);
/// assert_eq!(report.new_chunks, 0, "frames 1 and 2 reused frame 0's chunk");
/// ```
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocFrameReport {
    /// The app frame these figures are of (0-based; the allocator's
    /// [`frame_number`](crate::SmartAlloc::frame_number) while it ran).
    pub frame_number: u64,
    /// Outermost frames ended during it, on every thread.
    pub system_frames: u64,
    /// Frame allocations made in them.
    pub allocations: u64,
    /// Frame bytes handed out in them, alignment padding included (net of
    /// what closed scopes gave back, as [`FrameReport::bytes_used`](crate::FrameReport::bytes_used)).
    pub bytes: u64,
    /// The same figures per thread, for the threads that ended a frame.
    pub threads: Vec<ThreadFrameFigures>,
    /// Bytes of chunks every arena holds when the frame ends: what frame
    /// memory costs the process. Flat once the app reaches its steady state.
    pub reserved_bytes: u64,
    /// Chunks taken from the global allocator during the frame: zero once the
    /// arenas are warm.
    pub new_chunks: u64,
    /// The global budget when the frame ended, if the allocator has budgets
    /// enabled ([`AllocConfig::with_budgets`](crate::AllocConfig::with_budgets)).
    pub budget: Option<BudgetUsage>,
}

impl AllocFrameReport {
    /// Whether the global budget was over its soft limit when the frame
    /// ended.
    ///
    /// ```
    /// let report = framealloc::bevy::AllocFrameReport::default();
    /// assert!(!report.over_soft_limit());
    /// ```
    pub fn over_soft_limit(&self) -> bool {
        self.budget
            .is_some_and(|usage| usage.soft_limit.is_some_and(|limit| usage.used > limit))
    }
}

/// One thread's share of an [`AllocFrameReport`].
///
/// ```
/// let report = framealloc::bevy::AllocFrameReport::default();
/// let bytes: u64 = report.threads.iter().map(|thread| thread.bytes).sum();
/// assert_eq!(bytes, report.bytes);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadFrameFigures {
    /// The thread holding the arena when the frame ended (`None` if the
    /// thread exited during the frame).
    pub thread: Option<ThreadId>,
    /// Its name, if it has one (Bevy names its pool threads, such as
    /// `"TaskPool (0)"`).
    pub thread_name: Option<Arc<str>>,
    /// Outermost frames it ended.
    pub frames: u64,
    /// Allocations in them.
    pub allocations: u64,
    /// Bytes in them.
    pub bytes: u64,
}

/// The totals of one app frame, sent as a Bevy message by the plugin's
/// frame-end step (one per frame; [`AllocFrameReport`] has the per-thread
/// figures of the latest).
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{AllocFrameEnded, SmartAllocPlugin};
///
/// #[derive(Resource, Default)]
/// struct History(Vec<u64>);
///
/// fn record(mut ended: MessageReader<AllocFrameEnded>, mut history: ResMut<History>) {
///     history.0.extend(ended.read().map(|frame| frame.bytes));
/// }
///
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::default())
///     .init_resource::<History>()
///     .add_systems(Update, record);
/// for _ in 0..3 {
///     app.update();
/// }
/// assert_eq!(app.world().resource::<History>().0, [0, 0], "frames 0 and 1, read in 1 and 2");
/// ```
#[derive(Message, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocFrameEnded {
    /// As [`AllocFrameReport::frame_number`].
    pub frame_number: u64,
    /// As [`AllocFrameReport::system_frames`].
    pub system_frames: u64,
    /// As [`AllocFrameReport::allocations`].
    pub allocations: u64,
    /// As [`AllocFrameReport::bytes`].
    pub bytes: u64,
    /// As [`AllocFrameReport::reserved_bytes`].
    pub reserved_bytes: u64,
    /// As [`AllocFrameReport::new_chunks`].
    pub new_chunks: u64,
}

impl AllocFrameReport {
    /// The totals, as the message the plugin sends.
    ///
    /// ```
    /// let report = framealloc::bevy::AllocFrameReport::default();
    /// assert_eq!(report.totals().bytes, report.bytes);
    /// ```
    pub fn totals(&self) -> AllocFrameEnded {
        AllocFrameEnded {
            frame_number: self.frame_number,
            system_frames: self.system_frames,
            allocations: self.allocations,
            bytes: self.bytes,
            reserved_bytes: self.reserved_bytes,
            new_chunks: self.new_chunks,
        }
    }
}

/// What the frame-end step remembers between frames: each arena's running
/// totals at the previous frame end, so it can report differences, and the
/// name of the thread holding it. Once every arena exists and its thread
/// is known, closing a frame allocates nothing.
#[derive(Default)]
pub(crate) struct FrameTally {
    arenas: Vec<ArenaTally>,
    chunk_allocations: u64,
}

#[derive(Default)]
struct ArenaTally {
    /// `(frames, allocations, bytes)` at the previous frame end.
    last: (u64, u64, u64),
    holder: Option<ThreadId>,
    holder_name: Option<Arc<str>>,
}

impl FrameTally {
    /// Rewrites `report` with the figures since the previous call, reusing
    /// its memory.
    pub(crate) fn close_frame(&mut self, alloc: &AllocResource, report: &mut AllocFrameReport) {
        report.frame_number = alloc.frame_number();
        report.system_frames = 0;
        report.allocations = 0;
        report.bytes = 0;
        report.reserved_bytes = 0;
        report.threads.clear();
        report.budget = alloc
            .budgets()
            .is_enabled()
            .then(|| alloc.budgets().global_usage());
        let mut chunk_allocations = 0;
        let arenas = &mut self.arenas;
        alloc.frame_memory().for_each_arena(|arena| {
            if arenas.len() <= arena.index {
                arenas.resize_with(arena.index + 1, ArenaTally::default);
            }
            let tally = &mut arenas[arena.index];
            chunk_allocations += arena.chunk_allocations;
            report.reserved_bytes += arena.reserved_bytes;
            let holder = arena.holder.as_ref().map(std::thread::Thread::id);
            if holder != tally.holder {
                tally.holder = holder;
                tally.holder_name = arena
                    .holder
                    .as_ref()
                    .and_then(|thread| thread.name().map(Arc::from));
            }
            let now = (arena.frames_completed, arena.allocations, arena.bytes);
            let last = core::mem::replace(&mut tally.last, now);
            let (frames, allocations, bytes) = (now.0 - last.0, now.1 - last.1, now.2 - last.2);
            if frames == 0 {
                return;
            }
            report.system_frames += frames;
            report.allocations += allocations;
            report.bytes += bytes;
            report.threads.push(ThreadFrameFigures {
                thread: holder,
                thread_name: tally.holder_name.clone(),
                frames,
                allocations,
                bytes,
            });
        });
        report.new_chunks = chunk_allocations - self.chunk_allocations;
        self.chunk_allocations = chunk_allocations;
    }
}
