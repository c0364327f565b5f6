//! `DiagnosticsHooks`: events for a debug UI (frame boundaries with the
//! frame's figures, memory pressure, budget events, evictions, every
//! diagnostic) and the snapshot history behind its memory graphs.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crate::allocators::sync::{Mutex, RwLock, StaticMutex, lock, lock_static, read, write};

use super::diagnostic::Diagnostic;
use super::history::{History, MemoryGraphData, MemorySnapshot};
use super::run_hook;
use crate::{AllocationTag, BudgetEvent};

/// What a [`DiagnosticsHooks`] listener receives.
///
/// # When each event comes
///
/// - `FrameEnd` then `FrameBegin`: from
///   [`SmartAlloc::advance_frame`](crate::SmartAlloc::advance_frame) (the
///   Bevy plugin calls it at the end of every `App::update`; a hand-written
///   loop calls it once per iteration). `FrameEnd { frame_number: n, .. }`
///   closes engine frame *n* with its figures, then any `MemoryPressure`
///   found at that moment, then `FrameBegin { frame_number: n + 1 }`.
/// - `MemoryPressure`: at a `FrameEnd`, once for each of these that holds:
///   budgets are on and the global budget has a soft or hard limit, and the
///   bytes in use are at or above 90% of the lower of the two (`current` is
///   the bytes in use, `limit` that limit); the streaming allocator had to
///   evict during the frame (`current` is its bytes in use, `limit` its
///   budget). It is checked once per frame, not per allocation, so a burst
///   of a hundred evictions is one event, and nothing is added to the
///   allocation paths.
/// - `Budget`: every [`BudgetEvent`] of the allocator, as it happens (so
///   only with budgets on).
/// - `Eviction`: every streamed asset the allocator's streaming allocator
///   evicts to make room or on request, as it happens.
/// - `Diagnostic`: every diagnostic emitted while the hooks have a
///   listener, from any thread and any allocator (diagnostics belong to the
///   process, not to one allocator), as it is emitted.
///
/// ```
/// use framealloc::diagnostics::DiagnosticsEvent;
/// let event = DiagnosticsEvent::FrameBegin { frame_number: 3 };
/// assert!(matches!(event, DiagnosticsEvent::FrameBegin { frame_number: 3 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagnosticsEvent {
    /// Engine frame `frame_number` begins.
    FrameBegin {
        /// [`SmartAlloc::frame_number`](crate::SmartAlloc::frame_number) from now on.
        frame_number: u64,
    },
    /// Engine frame `frame_number` ended; `snapshot` holds its figures (and
    /// is the one the history records).
    FrameEnd {
        /// The frame that ended.
        frame_number: u64,
        /// The allocator's figures at its end.
        snapshot: MemorySnapshot,
    },
    /// Memory is close to a limit: see the enum's docs for the two sources.
    MemoryPressure {
        /// Bytes in use.
        current: usize,
        /// The limit they approach (or reached).
        limit: usize,
    },
    /// A budget event of the allocator.
    Budget(BudgetEvent),
    /// A streamed asset was evicted.
    Eviction {
        /// The asset, as one number: its [`StreamId`](crate::StreamId)'s
        /// generation in the high 32 bits, its slot in the low ones (so
        /// two evictions of one slot show different ids).
        id: u64,
        /// The bytes given back.
        bytes: usize,
    },
    /// A diagnostic was emitted (on any thread).
    Diagnostic(Diagnostic),
}

/// Names a listener added with [`DiagnosticsHooks::add_listener`], for
/// [`DiagnosticsHooks::remove_listener`].
///
/// ```
/// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
/// let first = hooks.add_listener(|_| {});
/// assert_ne!(first, hooks.add_listener(|_| {}));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookId(u64);

type Listener = Arc<dyn Fn(&DiagnosticsEvent) + Send + Sync>;

struct Inner {
    /// Replaced whole on every change, so a dispatch takes the list with
    /// one reference count (no allocation) and runs it with no lock held.
    listeners: RwLock<Arc<[(HookId, Listener)]>>,
    has_listeners: AtomicBool,
    next_id: AtomicU64,
    history: Mutex<History>,
    /// The history's capacity, read without its lock at every frame end.
    capacity: AtomicUsize,
}

/// Hooks for a debug UI: listeners for [`DiagnosticsEvent`]s, and a
/// history of per-frame [`MemorySnapshot`]s for memory graphs.
///
/// Every [`SmartAlloc`](crate::SmartAlloc) has one:
/// [`SmartAlloc::diagnostics_hooks`](crate::SmartAlloc::diagnostics_hooks)
/// reaches it. It is the one attached with
/// [`AllocConfig::with_diagnostics_hooks`](crate::AllocConfig::with_diagnostics_hooks),
/// or one the allocator made. `DiagnosticsHooks` is a handle: clones share
/// listeners and history.
///
/// # The history
///
/// Each [`advance_frame`](crate::SmartAlloc::advance_frame) records the
/// frame's snapshot in a ring of
/// [`AllocConfig::with_snapshot_history`](crate::AllocConfig::with_snapshot_history)
/// frames (300 by default), allocated when the allocator is built;
/// recording and the events with their snapshots make no system
/// allocation. [`get_memory_graph_data`](Self::get_memory_graph_data)
/// turns the last frames into series for a plot. Hooks not attached to an
/// allocator keep no history; attaching sizes (and clears) it, so attach
/// one hooks object to one allocator.
///
/// # Listeners
///
/// A listener runs on the thread that raised the event, with no lock of
/// the allocator held, so it may allocate and read statistics. Events
/// raised while a listener runs on that thread (it allocates, or calls
/// `advance_frame`) are not fed back to the listeners. A listener that
/// panics is caught and reported as FA303. A listener that needs the
/// allocator should capture a [`WeakAlloc`](crate::WeakAlloc): a
/// `SmartAlloc` clone would keep the allocator alive for ever.
///
/// # Example
///
/// ```
/// use framealloc::diagnostics::{DiagnosticsEvent, DiagnosticsHooks};
/// use framealloc::{AllocConfig, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let hooks = DiagnosticsHooks::new();
/// let frames = Arc::new(Mutex::new(Vec::new()));
/// let seen = frames.clone();
/// hooks.add_listener(move |event| match event {
///     DiagnosticsEvent::FrameBegin { frame_number } => seen.lock().unwrap().push(*frame_number),
///     DiagnosticsEvent::MemoryPressure { current, limit } => eprintln!("{current} of {limit} bytes"),
///     _ => {}
/// });
/// let alloc = SmartAlloc::new(AllocConfig::default().with_diagnostics_hooks(hooks.clone()));
/// for _ in 0..3 {
///     let frame = alloc.begin_frame();
///     frame.alloc([0u8; 64]);
///     frame.end();
///     alloc.advance_frame();
/// }
/// assert_eq!(*frames.lock().unwrap(), [1, 2, 3]);
/// let graph = hooks.get_memory_graph_data(100);
/// assert_eq!(graph.frame_numbers, [0, 1, 2]);
/// assert_eq!(graph.series[0], ("frame", vec![64.0, 64.0, 64.0]));
/// ```
#[derive(Clone)]
pub struct DiagnosticsHooks {
    inner: Arc<Inner>,
}

impl Default for DiagnosticsHooks {
    fn default() -> DiagnosticsHooks {
        DiagnosticsHooks {
            inner: Arc::new(Inner {
                listeners: RwLock::new(Arc::new([])),
                has_listeners: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                history: Mutex::new(History::new(0, false)),
                capacity: AtomicUsize::new(0),
            }),
        }
    }
}

impl DiagnosticsHooks {
    /// Hooks with no listener and no history (attaching them to an
    /// allocator gives them one).
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
    /// assert!(!hooks.has_listeners());
    /// assert_eq!(hooks.history_capacity(), 0);
    /// ```
    pub fn new() -> DiagnosticsHooks {
        DiagnosticsHooks::default()
    }

    /// Adds a listener for every event from now on; returns its id for
    /// [`remove_listener`](Self::remove_listener).
    ///
    /// ```
    /// use framealloc::diagnostics::DiagnosticsEvent;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let ended = Arc::new(AtomicU64::new(0));
    /// let count = ended.clone();
    /// alloc.diagnostics_hooks().add_listener(move |event| {
    ///     if let DiagnosticsEvent::FrameEnd { .. } = event {
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// });
    /// alloc.advance_frame();
    /// assert_eq!(ended.load(Ordering::Relaxed), 1);
    /// ```
    pub fn add_listener(
        &self,
        listener: impl Fn(&DiagnosticsEvent) + Send + Sync + 'static,
    ) -> HookId {
        let id = HookId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let mut listeners = write(&self.inner.listeners);
        let mut list = listeners.to_vec();
        list.push((id, Arc::new(listener)));
        *listeners = list.into();
        if !self.inner.has_listeners.swap(true, Ordering::AcqRel) {
            watch_diagnostics(&self.inner);
        }
        id
    }

    /// Removes listener `id`; returns whether it was there. An event being
    /// delivered on another thread right now may still reach it once.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
    /// let id = hooks.add_listener(|_| {});
    /// assert!(hooks.remove_listener(id));
    /// assert!(!hooks.remove_listener(id));
    /// assert!(!hooks.has_listeners());
    /// ```
    pub fn remove_listener(&self, id: HookId) -> bool {
        let removed = {
            let mut listeners = write(&self.inner.listeners);
            let Some(index) = listeners.iter().position(|(each, _)| *each == id) else {
                return false;
            };
            let mut list = listeners.to_vec();
            let removed = list.remove(index);
            *listeners = list.into();
            if listeners.is_empty() {
                self.inner.has_listeners.store(false, Ordering::Release);
                unwatch_diagnostics(&self.inner);
            }
            removed
        };
        // Dropped with no lock held: the listener may own allocator handles.
        drop(removed);
        true
    }

    /// Whether a listener is registered.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
    /// hooks.add_listener(|_| {});
    /// assert!(hooks.has_listeners());
    /// ```
    pub fn has_listeners(&self) -> bool {
        self.inner.has_listeners.load(Ordering::Acquire)
    }

    /// The last `n` frames of the snapshot history (fewer if fewer were
    /// recorded), as time series per intent and per tag.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let level = alloc.heap_box([0u8; 8000])?;
    /// alloc.advance_frame();
    /// drop(level);
    /// alloc.advance_frame();
    /// let graph = alloc.diagnostics_hooks().get_memory_graph_data(100);
    /// assert_eq!(graph.len(), 2);
    /// assert_eq!(graph.series[2], ("heap", vec![8000.0, 0.0]));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn get_memory_graph_data(&self, n: usize) -> MemoryGraphData {
        lock(&self.inner.history).graph(n)
    }

    /// The newest snapshot of the history.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert_eq!(alloc.diagnostics_hooks().last_snapshot(), None);
    /// alloc.advance_frame();
    /// assert_eq!(alloc.diagnostics_hooks().last_snapshot().unwrap().frame_number, 0);
    /// ```
    pub fn last_snapshot(&self) -> Option<MemorySnapshot> {
        lock(&self.inner.history).last()
    }

    /// How many frames the history keeps.
    ///
    /// ```
    /// use framealloc::{AllocConfig, SmartAlloc};
    /// let alloc = SmartAlloc::new(AllocConfig::default().with_snapshot_history(60));
    /// assert_eq!(alloc.diagnostics_hooks().history_capacity(), 60);
    /// ```
    pub fn history_capacity(&self) -> usize {
        self.inner.capacity.load(Ordering::Relaxed)
    }

    /// How many frames the history holds now (at most its capacity).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// alloc.advance_frame();
    /// assert_eq!(alloc.diagnostics_hooks().history_len(), 1);
    /// ```
    pub fn history_len(&self) -> usize {
        lock(&self.inner.history).len()
    }

    /// Whether `self` and `other` are the same hooks (clones of one).
    ///
    /// ```
    /// use framealloc::diagnostics::DiagnosticsHooks;
    /// let hooks = DiagnosticsHooks::new();
    /// assert!(hooks.same(&hooks.clone()));
    /// assert!(!hooks.same(&DiagnosticsHooks::new()));
    /// ```
    pub fn same(&self, other: &DiagnosticsHooks) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Hands `event` to every listener (none while this thread is inside a
    /// hook already).
    fn dispatch(&self, event: &DiagnosticsEvent) {
        if !self.has_listeners() {
            return;
        }
        let listeners = read(&self.inner.listeners).clone();
        for (_, listener) in listeners.iter() {
            run_hook(
                "a diagnostics listener (`DiagnosticsHooks::add_listener`)",
                || listener(event),
            );
        }
    }

    /// Forwards a budget event of the allocator the hooks belong to (the
    /// allocator registers this as a budget listener).
    pub(crate) fn forward_budget(&self, event: &BudgetEvent) {
        self.dispatch(&DiagnosticsEvent::Budget(*event));
    }

    /// Sizes (and clears) the history for an allocator that keeps
    /// `capacity` frames, with per-tag figures when `tags`.
    fn size_history(&self, capacity: usize, tags: bool) {
        let fresh = History::new(capacity, tags);
        let old = {
            let mut history = lock(&self.inner.history);
            self.inner.capacity.store(capacity, Ordering::Relaxed);
            core::mem::replace(&mut *history, fresh)
        };
        drop(old);
    }
}

/// Hooks are equal when they are the same hooks ([`DiagnosticsHooks::same`]).
impl PartialEq for DiagnosticsHooks {
    fn eq(&self, other: &DiagnosticsHooks) -> bool {
        self.same(other)
    }
}

impl Eq for DiagnosticsHooks {}

impl core::fmt::Debug for DiagnosticsHooks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DiagnosticsHooks")
            .field("listeners", &read(&self.inner.listeners).len())
            .field("history_capacity", &self.history_capacity())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if *self.has_listeners.get_mut() {
            unwatch_diagnostics(self);
        }
    }
}

/// The hooks that have listeners, to which every diagnostic goes.
static WATCHING: StaticMutex<Vec<Weak<Inner>>> = StaticMutex::new(Vec::new());
/// `WATCHING.len()`, read without the lock by every emission.
static WATCHERS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread hands a diagnostic to the hooks: a diagnostic
    /// raised meanwhile (a listener's FA303) is delivered as usual but not
    /// handed to the hooks again.
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

fn watch_diagnostics(inner: &Arc<Inner>) {
    let mut watching = lock_static(&WATCHING);
    watching.push(Arc::downgrade(inner));
    WATCHERS.store(watching.len(), Ordering::Release);
}

fn unwatch_diagnostics(inner: &Inner) {
    let mut watching = lock_static(&WATCHING);
    watching.retain(|each| !core::ptr::eq(each.as_ptr(), inner));
    WATCHERS.store(watching.len(), Ordering::Release);
}

/// Whether any hooks object has a listener (one atomic load).
#[inline]
pub(crate) fn any_watcher() -> bool {
    WATCHERS.load(Ordering::Acquire) != 0
}

/// Hands `diagnostic` to every hooks object with a listener (one atomic
/// load when there is none).
#[inline]
pub(crate) fn forward_diagnostic(diagnostic: &Diagnostic) {
    if WATCHERS.load(Ordering::Acquire) != 0 {
        forward_to_watchers(diagnostic);
    }
}

#[cold]
#[inline(never)]
fn forward_to_watchers(diagnostic: &Diagnostic) {
    /// Clears `FORWARDING` even when a strict-mode FA303 unwinds.
    struct Forwarding;
    impl Drop for Forwarding {
        fn drop(&mut self) {
            let _ = FORWARDING.try_with(|flag| flag.set(false));
        }
    }
    if FORWARDING.try_with(|flag| flag.replace(true)) != Ok(false) {
        return;
    }
    let _forwarding = Forwarding;
    let targets: Vec<DiagnosticsHooks> = lock_static(&WATCHING)
        .iter()
        .filter_map(Weak::upgrade)
        .map(|inner| DiagnosticsHooks { inner })
        .collect();
    let event = DiagnosticsEvent::Diagnostic(diagnostic.clone());
    for hooks in &targets {
        hooks.dispatch(&event);
    }
}

/// The figures an allocator reads at the end of an engine frame, for
/// [`Attached::frame_ended`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrameFigures {
    /// The snapshot, with `frame_bytes` still the frames' running total.
    pub(crate) snapshot: MemorySnapshot,
    /// Evictions of the streaming allocator so far.
    pub(crate) streaming_evictions: u64,
    /// The streaming allocator's budget.
    pub(crate) streaming_budget: usize,
    /// The global budget's bytes in use and the lower of its limits, when
    /// budgets are on and a limit is set.
    pub(crate) global: Option<(usize, usize)>,
}

/// The running totals of the previous frame end, for the per-frame figures.
#[derive(Default)]
struct Previous {
    frame_bytes: u64,
    evictions: u64,
}

/// One allocator's hooks (held by its `Observer`), with what the allocator
/// remembers between frame ends.
#[derive(Default)]
pub(crate) struct Attached {
    hooks: DiagnosticsHooks,
    previous: Mutex<Previous>,
}

impl Attached {
    /// The hooks of an allocator built with `config`: the attached ones or
    /// new ones, their history sized from the config.
    pub(crate) fn new(config: &crate::AllocConfig) -> Attached {
        let hooks = config.diagnostics_hooks().cloned().unwrap_or_default();
        hooks.size_history(config.snapshot_history(), config.budgets_enabled());
        Attached {
            hooks,
            previous: Mutex::default(),
        }
    }

    pub(crate) fn hooks(&self) -> &DiagnosticsHooks {
        &self.hooks
    }

    /// A streamed asset was evicted.
    pub(crate) fn evicted(&self, id: u64, bytes: usize) {
        self.hooks
            .dispatch(&DiagnosticsEvent::Eviction { id, bytes });
    }

    /// Whether [`frame_ended`](Self::frame_ended) needs the figures: the
    /// hooks have a listener or a history. With neither, nobody would see
    /// them, and the next snapshot's frame bytes cover the frames skipped.
    pub(crate) fn wants_figures(&self) -> bool {
        self.hooks.has_listeners() || self.hooks.history_capacity() > 0
    }

    /// Engine frame `frame_number` ended with `figures`: records its
    /// snapshot and sends `FrameEnd`, `MemoryPressure` and `FrameBegin`.
    /// `tag_bytes` reads a tag's bytes in use. Allocates nothing.
    pub(crate) fn frame_ended(
        &self,
        frame_number: u64,
        figures: FrameFigures,
        tag_bytes: impl Fn(AllocationTag) -> u64,
    ) {
        let listening = self.hooks.has_listeners();
        let mut snapshot = figures.snapshot;
        snapshot.frame_number = frame_number;
        let evicted = {
            let mut previous = lock(&self.previous);
            let total = snapshot.frame_bytes;
            snapshot.frame_bytes = total.saturating_sub(previous.frame_bytes);
            previous.frame_bytes = total;
            let evicted = figures.streaming_evictions > previous.evictions;
            previous.evictions = figures.streaming_evictions;
            evicted
        };
        lock(&self.hooks.inner.history).record(snapshot, tag_bytes);
        if !listening {
            return;
        }
        self.hooks.dispatch(&DiagnosticsEvent::FrameEnd {
            frame_number,
            snapshot,
        });
        if let Some((used, limit)) = figures.global
            && used as u128 * 10 >= limit as u128 * 9
        {
            self.hooks.dispatch(&DiagnosticsEvent::MemoryPressure {
                current: used,
                limit,
            });
        }
        if evicted {
            self.hooks.dispatch(&DiagnosticsEvent::MemoryPressure {
                current: snapshot.streaming_bytes as usize,
                limit: figures.streaming_budget,
            });
        }
        self.hooks.dispatch(&DiagnosticsEvent::FrameBegin {
            frame_number: frame_number + 1,
        });
    }
}
