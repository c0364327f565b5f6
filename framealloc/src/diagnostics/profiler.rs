//! `ProfilerHooks`: one callback that sees every allocation and free of an
//! allocator, for Tracy, Optick or a home-made memory profiler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::AllocationTag;

/// Which intent a [`MemoryEvent`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Intent {
    /// A frame arena's chunk (frame values themselves are not reported one
    /// by one: a frame allocation is a pointer bump). `Alloc` when the
    /// system hands a chunk over, `Free` when it goes back (a merge at a
    /// reset, [`SmartAlloc::trim`](crate::SmartAlloc::trim), the
    /// allocator's drop); a spare chunk passing from one thread's arena to
    /// another's through the allocator's chunk pool stays frame memory, and
    /// is no event. Each outermost frame's end is a `FrameReset`.
    Frame,
    /// A pool slot (`pool_box`, `pool_alloc`).
    Pool,
    /// A heap block (`heap_box`, and pool requests too large for the pool).
    Heap,
    /// A group's chunk, or with the `debug` feature a value in a group.
    Group,
    /// A value behind a [`Handle`](crate::Handle).
    Handle,
    /// A streamed asset's memory.
    Streaming,
}

impl Intent {
    /// Every intent, in the order of their figures in
    /// [`MemorySnapshot`](super::MemorySnapshot).
    pub const ALL: [Intent; 6] = [
        Intent::Frame,
        Intent::Pool,
        Intent::Heap,
        Intent::Group,
        Intent::Handle,
        Intent::Streaming,
    ];

    /// Its name in lower case, as profilers show it (`"pool"`, `"heap"`, …).
    ///
    /// ```
    /// assert_eq!(framealloc::diagnostics::Intent::Streaming.name(), "streaming");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Intent::Frame => "frame",
            Intent::Pool => "pool",
            Intent::Heap => "heap",
            Intent::Group => "group",
            Intent::Handle => "handle",
            Intent::Streaming => "streaming",
        }
    }
}

/// What a [`ProfilerHooks`] callback receives.
///
/// Addresses are for matching an `Alloc` with its `Free` (and following a
/// `Relocated` value); they are never to be dereferenced. Variants are
/// `#[non_exhaustive]`, so a `match` names the fields it reads and ends
/// with `..`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryEvent {
    /// Memory handed out: a pool slot, a heap block, a frame or group
    /// chunk, a handle's value, a streamed asset.
    #[non_exhaustive]
    Alloc {
        /// Where it starts.
        ptr: *const u8,
        /// Its size in bytes (a pool slot's size class).
        size: usize,
        /// The allocating thread's [`AllocationTag`], if one was entered.
        tag: Option<AllocationTag>,
        /// The intent it belongs to.
        intent: Intent,
    },
    /// Memory given back; `ptr` is the `ptr` of an earlier `Alloc`.
    #[non_exhaustive]
    Free {
        /// Where it started.
        ptr: *const u8,
        /// Its size in bytes, as in the `Alloc`.
        size: usize,
        /// The intent it belonged to.
        intent: Intent,
    },
    /// A handle's value moved during defragmentation: its `Alloc` address
    /// is now `to`.
    #[non_exhaustive]
    Relocated {
        /// The old address.
        from: *const u8,
        /// The new one.
        to: *const u8,
        /// The value's size.
        size: usize,
    },
    /// A thread's frame arena was reset at the end of its outermost frame:
    /// everything allocated in the frame is gone at once.
    #[non_exhaustive]
    FrameReset {
        /// The arena's index in [`FrameStats::per_arena`](crate::FrameStats::per_arena).
        arena: usize,
        /// The bytes the frame had used.
        bytes: usize,
    },
    /// A group was freed: every value in it is gone at once. It comes
    /// after the values' destructors ran and before the `Free` of each of
    /// the group's chunks.
    #[non_exhaustive]
    GroupFreed {
        /// The group's name (shared with the group: names are made at run
        /// time, so this is an `Arc<str>` and `MemoryEvent` is `Clone`, not
        /// `Copy`).
        name: Arc<str>,
        /// The bytes its values used ([`GroupStats::bytes`](crate::GroupStats::bytes)).
        bytes: usize,
        /// The group's id ([`GroupStats::id`](crate::GroupStats::id)): names
        /// need not be unique.
        id: u64,
    },
}

type Callback = Arc<dyn Fn(&MemoryEvent) + Send + Sync>;

/// A callback for every allocation and free of the allocators it is
/// attached to, for a memory profiler.
///
/// Attach it with [`AllocConfig::with_profiler_hooks`](crate::AllocConfig::with_profiler_hooks)
/// when building the allocator; the callback can be set, replaced or
/// cleared at any time after. `ProfilerHooks` is a handle: clones share one
/// callback.
///
/// # What it costs
///
/// An allocator built with profiler hooks sends its pool and heap
/// allocations and frees through their slow paths (where the events are
/// made), as it does with budgets on: a pool alloc+free pair of a `u64`
/// runs about 310 instructions with hooks attached and no callback set,
/// against 32 on the fast path (callgrind, BENCHMARKS.md). One built
/// without them pays nothing: its fast paths are the same instructions
/// (DESIGN.md P14).
/// Frame values are never reported one by one: frames report chunk growth
/// and each reset.
///
/// A callback runs on the allocating thread, after the allocator's figures
/// are settled. Events raised while a callback runs on that thread (it
/// allocates itself) are dropped rather than fed back to it. A callback
/// that panics is caught and reported as FA303.
///
/// # Example
///
/// ```
/// use framealloc::diagnostics::{Intent, MemoryEvent, ProfilerHooks};
/// use framealloc::{AllocConfig, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let hooks = ProfilerHooks::new();
/// let live = Arc::new(Mutex::new(0i64));
/// let count = live.clone();
/// hooks.set_callback(move |event| match *event {
///     MemoryEvent::Alloc { intent: Intent::Pool, .. } => *count.lock().unwrap() += 1,
///     MemoryEvent::Free { intent: Intent::Pool, .. } => *count.lock().unwrap() -= 1,
///     _ => {}
/// });
/// let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
/// let enemy = alloc.pool_box([0u32; 4])?;
/// assert_eq!(*live.lock().unwrap(), 1);
/// drop(enemy);
/// assert_eq!(*live.lock().unwrap(), 0);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Default)]
pub struct ProfilerHooks {
    slot: Arc<Slot>,
}

/// The callback, and whether there is one: a watched allocation with no
/// callback set reads the flag and goes on, with no lock taken.
#[derive(Default)]
struct Slot {
    callback: RwLock<Option<Callback>>,
    armed: AtomicBool,
}

impl ProfilerHooks {
    /// Hooks with no callback yet.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::ProfilerHooks::new();
    /// assert!(!hooks.has_callback());
    /// ```
    pub fn new() -> ProfilerHooks {
        ProfilerHooks::default()
    }

    /// Sets the callback, replacing the one before.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::ProfilerHooks::new();
    /// hooks.set_callback(|event| { let _ = event; });
    /// assert!(hooks.has_callback());
    /// ```
    pub fn set_callback(&self, callback: impl Fn(&MemoryEvent) + Send + Sync + 'static) {
        let mut slot = self
            .slot
            .callback
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(Arc::new(callback));
        self.slot.armed.store(true, Ordering::Release);
    }

    /// Removes the callback; events are dropped until another is set.
    /// Returns whether there was one.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::ProfilerHooks::new();
    /// hooks.set_callback(|_| {});
    /// assert!(hooks.clear_callback());
    /// assert!(!hooks.clear_callback());
    /// ```
    pub fn clear_callback(&self) -> bool {
        let mut slot = self
            .slot
            .callback
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.slot.armed.store(false, Ordering::Release);
        slot.take().is_some()
    }

    /// Whether a callback is set.
    pub fn has_callback(&self) -> bool {
        self.current().is_some()
    }

    /// Whether `self` and `other` are the same hooks (clones of one).
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::ProfilerHooks::new();
    /// assert!(hooks.same(&hooks.clone()));
    /// assert!(!hooks.same(&framealloc::diagnostics::ProfilerHooks::new()));
    /// ```
    pub fn same(&self, other: &ProfilerHooks) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot)
    }

    /// The callback, if one is set. Without one: a flag read, no lock.
    pub(crate) fn current(&self) -> Option<Callback> {
        if !self.slot.armed.load(Ordering::Acquire) {
            return None;
        }
        self.slot
            .callback
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Hooks are equal when they are the same hooks ([`ProfilerHooks::same`]).
impl PartialEq for ProfilerHooks {
    fn eq(&self, other: &ProfilerHooks) -> bool {
        self.same(other)
    }
}

impl Eq for ProfilerHooks {}

impl core::fmt::Debug for ProfilerHooks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProfilerHooks")
            .field("has_callback", &self.has_callback())
            .finish()
    }
}
