//! Tracy (feature `tracy`): named memory events per intent, a frame mark
//! and plots of bytes per intent at each engine frame's end
//! (`SmartAlloc::advance_frame`), a plot of each frame arena reset.
//!
//! The library never starts a Tracy client (a started client broadcasts
//! on the network): it reports only while one runs, which needs
//! `tracy-client/enable` in the user's build. Every call asks
//! `Client::running()` first and does nothing without a client (the
//! `tracy-client` convenience macros would panic there). An allocator
//! reports memory events only if a client ran when it was built: its pool
//! and heap memory is watched from its first allocation then, so Tracy
//! never sees a free without its allocation (which Tracy's server treats as
//! a broken trace).
//!
//! Plots at an engine frame's end: `framealloc frame reserved bytes`,
//! `framealloc pool bytes`, `framealloc heap bytes`, `framealloc group
//! bytes`, `framealloc streaming bytes` and `framealloc reserved bytes`
//! (the [`MemorySnapshot`] figures).
//!
//! Tracy memory pools, one per intent: `framealloc frame` (frame arena
//! chunks, from the system to the system), `framealloc pool`, `framealloc
//! heap`, `framealloc group` (group chunks), `framealloc handle`,
//! `framealloc streaming`.
//!
//! A frame arena's reset is not a memory discard of `framealloc frame`:
//! frame values are not reported one by one (a frame allocation is a
//! pointer bump), and the chunks, the memory that pool holds, outlive the
//! reset and are freed later, one `Free` each; a discard would make those
//! frees unmatched. A reset instead adds a point to the plot
//! `framealloc frame reset bytes`: what the ending frame used.

use super::MemorySnapshot;
use super::profiler::Intent;

/// Whether an allocator built now reports to Tracy: the feature is on,
/// `tracy-client/enable` is on, and a client is running.
#[derive(Default)]
pub(crate) struct TracyState {
    #[cfg(feature = "tracy")]
    reporting: bool,
}

impl TracyState {
    /// Reporting if a client runs now.
    pub(crate) fn at_construction() -> TracyState {
        TracyState {
            #[cfg(feature = "tracy")]
            reporting: imp::running().is_some(),
        }
    }

    /// Whether this allocator reports to Tracy (read when it is built, to
    /// decide whether its pool and heap allocations must be seen).
    #[inline]
    pub(crate) fn reporting(&self) -> bool {
        #[cfg(feature = "tracy")]
        {
            self.reporting
        }
        #[cfg(not(feature = "tracy"))]
        {
            false
        }
    }

    /// Memory handed out.
    #[inline(always)]
    pub(crate) fn alloc(&self, ptr: *const u8, size: usize, intent: Intent) {
        #[cfg(feature = "tracy")]
        if self.reporting {
            imp::alloc(ptr, size, intent);
        }
        #[cfg(not(feature = "tracy"))]
        let _ = (ptr, size, intent);
    }

    /// Memory given back.
    #[inline(always)]
    pub(crate) fn free(&self, ptr: *const u8, intent: Intent) {
        #[cfg(feature = "tracy")]
        if self.reporting {
            imp::free(ptr, intent);
        }
        #[cfg(not(feature = "tracy"))]
        let _ = (ptr, intent);
    }

    /// A handle's value moved: Tracy has no move, so the old address is
    /// freed and the new one allocated.
    #[inline(always)]
    pub(crate) fn relocated(&self, from: *const u8, to: *const u8, size: usize) {
        #[cfg(feature = "tracy")]
        if self.reporting {
            imp::relocated(from, to, size);
        }
        #[cfg(not(feature = "tracy"))]
        let _ = (from, to, size);
    }

    /// A frame arena was reset after a frame that used `bytes`.
    #[inline(always)]
    pub(crate) fn frame_reset(&self, bytes: usize) {
        #[cfg(feature = "tracy")]
        if self.reporting {
            imp::frame_reset(bytes);
        }
        #[cfg(not(feature = "tracy"))]
        let _ = bytes;
    }

    /// An engine frame ended: a frame mark and one point on each plot.
    #[inline(always)]
    pub(crate) fn frame_ended(&self, snapshot: &MemorySnapshot) {
        #[cfg(feature = "tracy")]
        if self.reporting {
            imp::frame_ended(snapshot);
        }
        #[cfg(not(feature = "tracy"))]
        let _ = snapshot;
    }
}

#[cfg(feature = "tracy")]
mod imp {
    use core::ffi::CStr;

    use tracy_client::{PlotConfiguration, PlotFormat, PlotName, plot_name};

    use super::{Intent, MemorySnapshot};
    pub(super) use crate::allocators::tracy_sys::Tracy;

    /// The running client, if any; never starts one.
    pub(super) fn running() -> Option<Tracy> {
        Tracy::running()
    }

    /// The Tracy memory pool of `intent`.
    fn pool(intent: Intent) -> &'static CStr {
        match intent {
            Intent::Frame => c"framealloc frame",
            Intent::Pool => c"framealloc pool",
            Intent::Heap => c"framealloc heap",
            Intent::Group => c"framealloc group",
            Intent::Handle => c"framealloc handle",
            Intent::Streaming => c"framealloc streaming",
        }
    }

    /// The plots of an engine frame's end, in the order of [`figures`].
    const PLOTS: [PlotName; 6] = [
        plot_name!("framealloc frame reserved bytes"),
        plot_name!("framealloc pool bytes"),
        plot_name!("framealloc heap bytes"),
        plot_name!("framealloc group bytes"),
        plot_name!("framealloc streaming bytes"),
        plot_name!("framealloc reserved bytes"),
    ];

    /// The snapshot's figures for [`PLOTS`]. Handle allocators are objects
    /// of their own, outside the allocator's figures: no plot.
    fn figures(snapshot: &MemorySnapshot) -> [u64; 6] {
        [
            snapshot.frame_reserved_bytes,
            snapshot.pool_bytes,
            snapshot.heap_bytes,
            snapshot.group_bytes,
            snapshot.streaming_bytes,
            snapshot.reserved_bytes,
        ]
    }

    const RESET_PLOT: PlotName = plot_name!("framealloc frame reset bytes");

    #[cold]
    #[inline(never)]
    pub(super) fn alloc(ptr: *const u8, size: usize, intent: Intent) {
        if let Some(tracy) = running() {
            tracy.alloc_named(ptr, size, pool(intent));
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn free(ptr: *const u8, intent: Intent) {
        if let Some(tracy) = running() {
            tracy.free_named(ptr, pool(intent));
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn relocated(from: *const u8, to: *const u8, size: usize) {
        if let Some(tracy) = running() {
            tracy.free_named(from, pool(Intent::Handle));
            tracy.alloc_named(to, size, pool(Intent::Handle));
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn frame_reset(bytes: usize) {
        if let Some(tracy) = running() {
            configure(tracy.client());
            tracy.client().plot(RESET_PLOT, bytes as f64);
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn frame_ended(snapshot: &MemorySnapshot) {
        if let Some(tracy) = running() {
            let client = tracy.client();
            configure(client);
            for (plot, bytes) in PLOTS.into_iter().zip(figures(snapshot)) {
                client.plot(plot, bytes as f64);
            }
            client.frame_mark();
        }
    }

    /// Shows the plots as memory figures, once per process.
    fn configure(client: &tracy_client::Client) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            for plot in PLOTS.into_iter().chain([RESET_PLOT]) {
                client.plot_config(
                    plot,
                    PlotConfiguration::default().format(PlotFormat::Memory),
                );
            }
        });
    }
}
