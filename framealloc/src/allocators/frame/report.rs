//! What a frame did.

/// The figures of one frame (or scope), from [`Frame::report`](crate::Frame::report) or
/// [`Frame::end`](crate::Frame::end).
///
/// Two byte figures, because a [scope](crate::Frame::scope) gives its memory
/// back when it closes:
///
/// - [`bytes_used`](FrameReport::bytes_used) is *net*: the bytes the frame
///   holds when the report is taken. What a closed scope gave back is not
///   in it.
/// - [`peak_bytes`](FrameReport::peak_bytes) is the *peak*: the most bytes
///   the frame held at once, scopes' memory included. Size arenas and
///   budgets from this one.
///
/// When root frames are nested on one thread, an inner frame's figures
/// include whatever the outer frame allocated while the inner one was open:
/// both use the same arena.
///
/// # Example
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let mut frame = alloc.begin_frame();
/// frame.alloc(1u32);
/// {
///     let scratch = frame.scope();
///     scratch.alloc_slice_copy(&[0u8; 4096]); // given back when the scope closes
/// }
/// frame.alloc_slice_copy(&[0u8; 100]);
/// let report = frame.end();
/// assert_eq!(report.allocations, 3);
/// assert_eq!(report.bytes_used, 8 + 104); // sizes round up to 8 bytes
/// assert_eq!(report.peak_bytes, 8 + 4096); // while the scope was open
/// assert_eq!(report.chunks, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FrameReport {
    /// Net bytes: what the frame holds when the report is taken, alignment
    /// padding included; memory that closed scopes gave back is not counted.
    pub bytes_used: usize,
    /// Peak bytes: the most the frame held at once since it began, scopes'
    /// memory included (at least `bytes_used`).
    pub peak_bytes: usize,
    /// Allocations made since the frame began, those of closed scopes
    /// included.
    pub allocations: u64,
    /// Chunks of the arena in use when the report was taken.
    pub chunks: usize,
}
