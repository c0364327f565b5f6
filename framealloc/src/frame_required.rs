//! Spec-style calls that do not exist here, as compile errors that say what
//! to write instead: the trait bounds that `SmartAlloc::frame_alloc`,
//! `frame_box` (FA001), `end_frame` and `alloc` can never satisfy.

mod sealed {
    pub trait Sealed<T> {}
}

/// Implemented by no type: the bound that makes
/// [`SmartAlloc::frame_alloc`](crate::SmartAlloc::frame_alloc) and [`SmartAlloc::frame_box`](crate::SmartAlloc::frame_box) fail to compile
/// with diagnostic FA001. It is sealed: it cannot be implemented outside
/// this crate.
///
/// ```compile_fail
/// struct Mine;
/// impl framealloc::FrameRequired<Mine> for framealloc::SmartAlloc {
///     fn refuse(&self) -> ! { loop {} }
/// }
/// ```
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

/// Implemented by no type: the bound that makes
/// [`SmartAlloc::end_frame`](crate::SmartAlloc::end_frame) fail to compile
/// with a message that says how a frame ends here. Sealed.
///
/// ```compile_fail
/// struct Mine;
/// impl<'a> framealloc::FrameEndsWithItsValue for &'a framealloc::SmartAlloc {
///     fn refuse(self) -> ! { loop {} }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`SmartAlloc` has no `end_frame`: a frame ends when its `Frame` value does",
    label = "no frame to end here",
    note = "`begin_frame` returns a `Frame`; ending it is what the borrow checker watches, so frame memory cannot be used after its frame ends",
    note = "help: end the frame you opened: `frame.end();` (or `drop(frame);`, or let it go out of scope), or write `alloc.frame(|frame| {{ … }})`"
)]
pub trait FrameEndsWithItsValue: sealed::Sealed<()> {
    /// Never callable: no type implements this trait.
    fn refuse(self) -> !;
}

/// Implemented by no type: the bound that makes
/// [`SmartAlloc::alloc`](crate::SmartAlloc::alloc) fail to compile with a
/// message that names the three intents. Sealed.
///
/// ```compile_fail
/// struct Mine;
/// impl framealloc::IntentRequired<Mine> for framealloc::SmartAlloc {
///     fn refuse(&self) -> ! { loop {} }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`SmartAlloc` has no plain `alloc`: say how long the value lives",
    label = "which intent?",
    note = "framealloc allocates by intent: frame memory ends with its frame, pool and heap boxes are freed when dropped",
    note = "help: for this frame only: `let frame = alloc.begin_frame(); let value = frame.alloc(value);`; until dropped: `alloc.pool_box(value)?` (small values) or `alloc.heap_box(value)?` (large ones)"
)]
pub trait IntentRequired<T>: sealed::Sealed<T> {
    /// Never callable: no type implements this trait.
    fn refuse(&self) -> !;
}
