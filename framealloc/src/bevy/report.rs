//! `AllocFrameReport`: what the app's frames did with frame memory, per
//! frame and per thread.

use std::thread::ThreadId;

use bevy_ecs::message::Message;
use bevy_ecs::resource::Resource;

use super::resource::AllocResource;
use crate::BudgetUsage;

/// The figures of the app's last frame, written by the plugin's frame-end
/// step: a resource holding the latest frame, and a message per frame for
/// readers that keep a history.
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
/// for _ in 0..3 {
///     app.update();
/// }
/// let report = app.world().resource::<AllocFrameReport>();
/// assert_eq!(report.frame_number, 2);
/// assert_eq!((report.system_frames, report.allocations, report.bytes), (1, 1, 2048));
/// assert_eq!(report.threads.len(), 1);
/// assert_eq!(report.new_chunks, 0, "frames 1 and 2 reused frame 0's chunk");
/// ```
#[derive(Resource, Message, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocFrameReport {
    /// The app frame these figures are of (0-based; the allocator's
    /// [`frame_number`](crate::SmartAlloc::frame_number) while it ran).
    pub frame_number: u64,
    /// Outermost frames ended during it, on every thread.
    pub system_frames: u64,
    /// Frame allocations made in them.
    pub allocations: u64,
    /// Frame bytes handed out in them, alignment padding included.
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
    /// `"Compute Task Pool (0)"`).
    pub thread_name: Option<String>,
    /// Outermost frames it ended.
    pub frames: u64,
    /// Allocations in them.
    pub allocations: u64,
    /// Bytes in them.
    pub bytes: u64,
}

/// What the frame-end step remembers between frames: each arena's running
/// totals at the previous frame end, so it can report differences.
#[derive(Default)]
pub(crate) struct FrameTally {
    /// `(frames, allocations, bytes)` per arena index.
    last: Vec<(u64, u64, u64)>,
    chunk_allocations: u64,
}

impl FrameTally {
    /// The figures since the previous call.
    pub(crate) fn close_frame(&mut self, alloc: &AllocResource) -> AllocFrameReport {
        let stats = alloc.stats().frame;
        let mut report = AllocFrameReport {
            frame_number: alloc.frame_number(),
            reserved_bytes: stats.reserved_bytes as u64,
            new_chunks: stats.chunk_allocations - self.chunk_allocations,
            budget: alloc
                .budgets()
                .is_enabled()
                .then(|| alloc.budgets().global_usage()),
            ..AllocFrameReport::default()
        };
        self.chunk_allocations = stats.chunk_allocations;
        self.last.resize(stats.per_arena.len(), (0, 0, 0));
        for (arena, last) in stats.per_arena.into_iter().zip(&mut self.last) {
            let now = (
                arena.frames_completed,
                arena.allocations,
                arena.bytes_allocated,
            );
            let (frames, allocations, bytes) = (now.0 - last.0, now.1 - last.1, now.2 - last.2);
            *last = now;
            if frames == 0 {
                continue;
            }
            report.system_frames += frames;
            report.allocations += allocations;
            report.bytes += bytes;
            report.threads.push(ThreadFrameFigures {
                thread: arena.thread,
                thread_name: arena.thread_name,
                frames,
                allocations,
                bytes,
            });
        }
        report
    }
}
