//! What a frame did.

/// The figures of one frame, from [`Frame::report`](crate::Frame::report) or
/// [`Frame::end`](crate::Frame::end).
///
/// When frames are nested on one thread, an inner frame's figures include
/// whatever the outer frame allocated while the inner one was open: both use
/// the same arena.
///
/// # Example
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// frame.alloc(1u32);
/// frame.alloc_slice_copy(&[0u8; 100]);
/// let report = frame.end();
/// assert_eq!(report.allocations, 2);
/// assert_eq!(report.bytes_used, 8 + 104); // sizes round up to 8 bytes
/// assert_eq!(report.chunks, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FrameReport {
    /// Bytes handed out since the frame began, alignment padding included.
    pub bytes_used: usize,
    /// Allocations made since the frame began.
    pub allocations: u64,
    /// Chunks of the arena in use when the report was taken.
    pub chunks: usize,
}
