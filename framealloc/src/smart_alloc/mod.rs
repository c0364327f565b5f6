//! `SmartAlloc`: the handle every allocation starts from.

use std::sync::Arc;

use crate::allocators::frame::{self, arena_for_current_thread};
use crate::allocators::frame::{Frame, FrameBox};
use crate::allocators::pool::PoolState;
use crate::budget::BudgetManager;
use crate::config::AllocConfig;
use crate::frame_required::{FrameEndsWithItsValue, FrameRequired, IntentRequired};
use crate::shared::Shared;
use crate::stats::AllocStats;
use crate::stats::ThreadStats;
use crate::tag::{AllocationTag, TagGuard};

mod boxes;
mod slices;

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
/// | pool | [`pool_box`](Self::pool_box), [`pool_alloc`](Self::pool_alloc) | the [`PoolBox`](crate::PoolBox) drops, on any thread |
/// | heap | [`heap_box`](Self::heap_box), [`heap_alloc`](Self::heap_alloc) | the [`HeapBox`](crate::HeapBox) drops, on any thread |
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
        // Diagnostics read frame figures through what the frame intent
        // hands them.
        crate::diagnostics::set_frame_source(frame::current_thread_frames);
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

    /// A handle that does not keep the allocator alive, for listeners and
    /// caches that must not form a cycle with it (a budget listener that
    /// held a `SmartAlloc` clone would keep the allocator for ever).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let weak = alloc.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(alloc);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakAlloc {
        WeakAlloc {
            shared: Arc::downgrade(&self.shared),
        }
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
        let (arena, tenancy) = arena_for_current_thread(&self.shared.frames);
        Frame::begin(arena, &self.shared.frames, tenancy)
    }

    /// Opens a frame, runs `work` with it and ends it; returns what `work`
    /// returns. For code that prefers a closure to a `let frame` binding,
    /// and a way to end a frame without dropping each of its boxes first:
    /// they all die with the closure.
    ///
    /// Nothing borrowed from the frame can leave the closure (`work` must
    /// accept a frame of any lifetime), so the result is owned data.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let visible = alloc.frame(|frame| {
    ///     let kept = frame.alloc_slice_fill_iter((0..1000u32).filter(|i| i % 3 == 0));
    ///     kept.len()
    /// });
    /// assert_eq!(visible, 334);
    /// ```
    ///
    /// Frame memory cannot escape:
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let escaped = alloc.frame(|frame| frame.alloc(5u32)); // a FrameBox borrowing the frame
    /// assert_eq!(*escaped, 5);
    /// ```
    pub fn frame<R>(&self, work: impl FnOnce(&Frame<'_>) -> R) -> R {
        let frame = self.begin_frame();
        work(&frame)
    }

    /// The engine's frame counter: how many times
    /// [`advance_frame`](Self::advance_frame) was called, so while the game
    /// runs frame *n* (0-based) it reads *n*.
    ///
    /// The Bevy plugin advances it at the end of every `App::update`; a
    /// hand-written game loop calls `advance_frame` once per iteration.
    /// Allocation never reads it: each thread's arena counts its own frames
    /// ([`FrameStats`](crate::FrameStats)).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert_eq!(alloc.frame_number(), 0);
    /// for _ in 0..3 {
    ///     let frame = alloc.begin_frame();
    ///     frame.alloc(0u64);
    ///     drop(frame);
    ///     alloc.advance_frame();
    /// }
    /// assert_eq!(alloc.frame_number(), 3);
    /// ```
    pub fn frame_number(&self) -> u64 {
        self.shared
            .frame_number
            .load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Ends the engine's current frame: adds one to
    /// [`frame_number`](Self::frame_number) and returns the new number.
    /// Every clone of this allocator sees the same counter. It records the
    /// ended frame's [`MemorySnapshot`](crate::diagnostics::MemorySnapshot)
    /// and sends `FrameEnd` and `FrameBegin` to the
    /// [`diagnostics_hooks`](Self::diagnostics_hooks), with no system
    /// allocation; call it from one thread.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let clone = alloc.clone();
    /// assert_eq!(alloc.advance_frame(), 1);
    /// assert_eq!(clone.frame_number(), 1);
    /// ```
    pub fn advance_frame(&self) -> u64 {
        let ended = self
            .shared
            .frame_number
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        // The figures are read once, and only when someone reports them:
        // the hooks' snapshot and FrameEnd/FrameBegin events; Tracy's frame
        // mark and plots, the `tracing` event (features `tracy`, `tracing`).
        let observer = &self.shared.observer;
        let hooks = observer.diagnostics();
        let (to_hooks, to_profilers) = (hooks.wants_figures(), observer.reports_frame_ends());
        if to_hooks || to_profilers {
            let figures = crate::stats::frame_figures(&self.shared);
            if to_hooks {
                let budgets = &self.shared.budgets;
                hooks.frame_ended(ended, figures, |tag| budgets.usage(tag).used as u64);
            }
            if to_profilers {
                observer.frame_ended(ended, figures.snapshot);
            }
        }
        ended + 1
    }

    /// The allocator's [`DiagnosticsHooks`](crate::diagnostics::DiagnosticsHooks):
    /// the ones given to `AllocConfig::with_diagnostics_hooks`, else its own.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// alloc.diagnostics_hooks().add_listener(|event| eprintln!("{event:?}"));
    /// ```
    pub fn diagnostics_hooks(&self) -> &crate::diagnostics::DiagnosticsHooks {
        self.shared.observer.diagnostics().hooks()
    }

    /// The frame intent's arenas, for the Bevy plugin's per-frame figures.
    #[cfg(feature = "bevy")]
    pub(crate) fn frame_memory(&self) -> &frame::FrameMemory {
        &self.shared.frames
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

    /// Gives memory the allocator keeps for reuse back to the global
    /// allocator: the spare frame chunks in the shared chunk pool (chunks
    /// arenas gave back after a frame used less than the one before), the
    /// calling thread's empty pool pages, and every pool page no thread
    /// holds. Returns the number of bytes given back.
    ///
    /// Memory in use, and each arena's chunks, stay.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let boxes: Vec<_> = (0..2000).map(|i| alloc.pool_box(i as u64)).collect();
    /// drop(boxes);
    /// assert_eq!(alloc.trim(), 64 << 10); // the one page that held them
    /// assert_eq!(alloc.stats().pool_pages, 0);
    /// ```
    pub fn trim(&self) -> usize {
        PoolState::trim_current_thread(&self.shared.pools);
        self.shared.frames.release_pooled_chunks() + self.shared.pools.free_spare_pages()
    }

    /// Takes back, now, the pool slots that other threads freed from the
    /// calling thread's heap, so its free lists hold them. This otherwise
    /// happens when the thread next refills a size class. Statistics do not
    /// depend on it: a free is counted where it happens.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let boxed = alloc.pool_box(1u64)?;
    /// std::thread::spawn(move || drop(boxed)).join().unwrap();
    /// assert_eq!(alloc.stats().pool.deallocations, 1); // counted already
    /// alloc.collect_remote_frees();
    /// assert_eq!(alloc.stats().pool.deallocations, 1);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn collect_remote_frees(&self) {
        PoolState::collect_current_thread(&self.shared.pools);
    }

    /// Pool and heap figures of the calling thread's heap.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let a = alloc.pool_box(1u32)?;
    /// assert_eq!(alloc.thread_stats().pool.allocations, 1);
    /// # drop(a);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn thread_stats(&self) -> ThreadStats {
        ThreadStats::of(PoolState::current_thread_report(&self.shared.pools))
    }

    /// This allocator's groups: allocations freed together, all at once
    /// (a level's assets). See [`Groups`](crate::Groups).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let groups = alloc.groups();
    /// let level = groups.create_group("level_1");
    /// let name = level.alloc(String::from("Castle"));
    /// assert_eq!(name, "Castle");
    /// groups.free_group(level); // the `String` is dropped here
    /// ```
    pub fn groups(&self) -> &crate::Groups {
        &self.shared.groups
    }

    /// This allocator's streaming allocator: asset bytes in a budget
    /// ([`AllocConfig::with_streaming_budget`](crate::AllocConfig::with_streaming_budget)),
    /// charged to the allocator's budgets too when they are on.
    ///
    /// ```
    /// use framealloc::{StreamPriority, SmartAlloc};
    /// let alloc = SmartAlloc::with_defaults();
    /// let streaming = alloc.streaming();
    /// let id = streaming.reserve(1 << 20, StreamPriority::High)?;
    /// streaming.begin_load(id)?.finish();
    /// assert_eq!(alloc.stats().streaming.resident, 1 << 20);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn streaming(&self) -> &crate::StreamingAllocator {
        &self.shared.streaming
    }

    /// A new [`HandleAllocator`](crate::HandleAllocator) whose chunks are
    /// charged to this allocator's budgets (global, and the tag current on
    /// the calling thread now) when budgets are on.
    ///
    /// ```
    /// use framealloc::{AllocConfig, SmartAlloc};
    /// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    /// let mut handles = alloc.handle_allocator();
    /// let h = handles.alloc([0u8; 64])?;
    /// assert_eq!(alloc.budgets().global_usage().used, 64 << 10); // its first chunk
    /// alloc.budgets().set_global_limits(None, Some(64 << 10)).unwrap();
    /// let err = handles.alloc([0u8; 1 << 16]).unwrap_err(); // needs a second chunk
    /// assert_eq!(err.code(), "FA301");
    /// # drop(h);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn handle_allocator(&self) -> crate::HandleAllocator {
        let budgets = &self.shared.budgets;
        crate::HandleAllocator::with_budget(
            budgets.is_enabled().then(|| budgets.clone()),
            crate::budget::current_tag_index(),
            self.shared.observer.clone(),
        )
    }

    /// This allocator's budgets: limits, usage and events.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// alloc.budgets().set_global_limits(None, Some(64)).unwrap();
    /// let err = alloc.pool_box([0u8; 128]).unwrap_err();
    /// assert_eq!(err.code(), "FA301");
    /// ```
    pub fn budgets(&self) -> &BudgetManager {
        &self.shared.budgets
    }

    /// Runs `work` with `tag` as the calling thread's current tag, so the
    /// pool and heap allocations it makes are charged to `tag`'s budget;
    /// the previous tag is restored afterwards, even if `work` panics.
    ///
    /// ```
    /// use framealloc::{AllocationTag, SmartAlloc};
    /// let alloc = SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let physics = AllocationTag::new("physics");
    /// let body = alloc.with_tag(physics, || alloc.pool_box([0u64; 8]))?;
    /// assert_eq!(alloc.budgets().usage(physics).used, 64);
    /// drop(body);
    /// assert_eq!(alloc.budgets().usage(physics).used, 0);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn with_tag<R>(&self, tag: AllocationTag, work: impl FnOnce() -> R) -> R {
        let _guard = TagGuard::enter(tag);
        work()
    }

    /// Makes `tag` the calling thread's current tag until the returned guard
    /// drops. See [`with_tag`](Self::with_tag).
    ///
    /// ```
    /// use framealloc::{AllocationTag, SmartAlloc};
    /// let alloc = SmartAlloc::with_defaults();
    /// let _rendering = alloc.enter_tag(AllocationTag::new("rendering"));
    /// assert_eq!(AllocationTag::current().unwrap().name(), "rendering");
    /// ```
    pub fn enter_tag(&self, tag: AllocationTag) -> TagGuard {
        TagGuard::enter(tag)
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

    /// Does not compile: a frame ends when its [`Frame`] does, not through
    /// the allocator. The message says what to write.
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// alloc.end_frame(); // error[E0277]: `SmartAlloc` has no `end_frame` ...
    /// ```
    ///
    /// Write this instead:
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let scratch = frame.alloc([0u8; 64]);
    /// # drop(scratch);
    /// frame.end();
    /// ```
    pub fn end_frame<'a>(&'a self)
    where
        &'a Self: FrameEndsWithItsValue,
    {
        <&'a Self as FrameEndsWithItsValue>::refuse(self)
    }

    /// Does not compile: framealloc allocates by intent (a frame, a pool
    /// box, a heap box). The message names them.
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let value = alloc.alloc(5u64); // error[E0277]: `SmartAlloc` has no plain `alloc` ...
    /// ```
    ///
    /// Write one of these instead:
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let frame = alloc.begin_frame();
    /// let for_this_frame = frame.alloc(5u64);
    /// let until_dropped = alloc.pool_box(5u64)?;
    /// let large = alloc.heap_box([0u8; 4096])?;
    /// # drop(for_this_frame);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn alloc<T>(&self, value: T) -> FrameBox<'_, T>
    where
        Self: IntentRequired<T>,
    {
        drop(value);
        <Self as IntentRequired<T>>::refuse(self)
    }
}

/// A non-owning handle to a [`SmartAlloc`], from
/// [`SmartAlloc::downgrade`]: it does not keep the allocator alive.
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let weak = alloc.downgrade();
/// let again = weak.upgrade().expect("the allocator is alive");
/// assert_eq!(again.stats(), alloc.stats());
/// ```
#[derive(Clone, Debug)]
pub struct WeakAlloc {
    shared: std::sync::Weak<Shared>,
}

impl WeakAlloc {
    /// A `SmartAlloc` handle, if some handle to the allocator is still
    /// alive.
    ///
    /// ```
    /// let weak = framealloc::SmartAlloc::with_defaults().downgrade();
    /// assert!(weak.upgrade().is_none(), "the only handle was a temporary");
    /// ```
    pub fn upgrade(&self) -> Option<SmartAlloc> {
        self.shared.upgrade().map(|shared| SmartAlloc { shared })
    }
}

/// Test support (`framealloc::__private`, not public API): tells when an
/// allocator's pool and heap memory has been given back to the system (no
/// handle and no box left).
pub struct MemoryProbe(std::sync::Weak<PoolState>);

impl MemoryProbe {
    /// A probe of `alloc`'s pool and heap memory.
    pub fn of(alloc: &SmartAlloc) -> MemoryProbe {
        MemoryProbe(PoolState::probe(&alloc.shared.pools))
    }

    /// Whether every page and heap of the allocator has been freed.
    pub fn all_freed(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl std::fmt::Debug for SmartAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartAlloc")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
