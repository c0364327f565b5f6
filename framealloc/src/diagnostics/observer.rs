//! `Observer`: the one place the memory engines report what they did to
//! whoever watches: profiler hooks, diagnostics hooks, Tracy, `tracing`,
//! and the `debug` feature's leak tracker.
//!
//! Every engine of a `SmartAlloc` holds the same `Arc<Observer>`; engines
//! made on their own (`HandleAllocator::new`, `StreamingAllocator::new`)
//! hold a detached one that watches nothing. The engines call it only on
//! paths that are slow already (refills, chunk growth, resets, frees of a
//! group, evictions) or, for pool and heap memory, on the slow paths an
//! allocator takes when [`Observer::watches_allocations`] was true at its
//! construction. So an allocator nobody watches runs the same fast-path
//! instructions as before (DESIGN.md P14).

use core::cell::Cell;
use core::panic::Location;
use std::sync::Arc;

use super::profiler::{Intent, MemoryEvent, ProfilerHooks};
use crate::AllocationTag;

/// Where an allocation was asked for: the caller's source line with the
/// `debug` feature (through `#[track_caller]`), else nothing.
pub(crate) type Site = Option<&'static Location<'static>>;

/// The call site to record for the allocation being made: see [`Site`].
#[cfg_attr(feature = "debug", track_caller)]
#[inline(always)]
pub(crate) fn site() -> Site {
    #[cfg(feature = "debug")]
    {
        Some(Location::caller())
    }
    #[cfg(not(feature = "debug"))]
    {
        None
    }
}

thread_local! {
    /// Set while this thread runs a hook: events it raises meanwhile (a
    /// callback that allocates) are not fed back to the hooks.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// What watches one allocator's engines.
#[derive(Default)]
pub(crate) struct Observer {
    profiler: Option<ProfilerHooks>,
    /// The allocator's `DiagnosticsHooks` and its frame-end state.
    diagnostics: super::hooks::Attached,
    /// Live allocations and their call sites (feature `debug`).
    #[cfg(feature = "debug")]
    leaks: super::leaks::LeakTracker,
    /// Whether a Tracy client ran when the allocator was built (feature
    /// `tracy`; off for detached observers).
    tracy: super::tracy::TracyState,
}

impl Observer {
    /// The observer of an allocator built with `config`.
    pub(crate) fn new(config: &crate::AllocConfig) -> Arc<Observer> {
        let mut observer = Observer {
            profiler: config.profiler_hooks().cloned(),
            tracy: super::tracy::TracyState::at_construction(),
            ..Observer::default()
        };
        observer.diagnostics = super::hooks::Attached::new(config);
        Arc::new(observer)
    }

    /// An observer that watches nothing, for engines made on their own.
    pub(crate) fn detached() -> Arc<Observer> {
        Arc::new(Observer::default())
    }

    /// Whether every pool and heap allocation and free must be seen: profiler
    /// hooks attached, the `debug` feature (call sites, poisoning), or a
    /// running Tracy client (feature `tracy`). Read once, when the
    /// allocator is built: it decides whether the allocator's pool and heap
    /// fast paths can be taken at all.
    pub(crate) fn watches_allocations(&self) -> bool {
        self.profiler.is_some() || cfg!(feature = "debug") || self.tracy.reporting()
    }

    /// Whether the frame arenas report chunk growth and resets (and, with
    /// the `debug` feature, poison reset memory). Read once, when the
    /// allocator is built, and cached by the arenas: a frame's end then
    /// costs one predictable branch when nothing watches. Frame fast paths
    /// never depend on it, so it may be wider than
    /// [`watches_allocations`](Self::watches_allocations).
    pub(crate) fn watches_frames(&self) -> bool {
        // `tracing`: chunk growth events, if a subscriber wants them now.
        self.watches_allocations() || super::trace::wants_frames()
    }

    /// Memory handed out.
    #[cold]
    pub(crate) fn alloc(&self, ptr: *const u8, size: usize, intent: Intent, tag: u32, site: Site) {
        // Recorded even inside a hook: its free will be checked.
        #[cfg(feature = "debug")]
        self.leaks.alloc(ptr.addr(), size, intent, tag, site);
        let _ = site;
        self.tracy.alloc(ptr, size, intent);
        super::trace::alloc(size, intent);
        self.dispatch(&MemoryEvent::Alloc {
            ptr,
            size,
            tag: AllocationTag::from_index(tag),
            intent,
        });
    }

    /// Memory given back.
    #[cold]
    pub(crate) fn free(&self, ptr: *const u8, size: usize, intent: Intent) {
        // With `debug`: FA203 if nothing live starts at `ptr`.
        #[cfg(feature = "debug")]
        self.leaks.free(ptr.addr(), size, intent);
        self.tracy.free(ptr, intent);
        self.dispatch(&MemoryEvent::Free { ptr, size, intent });
    }

    /// A handle's value moved.
    #[cold]
    pub(crate) fn relocated(&self, from: *const u8, to: *const u8, size: usize) {
        #[cfg(feature = "debug")]
        self.leaks.relocated(from.addr(), to.addr());
        self.tracy.relocated(from, to, size);
        self.dispatch(&MemoryEvent::Relocated { from, to, size });
    }

    /// A frame arena was reset after a frame that used `bytes`.
    #[cold]
    pub(crate) fn frame_reset(&self, arena: usize, bytes: usize) {
        self.tracy.frame_reset(bytes);
        self.dispatch(&MemoryEvent::FrameReset { arena, bytes });
    }

    /// Group `group` (its id) was freed.
    #[cold]
    pub(crate) fn group_freed(&self, name: &Arc<str>, bytes: usize, group: u64) {
        #[cfg(feature = "debug")]
        self.leaks.group_freed(group);
        // The event shares the group's name (one reference count more while
        // the callback runs), made only when a profiler listens.
        if self.profiler.is_some() {
            self.dispatch(&MemoryEvent::GroupFreed {
                name: name.clone(),
                bytes,
                id: group,
            });
        }
    }

    /// With the `debug` feature: a value was placed in group `group` (its
    /// call site is recorded for the leak report until the group is freed).
    /// Profilers see group chunks, not values. Only with `debug`: without
    /// it, placing a group value reports nothing (the group fast path stays
    /// a bump).
    #[cfg(feature = "debug")]
    #[cold]
    pub(crate) fn group_value(&self, ptr: *const u8, size: usize, group: u64, site: Site) {
        self.leaks.group_value(ptr.addr(), size, group, site);
    }

    /// What is alive, by call site (feature `debug`).
    #[cfg(feature = "debug")]
    pub(crate) fn leak_report(&self) -> super::leaks::LeakReport {
        self.leaks.report()
    }

    /// A streamed asset was evicted to make room: `bytes` at `ptr` went
    /// back (the profiler hears a `Free` from the streaming engine itself).
    #[cold]
    pub(crate) fn evicted(&self, id: u64, bytes: usize) {
        super::trace::evicted(id, bytes);
        self.diagnostics.evicted(id, bytes);
    }

    /// The allocator's diagnostics hooks (frame ends, budget events).
    pub(crate) fn diagnostics(&self) -> &super::hooks::Attached {
        &self.diagnostics
    }

    /// A thread heap refilled a size class from a new page (slow path;
    /// for `tracing`). Inlined: without `tracing` it is nothing.
    #[inline(always)]
    pub(crate) fn refill(&self, class_size: usize) {
        super::trace::refill(class_size);
    }

    /// A defragmentation (or step) ended (for `tracing`).
    #[inline(always)]
    pub(crate) fn defragmented(&self, bytes_moved: usize, relocations: usize, complete: bool) {
        super::trace::defragmented(bytes_moved, relocations, complete);
    }

    /// Whether [`frame_ended`](Self::frame_ended) would report anything
    /// now: a Tracy client ran when the allocator was built, or a `tracing`
    /// subscriber wants the event. The caller gathers the figures only then.
    pub(crate) fn reports_frame_ends(&self) -> bool {
        self.tracy.reporting() || super::trace::wants_frames()
    }

    /// Engine frame `frame_number` ended (`SmartAlloc::advance_frame`)
    /// with these figures (`frame_bytes` is not read: it is still the
    /// frames' running total): a Tracy frame mark and a point on each plot,
    /// and a `tracing` event.
    #[cold]
    pub(crate) fn frame_ended(&self, frame_number: u64, mut snapshot: super::MemorySnapshot) {
        snapshot.frame_number = frame_number;
        self.tracy.frame_ended(&snapshot);
        super::trace::frame_ended(&snapshot);
    }

    /// Hands `event` to the profiler callback, unless this thread is inside
    /// a hook already.
    fn dispatch(&self, event: &MemoryEvent) {
        let Some(profiler) = &self.profiler else {
            return;
        };
        let Some(callback) = profiler.current() else {
            return;
        };
        run_hook(
            "a profiler callback (`ProfilerHooks::set_callback`)",
            || {
                callback(event);
            },
        );
    }
}

/// Runs `hook` unless this thread is already inside one; a panic is caught
/// and reported as FA303, naming `what`.
pub(crate) fn run_hook(what: &str, hook: impl FnOnce()) {
    if IN_HOOK.with(Cell::get) {
        return;
    }
    IN_HOOK.with(|flag| flag.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook));
    IN_HOOK.with(|flag| flag.set(false));
    if let Err(payload) = outcome {
        super::report(
            "FA303",
            format_args!(
                "{what} panicked: {}",
                super::panic_message(payload.as_ref())
            ),
        );
    }
}
