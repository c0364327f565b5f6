//! `Frame` methods that collect what has no length known in advance: any
//! iterator (a `filter` that culls), and formatted text (`frame_format!`).
//! The growing itself is in `grow`.

use super::Frame;
use super::frame_box::FrameBox;
use crate::error::{AllocError, fail};

impl Frame<'_> {
    /// Collects an iterator into a frame slice. Any iterator works: when its
    /// size hint is exact the slice is allocated once; otherwise (a
    /// `filter`, say) it starts at the hint's lower bound and grows.
    ///
    /// Growing happens in place while the slice is the frame's most recent
    /// allocation, so collecting costs no more memory than its result. When
    /// the iterator itself allocates from the frame, the slice moves to a
    /// larger block instead, and the bytes of the block it leaves stay
    /// unused until the frame ends (a frame never frees in the middle).
    /// Unused room at the end goes back to the frame when it can.
    ///
    /// # Panics
    ///
    /// With FA004 or FA003, as [`alloc_slice_fill_with`](Self::alloc_slice_fill_with).
    /// If the iterator panics, the values collected so far are dropped.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let evens = frame.alloc_slice_fill_iter((0..5).map(|i| i * 2));
    /// assert_eq!(*evens, [0, 2, 4, 6, 8]);
    ///
    /// // Culling: the length is not known until the filter has run.
    /// let visible = frame.alloc_slice_fill_iter((0..100u32).filter(|i| i % 10 == 0));
    /// assert_eq!(visible.len(), 10);
    /// assert_eq!(frame.report().bytes_used, 24 + 40); // 20 bytes round up to 24
    /// ```
    #[track_caller]
    pub fn alloc_slice_fill_iter<T, I>(&self, items: I) -> FrameBox<'_, [T]>
    where
        I: IntoIterator<Item = T>,
    {
        match self.slice_from_any_iter(items) {
            Ok(slice) => slice,
            Err(error) => fail(error),
        }
    }

    /// Like [`alloc_slice_fill_iter`](Self::alloc_slice_fill_iter), returning
    /// the error instead of panicking. The values collected before the
    /// arena refused are dropped.
    ///
    /// # Errors
    ///
    /// [`AllocError::SizeOverflow`] (FA004) when the total size overflows,
    /// otherwise as [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let words = frame.try_alloc_slice_fill_iter("a bb ccc".split(' '))?;
    /// assert_eq!(*words, ["a", "bb", "ccc"]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn try_alloc_slice_fill_iter<T, I>(&self, items: I) -> Result<FrameBox<'_, [T]>, AllocError>
    where
        I: IntoIterator<Item = T>,
    {
        self.slice_from_any_iter(items)
    }

    /// Formats `args` straight into frame memory: the frame's `format!`.
    /// [`frame_format!`](crate::frame_format) writes the `format_args!` for
    /// you.
    ///
    /// The text grows in place as it is written, so the result costs its
    /// length rounded up to 8 bytes. (If a `Display` implementation
    /// allocates from this frame while it writes, the text moves to a larger
    /// block and the old one stays unused until the frame ends.)
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit; and, as `format!`, when a
    /// formatting implementation returns an error of its own.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let (hp, name) = (70, "ogre");
    /// let label = frame.alloc_fmt(format_args!("{name}: {hp} HP"));
    /// assert_eq!(label, "ogre: 70 HP");
    /// assert_eq!(frame.report().bytes_used, 16);
    /// ```
    #[track_caller]
    pub fn alloc_fmt(&self, args: core::fmt::Arguments<'_>) -> &mut str {
        match self.fmt_into(args) {
            Ok(text) => text,
            Err(error) => fail(error),
        }
    }

    /// Like [`alloc_fmt`](Self::alloc_fmt), returning the error instead of
    /// panicking when the arena refuses.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// # Panics
    ///
    /// As `format!`, when a formatting implementation returns an error of
    /// its own.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// assert_eq!(frame.try_alloc_fmt(format_args!("{:>4}", 7))?, "   7");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn try_alloc_fmt(&self, args: core::fmt::Arguments<'_>) -> Result<&mut str, AllocError> {
        self.fmt_into(args)
    }
}

/// `format!` into a frame: `frame_format!(frame, "{} {}", a, b)` is
/// [`frame.alloc_fmt(format_args!("{} {}", a, b))`](crate::Frame::alloc_fmt),
/// a `&mut str` that lives as long as the frame.
///
/// `frame` may be a `Frame` or a `&Frame`. It panics with FA003 when the
/// arena is at its limit; call [`Frame::try_alloc_fmt`](crate::Frame::try_alloc_fmt)
/// to handle that instead.
///
/// # Example
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// let score = 1250;
/// let text = framealloc::frame_format!(frame, "score {score:06}");
/// assert_eq!(text, "score 001250");
/// ```
#[macro_export]
macro_rules! frame_format {
    ($frame:expr, $($arg:tt)+) => {
        ($frame).alloc_fmt(::core::format_args!($($arg)+))
    };
}

/// The engine integration guide's examples (`docs/engine_integration.md`),
/// compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/engine_integration.md")]
pub struct EngineGuideDoctests;
