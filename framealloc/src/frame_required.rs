//! FA001 as a compile error: the trait bound that `SmartAlloc::frame_alloc`
//! and `SmartAlloc::frame_box` can never satisfy.

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
