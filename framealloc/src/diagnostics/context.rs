//! `DiagContext`: where a diagnostic happened.

use core::sync::atomic::{AtomicBool, Ordering};
use std::fmt;
use std::sync::OnceLock;
use std::thread::{self, ThreadId};

static BEVY_CONTEXT: AtomicBool = AtomicBool::new(false);

/// What the frame intent tells diagnostics about the calling thread's
/// frames, across every allocator the thread holds an arena of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ThreadFrames {
    /// Outermost frames ended on the thread's arenas.
    pub(crate) ended: u64,
    /// Whether a frame is open on any of them.
    pub(crate) open: bool,
}

/// Where diagnostics read [`ThreadFrames`]: handed over by the allocator
/// handle the first time one is made (diagnostics do not reach into the
/// frame intent).
static FRAME_SOURCE: OnceLock<fn() -> ThreadFrames> = OnceLock::new();

/// Records where diagnostics read the calling thread's frame figures.
pub(crate) fn set_frame_source(source: fn() -> ThreadFrames) {
    let _ = FRAME_SOURCE.set(source);
}

/// The calling thread's frame figures, or none before any allocator exists.
fn current_thread_frames() -> ThreadFrames {
    FRAME_SOURCE
        .get()
        .map_or_else(ThreadFrames::default, |source| source())
}

/// Marks the process as a Bevy app (or not), for [`DiagContext::bevy`].
/// The Bevy plugin sets it; other engines may too.
///
/// ```
/// use framealloc::diagnostics::{DiagContext, set_bevy_context};
///
/// set_bevy_context(true);
/// assert!(DiagContext::capture().bevy);
/// set_bevy_context(false);
/// ```
pub fn set_bevy_context(active: bool) {
    BEVY_CONTEXT.store(active, Ordering::Relaxed);
}

/// Whether [`set_bevy_context`] last set `true`.
///
/// ```
/// assert!(!framealloc::diagnostics::bevy_context());
/// ```
pub fn bevy_context() -> bool {
    BEVY_CONTEXT.load(Ordering::Relaxed)
}

/// The calling thread's situation when a diagnostic was raised.
///
/// Frame figures cover the frame arenas this thread holds, across every
/// `SmartAlloc` it has opened frames on. An arena handed over from a thread
/// that exited keeps its count, so `frame_number` counts the arena's frames,
/// not only this thread's.
///
/// *Main thread* means the thread Rust named `"main"`: the thread that runs
/// `fn main`. (A test harness runs each test on a thread named after the
/// test, so inside `#[test]` functions `is_main_thread` is usually `false`.)
///
/// # Example
///
/// ```
/// use framealloc::SmartAlloc;
/// use framealloc::diagnostics::DiagContext;
///
/// let alloc = SmartAlloc::with_defaults();
/// alloc.begin_frame().end();
/// let frame = alloc.begin_frame();
/// let ctx = DiagContext::capture();
/// assert!(ctx.frame_active);
/// assert_eq!(ctx.frame_number, 1, "one frame ended before this one");
/// assert_eq!(ctx.thread_id, std::thread::current().id());
/// println!("Frame: {}, Thread: {:?}", ctx.frame_number, ctx.thread_id);
/// # drop(frame);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiagContext {
    /// Outermost frames ended on this thread's arenas: while a frame is open,
    /// the 0-based number of that frame.
    pub frame_number: u64,
    /// Whether a frame is open on this thread.
    pub frame_active: bool,
    /// The calling thread.
    pub thread_id: ThreadId,
    /// Its name, if it has one.
    pub thread_name: Option<String>,
    /// Whether it is the thread named `"main"`.
    pub is_main_thread: bool,
    /// Whether [`set_bevy_context`] was set.
    pub bevy: bool,
}

impl DiagContext {
    /// Captures the calling thread's context. Works during thread teardown
    /// too (the frame fields then read as no frame).
    ///
    /// ```
    /// let ctx = framealloc::diagnostics::DiagContext::capture();
    /// assert!(!ctx.frame_active);
    /// assert_eq!(ctx.thread_name.as_deref(), std::thread::current().name());
    /// ```
    pub fn capture() -> DiagContext {
        let frames = current_thread_frames();
        let thread = thread::current();
        let thread_name = thread.name().map(str::to_owned);
        DiagContext {
            frame_number: frames.ended,
            frame_active: frames.open,
            thread_id: thread.id(),
            is_main_thread: thread_name.as_deref() == Some("main"),
            thread_name,
            bevy: bevy_context(),
        }
    }
}

impl fmt::Display for DiagContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.thread_name {
            Some(name) => write!(f, "thread \"{name}\" ({:?})", self.thread_id)?,
            None => write!(f, "thread {:?}", self.thread_id)?,
        }
        if self.is_main_thread {
            f.write_str(", main thread")?;
        }
        write!(
            f,
            ", frame {} ({}), bevy: {}",
            self.frame_number,
            if self.frame_active {
                "active"
            } else {
                "none active"
            },
            if self.bevy { "yes" } else { "no" }
        )
    }
}
