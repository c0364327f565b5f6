//! `SmartAlloc`: the handle every allocation starts from.

use std::sync::Arc;

use crate::allocators::thread_arena::arena_for_current_thread;
use crate::config::AllocConfig;
use crate::frame::{Frame, FrameBox};
use crate::shared::Shared;
use crate::stats::AllocStats;

/// A handle to one allocator: its frame arenas (one per thread), and the
/// state they share.
///
/// Cloning is cheap (one reference count) and every clone refers to the same
/// allocator, so a game keeps one and hands clones to its threads.
/// `SmartAlloc` is `Send + Sync`.
///
/// | intent | how | memory lives until |
/// |---|---|---|
/// | frame | [`begin_frame`](Self::begin_frame), then [`Frame::alloc`] and friends | the frame ends |
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, SmartAlloc};
///
/// let alloc = SmartAlloc::new(AllocConfig::default());
/// for _ in 0..3 {
///     let frame = alloc.begin_frame();
///     let positions = frame.alloc_slice_fill_with(1024, |i| i as f32);
///     assert_eq!(positions[10], 10.0);
///     drop(positions); // everything from the frame goes before the frame
///     let report = frame.end();
///     assert_eq!(report.allocations, 1);
/// }
/// ```
#[derive(Clone)]
pub struct SmartAlloc {
    shared: Arc<Shared>,
}

impl SmartAlloc {
    /// Creates an allocator with `config`. No memory is reserved until a
    /// thread opens its first frame.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default());
    /// assert_eq!(alloc.stats().frame.arenas, 0);
    /// ```
    pub fn new(config: AllocConfig) -> SmartAlloc {
        SmartAlloc {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// Creates an allocator with [`AllocConfig::default`].
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// # drop(alloc);
    /// ```
    pub fn with_defaults() -> SmartAlloc {
        SmartAlloc::new(AllocConfig::default())
    }

    /// The configuration this allocator was created with.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert_eq!(alloc.config(), &framealloc::AllocConfig::default());
    /// ```
    pub fn config(&self) -> &AllocConfig {
        &self.shared.config
    }

    /// Opens a frame on the calling thread's arena.
    ///
    /// Everything allocated from the returned [`Frame`] borrows it, so the
    /// compiler stops any of it from being used after the frame ends. The
    /// frame ends when it is dropped or [`end`](Frame::end)ed; when the
    /// outermost frame on this thread ends, the arena is reset in O(1).
    ///
    /// The thread's arena is found once here; allocations through the frame
    /// then touch no thread-local storage, atomics or locks. Opening a second
    /// frame while one is open on this thread is allowed (the arena resets
    /// when the last one ends), which is what happens when a Bevy worker runs
    /// two frame systems one inside the other.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let scratch = frame.alloc([0u32; 64]);
    /// assert_eq!(scratch.len(), 64);
    /// ```
    #[must_use = "the frame ends as soon as this value is dropped: bind it with `let frame = alloc.begin_frame();`"]
    pub fn begin_frame(&self) -> Frame<'_> {
        let (arena, tenancy) = arena_for_current_thread(&self.shared);
        Frame::begin(arena, &self.shared.frames, tenancy)
    }

    /// A snapshot of this allocator's figures, across all threads.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// alloc.begin_frame().end();
    /// assert_eq!(alloc.stats().frame.frames_completed, 1);
    /// ```
    pub fn stats(&self) -> AllocStats {
        AllocStats::collect(&self.shared)
    }

    /// Frees the spare chunks in the shared chunk pool (chunks that arenas
    /// gave back after a frame used less than the one before). Returns the
    /// number of bytes given back to the global allocator.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert_eq!(alloc.trim(), 0);
    /// ```
    pub fn trim(&self) -> usize {
        self.shared.frames.limits.pool.release_all()
    }

    /// Does not compile: frame memory comes from a [`Frame`], never from the
    /// allocator itself (diagnostic FA001).
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let value = alloc.frame_alloc::<u64>(); // error[E0277]: [FA001] ...
    /// ```
    ///
    /// Write this instead:
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let value = frame.alloc(0u64);
    /// # drop(value);
    /// ```
    pub fn frame_alloc<T>(&self) -> FrameBox<'_, T>
    where
        Self: FrameRequired<T>,
    {
        <Self as FrameRequired<T>>::refuse(self)
    }

    /// Does not compile: frame memory comes from a [`Frame`], never from the
    /// allocator itself (diagnostic FA001). Use `alloc.begin_frame()` and
    /// [`Frame::alloc`].
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let value = alloc.frame_box(5u64); // error[E0277]: [FA001] ...
    /// ```
    pub fn frame_box<T>(&self, value: T) -> FrameBox<'_, T>
    where
        Self: FrameRequired<T>,
    {
        drop(value);
        <Self as FrameRequired<T>>::refuse(self)
    }
}

mod sealed {
    pub trait Sealed<T> {}
}

/// Implemented by no type: the bound that makes
/// [`SmartAlloc::frame_alloc`] and [`SmartAlloc::frame_box`] fail to compile
/// with diagnostic FA001.
#[diagnostic::on_unimplemented(
    message = "[FA001] frame allocation outside a frame: `SmartAlloc` cannot allocate frame memory itself",
    label = "no `Frame` here",
    note = "frame memory borrows the `Frame` that `begin_frame` returns, so the compiler can prove it is never used after the frame ends",
    note = "help: open a frame and allocate from it: `let frame = alloc.begin_frame(); let value = frame.alloc(value);`"
)]
pub trait FrameRequired<T>: sealed::Sealed<T> {
    /// Never callable: no type implements this trait.
    fn refuse(&self) -> !;
}

impl std::fmt::Debug for SmartAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartAlloc")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
