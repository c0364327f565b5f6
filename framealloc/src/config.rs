//! Allocator configuration.

/// Settings for a [`SmartAlloc`](crate::SmartAlloc), built with `with_*`
/// methods on top of [`AllocConfig::default`].
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, SmartAlloc};
///
/// let config = AllocConfig::default()
///     .with_frame_arena_size(64 << 20)
///     .with_frame_chunk_size(256 << 10);
/// assert_eq!(config.frame_arena_size(), 64 << 20);
/// let alloc = SmartAlloc::new(config);
/// # drop(alloc);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocConfig {
    frame_arena_size: usize,
    frame_chunk_size: usize,
    pool_max_size: usize,
    budgets: bool,
    streaming_budget: usize,
    profiler_hooks: Option<crate::diagnostics::ProfilerHooks>,
    diagnostics_hooks: Option<crate::diagnostics::DiagnosticsHooks>,
    snapshot_history: usize,
}

/// The defaults, as constants:
///
/// ```
/// use framealloc::AllocConfig;
/// let config = AllocConfig::default();
/// assert_eq!(config.frame_arena_size(), AllocConfig::DEFAULT_FRAME_ARENA_SIZE);
/// assert_eq!(config.frame_chunk_size(), AllocConfig::DEFAULT_FRAME_CHUNK_SIZE);
/// assert_eq!(config.pool_max_size(), AllocConfig::DEFAULT_POOL_MAX_SIZE);
/// assert_eq!(config.with_frame_chunk_size(1).frame_chunk_size(), AllocConfig::MIN_FRAME_CHUNK_SIZE);
/// ```
impl AllocConfig {
    /// Default per-thread frame arena limit: 32 MiB.
    pub const DEFAULT_FRAME_ARENA_SIZE: usize = 32 << 20;
    /// Default size of an arena's first chunk: 64 KiB.
    pub const DEFAULT_FRAME_CHUNK_SIZE: usize = 64 << 10;
    /// The smallest chunk size accepted; smaller requests are raised to it.
    pub const MIN_FRAME_CHUNK_SIZE: usize = 1 << 10;
    /// Default (and largest) pool object size: 4 KiB.
    pub const DEFAULT_POOL_MAX_SIZE: usize = 4 << 10;
    /// Default budget of [`SmartAlloc::streaming`](crate::SmartAlloc::streaming): 256 MiB.
    pub const DEFAULT_STREAMING_BUDGET: usize = 256 << 20;
    /// Default length of the snapshot history
    /// ([`with_snapshot_history`](Self::with_snapshot_history)): 300 frames,
    /// five seconds at 60 frames a second.
    pub const DEFAULT_SNAPSHOT_HISTORY: usize = 300;

    /// Sets the budget of the allocator's streaming allocator
    /// ([`SmartAlloc::streaming`](crate::SmartAlloc::streaming)): the most
    /// asset bytes it holds before it evicts.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_streaming_budget(64 << 20);
    /// let alloc = framealloc::SmartAlloc::new(config);
    /// assert_eq!(alloc.streaming().stats().budget, 64 << 20);
    /// ```
    #[must_use]
    pub fn with_streaming_budget(mut self, bytes: usize) -> Self {
        self.streaming_budget = bytes;
        self
    }

    /// Attaches [`ProfilerHooks`](crate::diagnostics::ProfilerHooks): the
    /// allocator reports every pool, heap, group, handle and streaming
    /// allocation and free, and each frame chunk and reset, to the hooks'
    /// callback (set now or later).
    ///
    /// The choice is made here, once: an allocator built with hooks sends
    /// its pool and heap memory through the slow paths that report, one
    /// built without them keeps its fast paths untouched.
    ///
    /// ```
    /// use framealloc::diagnostics::ProfilerHooks;
    /// let hooks = ProfilerHooks::new();
    /// let config = framealloc::AllocConfig::default().with_profiler_hooks(hooks.clone());
    /// assert!(config.profiler_hooks().unwrap().same(&hooks));
    /// ```
    #[must_use]
    pub fn with_profiler_hooks(mut self, hooks: crate::diagnostics::ProfilerHooks) -> Self {
        self.profiler_hooks = Some(hooks);
        self
    }

    /// The profiler hooks attached, if any.
    ///
    /// ```
    /// assert!(framealloc::AllocConfig::default().profiler_hooks().is_none());
    /// ```
    pub fn profiler_hooks(&self) -> Option<&crate::diagnostics::ProfilerHooks> {
        self.profiler_hooks.as_ref()
    }

    /// Attaches [`DiagnosticsHooks`](crate::diagnostics::DiagnosticsHooks)
    /// (listeners added before or after), so a debug UI made before the
    /// allocator hears its frames, budget events and evictions. Without
    /// this the allocator makes its own hooks;
    /// [`SmartAlloc::diagnostics_hooks`](crate::SmartAlloc::diagnostics_hooks)
    /// reaches them either way. Building the allocator sizes (and clears)
    /// the hooks' snapshot history.
    ///
    /// ```
    /// use framealloc::diagnostics::DiagnosticsHooks;
    /// let hooks = DiagnosticsHooks::new();
    /// let config = framealloc::AllocConfig::default().with_diagnostics_hooks(hooks.clone());
    /// let alloc = framealloc::SmartAlloc::new(config);
    /// assert!(alloc.diagnostics_hooks().same(&hooks));
    /// ```
    #[must_use]
    pub fn with_diagnostics_hooks(mut self, hooks: crate::diagnostics::DiagnosticsHooks) -> Self {
        self.diagnostics_hooks = Some(hooks);
        self
    }

    /// The diagnostics hooks attached, if any.
    ///
    /// ```
    /// assert!(framealloc::AllocConfig::default().diagnostics_hooks().is_none());
    /// ```
    pub fn diagnostics_hooks(&self) -> Option<&crate::diagnostics::DiagnosticsHooks> {
        self.diagnostics_hooks.as_ref()
    }

    /// Sets how many engine frames of
    /// [`MemorySnapshot`](crate::diagnostics::MemorySnapshot)s the
    /// allocator's diagnostics hooks keep for memory graphs (each
    /// [`SmartAlloc::advance_frame`](crate::SmartAlloc::advance_frame)
    /// records one). The ring is allocated when the allocator is built: 88
    /// bytes a frame, plus 256 with budgets on (the bytes of up to 32 tags).
    /// 0 records nothing.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_snapshot_history(600);
    /// assert_eq!(config.snapshot_history(), 600);
    /// ```
    #[must_use]
    pub fn with_snapshot_history(mut self, frames: usize) -> Self {
        self.snapshot_history = frames;
        self
    }

    /// How many frames of snapshots the allocator keeps.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default();
    /// assert_eq!(config.snapshot_history(), framealloc::AllocConfig::DEFAULT_SNAPSHOT_HISTORY);
    /// ```
    pub fn snapshot_history(&self) -> usize {
        self.snapshot_history
    }

    /// The streaming budget in force.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default();
    /// assert_eq!(config.streaming_budget(), framealloc::AllocConfig::DEFAULT_STREAMING_BUDGET);
    /// ```
    pub fn streaming_budget(&self) -> usize {
        self.streaming_budget
    }

    /// Sets the largest object the pool intent serves from its size classes
    /// (8 bytes to 4 KiB). Larger objects, and objects aligned more than
    /// their size class can honour, go to the heap intent and are counted
    /// there. Values above 4 KiB are lowered to it; 0 sends every
    /// `pool_box` to the heap.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_pool_max_size(256);
    /// assert_eq!(config.pool_max_size(), 256);
    /// ```
    #[must_use]
    pub fn with_pool_max_size(mut self, bytes: usize) -> Self {
        self.pool_max_size = bytes.min(Self::DEFAULT_POOL_MAX_SIZE);
        self
    }

    /// Turns memory budgets on or off (off by default). With budgets off the
    /// allocation paths skip the [`BudgetManager`](crate::BudgetManager)
    /// entirely; with them on, every pool slot, heap block and frame chunk
    /// is metered with atomic counters, every allocation and free takes the
    /// slower, charging path, and each pool page gives one byte per slot to
    /// remember the tag the slot is charged to (each heap block: a 4- or
    /// 8-byte header).
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_budgets(true);
    /// assert!(config.budgets_enabled());
    /// ```
    #[must_use]
    pub fn with_budgets(mut self, enabled: bool) -> Self {
        self.budgets = enabled;
        self
    }

    /// Whether budgets are metered.
    ///
    /// ```
    /// assert!(!framealloc::AllocConfig::default().budgets_enabled());
    /// ```
    pub fn budgets_enabled(&self) -> bool {
        self.budgets
    }

    /// The largest object size the pool intent serves.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default();
    /// assert_eq!(config.pool_max_size(), 4096);
    /// ```
    pub fn pool_max_size(&self) -> usize {
        self.pool_max_size
    }

    /// Sets how many bytes of chunks one thread's frame arena may hold.
    /// Allocations past it fail with FA003 ([`AllocError::ArenaExhausted`]):
    /// an `Err` from `try_*` methods, a panic from the others. Zero is
    /// accepted and makes every non-empty frame allocation fail.
    ///
    /// [`AllocError::ArenaExhausted`]: crate::AllocError::ArenaExhausted
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_frame_arena_size(1 << 20);
    /// assert_eq!(config.frame_arena_size(), 1 << 20);
    /// ```
    #[must_use]
    pub fn with_frame_arena_size(mut self, bytes: usize) -> Self {
        self.frame_arena_size = bytes;
        self
    }

    /// Sets the size of a frame arena's first chunk. Later chunks grow with
    /// the arena (each about as large as all before it, up to 16 MiB, or as
    /// large as one allocation needs). Values below
    /// [`MIN_FRAME_CHUNK_SIZE`](Self::MIN_FRAME_CHUNK_SIZE) are raised to it.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default().with_frame_chunk_size(0);
    /// assert_eq!(config.frame_chunk_size(), framealloc::AllocConfig::MIN_FRAME_CHUNK_SIZE);
    /// ```
    #[must_use]
    pub fn with_frame_chunk_size(mut self, bytes: usize) -> Self {
        self.frame_chunk_size = bytes.max(Self::MIN_FRAME_CHUNK_SIZE);
        self
    }

    /// The per-thread frame arena limit in bytes.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default();
    /// assert_eq!(config.frame_arena_size(), framealloc::AllocConfig::DEFAULT_FRAME_ARENA_SIZE);
    /// ```
    pub fn frame_arena_size(&self) -> usize {
        self.frame_arena_size
    }

    /// The size of a frame arena's first chunk in bytes.
    ///
    /// ```
    /// let config = framealloc::AllocConfig::default();
    /// assert_eq!(config.frame_chunk_size(), framealloc::AllocConfig::DEFAULT_FRAME_CHUNK_SIZE);
    /// ```
    pub fn frame_chunk_size(&self) -> usize {
        self.frame_chunk_size
    }
}

impl Default for AllocConfig {
    fn default() -> Self {
        AllocConfig {
            frame_arena_size: Self::DEFAULT_FRAME_ARENA_SIZE,
            frame_chunk_size: Self::DEFAULT_FRAME_CHUNK_SIZE,
            pool_max_size: Self::DEFAULT_POOL_MAX_SIZE,
            budgets: false,
            streaming_budget: Self::DEFAULT_STREAMING_BUDGET,
            profiler_hooks: None,
            diagnostics_hooks: None,
            snapshot_history: Self::DEFAULT_SNAPSHOT_HISTORY,
        }
    }
}
