//! The frame intent: `Frame`, the token that frame memory borrows, and its
//! methods. This file is the intent's safe face; the rest:
//!
//! | file | holds |
//! |---|---|
//! | `arena` | the per-thread bump arena, and when its memory dies (begin, end, scopes) |
//! | `chunk` | chunks from the global allocator, the shared chunk pool, growth limits |
//! | `registry` | every arena of one allocator, and how arenas pass between threads |
//! | `thread_arena` | which arena the calling thread uses (its cache and leases) |
//! | `fill` | writing values, slices and strings into fresh frame memory |
//! | `collect` | collecting any iterator, and formatted text, into a frame |
//! | `grow` | the buffer that grows in place behind `collect` |
//! | `frame_box` | `FrameBox` |
//! | `allocator_api` | `&Frame` as an allocator-api2 (and nightly) `Allocator` |
//! | `report` | `FrameReport` |
//!
//! `unsafe` appears only in the files that opt in at their top.

mod allocator_api;
mod arena;
pub(crate) mod chunk;
mod collect;
mod fill;
mod frame_box;
mod grow;
mod registry;
mod report;
mod thread_arena;

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

pub use frame_box::FrameBox;
pub use report::FrameReport;

pub(crate) use registry::FrameMemory;
pub(crate) use thread_arena::{arena_for_current_thread, current_thread_frames};

use crate::error::{AllocError, OrFail};
use arena::{Arena, FrameHold, Mark, ScopeHold};
use chunk::ArenaLimits;
use thread_arena::{ArenaRef, Tenancy};

/// An open frame on the calling thread's arena: the token every frame
/// allocation borrows.
///
/// Get one from [`SmartAlloc::begin_frame`]. Allocations return
/// [`FrameBox<'frame, T>`](FrameBox), slices, `&mut str` or raw pointers, all
/// tied to the borrow of the frame, so the compiler refuses to let frame
/// memory outlive its frame. Dropping the frame, or calling
/// [`end`](Self::end), ends it; when the outermost frame of a thread ends,
/// the thread's arena is reset in O(1) and its chunks are kept for the next
/// frame, which therefore makes no call to the global allocator.
///
/// A `Frame` is neither `Send` nor `Sync`: it stands for *this thread's*
/// arena, whose cursor only this thread moves. The boxes it hands out are
/// `Send`/`Sync` when their contents are, so scoped threads can use them.
///
/// | method | returns |
/// |---|---|
/// | [`alloc`](Self::alloc), [`alloc_with`](Self::alloc_with) | `FrameBox<T>` |
/// | [`alloc_uninit`](Self::alloc_uninit) | `FrameBox<MaybeUninit<T>>` |
/// | [`alloc_slice_copy`](Self::alloc_slice_copy), [`alloc_slice_clone`](Self::alloc_slice_clone), [`alloc_slice_fill_with`](Self::alloc_slice_fill_with), [`alloc_slice_fill_iter`](Self::alloc_slice_fill_iter) | `FrameBox<[T]>` |
/// | [`alloc_str`](Self::alloc_str), [`alloc_fmt`](Self::alloc_fmt) (and [`frame_format!`](crate::frame_format)) | `&mut str` |
/// | [`alloc_layout`](Self::alloc_layout) | `NonNull<u8>` |
/// | `&Frame` as an allocator-api2 [`Allocator`](allocator_api2::alloc::Allocator) | collections: `Vec<T, &Frame>`, hashbrown maps |
///
/// Each has a `try_` twin that returns [`AllocError`] instead of panicking.
///
/// # Example
///
/// ```
/// use allocator_api2::vec::Vec;
/// use framealloc::SmartAlloc;
///
/// let alloc = SmartAlloc::with_defaults();
/// let frame = alloc.begin_frame();
/// let mut visible = Vec::new_in(&frame);
/// visible.extend([3u32, 1, 2]);
/// visible.sort_unstable();
/// let label = frame.alloc_str("visible");
/// assert_eq!((&*label, visible.as_slice()), ("visible", &[1, 2, 3][..]));
/// ```
///
/// [`SmartAlloc::begin_frame`]: crate::SmartAlloc::begin_frame
pub struct Frame<'a> {
    /// The calling thread's arena; this field makes `Frame` `!Send + !Sync`.
    arena: ArenaRef<'a>,
    memory: &'a FrameMemory,
    kind: Kind<'a>,
}

/// What the frame holds of its arena; the arena decides what ending it
/// means.
enum Kind<'a> {
    /// From `begin_frame`: a root frame. A lent arena (`Tenancy::Lent`) goes
    /// back to its registry when this is dropped, after the frame ended.
    Root(
        #[expect(dead_code, reason = "held for its `Drop`, which gives a lent arena back")]
        Tenancy<'a>,
        FrameHold,
    ),
    /// From `scope`: a sub-scope.
    Scope(ScopeHold),
}

impl<'a> Frame<'a> {
    pub(crate) fn begin(
        arena: ArenaRef<'a>,
        memory: &'a FrameMemory,
        tenancy: Tenancy<'a>,
    ) -> Frame<'a> {
        let hold = arena.get().begin();
        Frame {
            arena,
            memory,
            kind: Kind::Root(tenancy, hold),
        }
    }

    /// Where this frame began.
    fn start(&self) -> Mark {
        match &self.kind {
            Kind::Root(_, hold) => hold.start(),
            Kind::Scope(hold) => hold.start(),
        }
    }

    #[inline(always)]
    pub(crate) fn arena(&self) -> &'a Arena {
        self.arena.get()
    }

    #[inline(always)]
    pub(crate) fn limits(&self) -> &'a ArenaLimits {
        &self.memory.limits
    }

    /// Moves `value` into frame memory.
    ///
    /// # Panics
    ///
    /// With an FA003 message when the thread's arena would pass its limit
    /// ([`AllocConfig::with_frame_arena_size`]); [`try_alloc`](Self::try_alloc)
    /// returns the error instead.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let mut hp = frame.alloc(100u32);
    /// *hp -= 30;
    /// assert_eq!(*hp, 70);
    /// ```
    ///
    /// [`AllocConfig::with_frame_arena_size`]: crate::AllocConfig::with_frame_arena_size
    #[inline(always)]
    #[track_caller]
    pub fn alloc<T>(&self, value: T) -> FrameBox<'_, T> {
        self.try_alloc(value).or_fail()
    }

    /// Moves `value` into frame memory, or returns FA003 when the arena is at
    /// its limit (the value is dropped).
    ///
    /// # Errors
    ///
    /// [`AllocError::ArenaExhausted`] (FA003), or
    /// [`AllocError::OutOfMemory`] if the global allocator refuses a chunk.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let value = frame.try_alloc(1.5f32)?;
    /// assert_eq!(*value, 1.5);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline(always)]
    pub fn try_alloc<T>(&self, value: T) -> Result<FrameBox<'_, T>, AllocError> {
        self.boxed(value)
    }

    /// Allocates room for a `T` and writes `make()` straight into it, so a
    /// large value need not pass through the stack.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit; see
    /// [`try_alloc_with`](Self::try_alloc_with).
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let grid = frame.alloc_with(|| [[0u8; 256]; 256]);
    /// assert_eq!(grid[255][255], 0);
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn alloc_with<T>(&self, make: impl FnOnce() -> T) -> FrameBox<'_, T> {
        self.try_alloc_with(make).or_fail()
    }

    /// Like [`alloc_with`](Self::alloc_with), returning the error instead of
    /// panicking. `make` is not called when allocation fails.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// assert_eq!(*frame.try_alloc_with(|| 7u8)?, 7);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline(always)]
    pub fn try_alloc_with<T>(
        &self,
        make: impl FnOnce() -> T,
    ) -> Result<FrameBox<'_, T>, AllocError> {
        self.boxed_with(make)
    }

    /// Allocates room for a `T` without initialising it; fill it with
    /// [`FrameBox::write`] or through `MaybeUninit`'s methods.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit; see
    /// [`try_alloc_uninit`](Self::try_alloc_uninit).
    ///
    /// # Example
    ///
    /// ```
    /// # #[derive(Clone, Copy)] struct Vertex { pos: [f32; 3] }
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let mut verts = frame.alloc_uninit::<[Vertex; 4096]>();
    /// let first = verts.as_mut_ptr().cast::<Vertex>();
    /// # let _ = first;
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn alloc_uninit<T>(&self) -> FrameBox<'_, MaybeUninit<T>> {
        self.try_alloc_uninit().or_fail()
    }

    /// Like [`alloc_uninit`](Self::alloc_uninit), returning the error instead
    /// of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let slot = frame.try_alloc_uninit::<u64>()?;
    /// assert_eq!(*framealloc::FrameBox::write(slot, 9), 9);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline(always)]
    pub fn try_alloc_uninit<T>(&self) -> Result<FrameBox<'_, MaybeUninit<T>>, AllocError> {
        self.boxed_uninit()
    }

    /// Copies a slice into frame memory.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let weights = frame.alloc_slice_copy(&[0.25f32, 0.75]);
    /// assert_eq!(weights.iter().sum::<f32>(), 1.0);
    /// ```
    #[track_caller]
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> FrameBox<'_, [T]> {
        self.try_alloc_slice_copy(src).or_fail()
    }

    /// Like [`alloc_slice_copy`](Self::alloc_slice_copy), returning the error
    /// instead of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// assert_eq!(frame.try_alloc_slice_copy(&[1u8, 2])?.len(), 2);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn try_alloc_slice_copy<T: Copy>(
        &self,
        src: &[T],
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        self.slice_copy(src)
    }

    /// Clones every element of a slice into frame memory.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit. If a `clone` panics, the
    /// clones made so far are dropped.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let names = frame.alloc_slice_clone(&[String::from("a"), String::from("b")]);
    /// assert_eq!(names.concat(), "ab");
    /// ```
    #[track_caller]
    pub fn alloc_slice_clone<T: Clone>(&self, src: &[T]) -> FrameBox<'_, [T]> {
        self.slice_from_iter(src.len(), src.iter().cloned())
            .or_fail()
    }

    /// Builds a slice of `len` values, `make(i)` for each index.
    ///
    /// # Panics
    ///
    /// With FA004 when `len` values of `T` overflow the address space, FA003
    /// when the arena is at its limit. If `make` panics, the values made so
    /// far are dropped.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let squares = frame.alloc_slice_fill_with(4, |i| i * i);
    /// assert_eq!(*squares, [0, 1, 4, 9]);
    /// ```
    #[track_caller]
    pub fn alloc_slice_fill_with<T>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> FrameBox<'_, [T]> {
        self.try_alloc_slice_fill_with(len, make).or_fail()
    }

    /// Like [`alloc_slice_fill_with`](Self::alloc_slice_fill_with), returning
    /// the error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`AllocError::SizeOverflow`] (FA004) when the total size overflows,
    /// otherwise as [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let err = frame.try_alloc_slice_fill_with(usize::MAX, |_| 0u64).unwrap_err();
    /// assert_eq!(err.code(), "FA004");
    /// ```
    pub fn try_alloc_slice_fill_with<T>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> Result<FrameBox<'_, [T]>, AllocError> {
        self.slice_from_iter(len, (0..len).map(make))
    }

    /// Copies a string into frame memory.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let name = frame.alloc_str("enemy");
    /// name.make_ascii_uppercase();
    /// assert_eq!(name, "ENEMY");
    /// ```
    #[track_caller]
    pub fn alloc_str(&self, src: &str) -> &mut str {
        self.try_alloc_str(src).or_fail()
    }

    /// Like [`alloc_str`](Self::alloc_str), returning the error instead of
    /// panicking.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// assert_eq!(frame.try_alloc_str("hud")?, "hud");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn try_alloc_str(&self, src: &str) -> Result<&mut str, AllocError> {
        self.str_copy(src)
    }

    /// Allocates a block for a runtime `Layout` and returns a raw pointer to
    /// it, valid until the frame ends. Reading or writing through it is the
    /// caller's `unsafe`. A zero-sized layout gives a dangling, aligned
    /// pointer.
    ///
    /// # Panics
    ///
    /// With FA003 when the arena is at its limit.
    ///
    /// # Example
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let block = frame.alloc_layout(Layout::from_size_align(256, 64).unwrap());
    /// assert_eq!(block.as_ptr() as usize % 64, 0);
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn alloc_layout(&self, layout: Layout) -> NonNull<u8> {
        self.try_alloc_layout(layout).or_fail()
    }

    /// Like [`alloc_layout`](Self::alloc_layout), returning the error instead
    /// of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// assert!(frame.try_alloc_layout(Layout::new::<[u64; 4]>()).is_ok());
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline(always)]
    pub fn try_alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.arena().alloc_layout(layout, self.limits())
    }

    /// Opens a sub-scope: a child frame whose memory is given back when it is
    /// dropped, so a loop body can use scratch memory without growing the
    /// frame.
    ///
    /// The parent is borrowed mutably, so it can neither allocate nor hand
    /// out memory while the scope is open. The scope rewinds only when nothing
    /// else could have allocated in between: when its thread had no other
    /// frame open as it began and no frame began since. Otherwise its memory
    /// simply stays until the outermost frame ends.
    ///
    /// # Example
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let mut frame = alloc.begin_frame();
    /// for pass in 0..3 {
    ///     let scratch = frame.scope();
    ///     let tmp = scratch.alloc_slice_fill_with(1000, |i| i + pass);
    ///     assert_eq!(tmp[0], pass);
    /// }
    /// // Each pass reused the same memory.
    /// assert!(frame.report().bytes_used < 2 * 8 * 1000);
    /// ```
    pub fn scope(&mut self) -> Frame<'_> {
        Frame {
            arena: self.arena,
            memory: self.memory,
            kind: Kind::Scope(self.arena().open_scope()),
        }
    }

    /// The figures of this frame so far.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// frame.alloc(0u64);
    /// assert_eq!(frame.report().allocations, 1);
    /// ```
    pub fn report(&self) -> FrameReport {
        let (now, start) = (self.arena().mark(), self.start());
        FrameReport {
            bytes_used: now.position.saturating_sub(start.position),
            peak_bytes: self.arena().high_water().saturating_sub(start.position),
            allocations: now.allocations - start.allocations,
            chunks: self.arena().chunks_in_use(),
        }
    }

    /// Ends the frame and returns its figures. Dropping the frame ends it
    /// too; `end` only adds the report.
    ///
    /// Everything allocated from the frame must be gone first (the compiler
    /// checks): `FrameBox`es run destructors, so one still in scope keeps
    /// the frame borrowed until it is dropped.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let data = frame.alloc_slice_copy(&[0u32; 16]);
    /// assert_eq!(data.len(), 16);
    /// drop(data);
    /// assert_eq!(frame.end().bytes_used, 64);
    /// ```
    pub fn end(self) -> FrameReport {
        self.report()
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Root(_, hold) => self.arena().end(hold, &self.memory.limits),
            Kind::Scope(hold) => self.arena().close_scope(hold),
        }
        // `kind` drops next: a lent arena goes back to its registry now.
    }
}

impl core::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.kind {
            Kind::Root(..) => "frame",
            Kind::Scope(_) => "scope",
        };
        f.debug_struct("Frame")
            .field("kind", &kind)
            .field("report", &self.report())
            .finish()
    }
}
