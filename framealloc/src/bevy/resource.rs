//! `AllocResource`: the allocator as an immutable Bevy resource, and the
//! record of which plugin steps ran (what FA102 is decided from).

use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use bevy_ecs::resource::Resource;

use crate::SmartAlloc;

/// The allocator of a Bevy app, as a resource: `Res<AllocResource>` derefs
/// to [`SmartAlloc`].
///
/// [`SmartAllocPlugin`](super::SmartAllocPlugin) inserts it. It is an
/// *immutable* resource: `ResMut<AllocResource>` does not compile, so any
/// number of systems read it in parallel, and a `SmartAlloc` needs no
/// `&mut` anyway (every method takes `&self`). Frame systems get their
/// frame from it through [`FrameAlloc`](super::FrameAlloc) or
/// [`#[frame_system]`](crate::frame_system); a system that prefers the
/// resource itself opens a frame on its own thread with `begin_frame`:
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{AllocResource, SmartAllocPlugin};
///
/// #[derive(Default)]
/// struct TempData {
///     ids: [u32; 32],
/// }
///
/// fn my_system(alloc: Res<AllocResource>) {
///     let frame = alloc.begin_frame(); // this thread's arena, for this run
///     let mut tmp = frame.alloc(TempData::default());
///     tmp.ids[0] = 7;
///     assert_eq!(tmp.ids[0], 7);
/// } // the frame ends here; the next system on this thread reuses its memory
///
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::default()).add_systems(Update, my_system);
/// app.update();
/// assert_eq!(app.world().resource::<AllocResource>().stats().frame.allocations, 1);
/// ```
///
/// Inserting one by hand (without the plugin) gives frame systems an
/// allocator but no frame steps: they report FA102 once.
#[derive(Resource, Clone)]
#[component(immutable)]
pub struct AllocResource {
    alloc: SmartAlloc,
    pub(crate) steps: Arc<Steps>,
}

impl AllocResource {
    /// Wraps `alloc`; the plugin does this for you
    /// ([`SmartAllocPlugin::with_alloc`](super::SmartAllocPlugin::with_alloc)
    /// shares an allocator the game already has).
    ///
    /// ```
    /// let resource = framealloc::bevy::AllocResource::new(framealloc::SmartAlloc::with_defaults());
    /// assert_eq!(resource.frame_number(), 0);
    /// ```
    pub fn new(alloc: SmartAlloc) -> AllocResource {
        AllocResource {
            alloc,
            steps: Arc::new(Steps::default()),
        }
    }

    /// The allocator (what `Deref` gives too).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let resource = framealloc::bevy::AllocResource::new(alloc.clone());
    /// assert_eq!(resource.alloc().stats(), alloc.stats());
    /// ```
    pub fn alloc(&self) -> &SmartAlloc {
        &self.alloc
    }
}

impl Deref for AllocResource {
    type Target = SmartAlloc;

    fn deref(&self) -> &SmartAlloc {
        &self.alloc
    }
}

impl core::fmt::Debug for AllocResource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AllocResource")
            .field("alloc", &self.alloc)
            .field("plugin", &self.steps.has(Steps::PLUGIN))
            .finish()
    }
}

/// Which of the plugin's steps have run for one [`AllocResource`]: flags,
/// read with one relaxed load by every frame system.
#[derive(Default)]
pub(crate) struct Steps {
    flags: AtomicU8,
    /// Whether the frame-begin step ran and the frame-end step has not since.
    open: AtomicBool,
}

impl Steps {
    /// The plugin inserted this resource.
    pub(crate) const PLUGIN: u8 = 1;
    /// The startup schedules have finished (`PostStartup` ran).
    pub(crate) const STARTED: u8 = 2;
    /// The frame-begin step in `First` ran at least once.
    pub(crate) const BEGUN: u8 = 4;
    /// FA102 was reported for this resource (it is reported once).
    pub(crate) const REPORTED: u8 = 8;

    pub(crate) fn set(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::Relaxed);
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }

    /// Whether a frame system may run now without FA102: the plugin is
    /// installed, and either startup is still running or the frame-begin
    /// step has run.
    #[inline]
    pub(crate) fn healthy(&self) -> bool {
        let flags = self.flags.load(Ordering::Relaxed);
        flags & Self::PLUGIN != 0 && (flags & Self::STARTED == 0 || flags & Self::BEGUN != 0)
    }

    /// Marks the Bevy frame open; returns whether it already was (the
    /// previous frame's end step did not run).
    pub(crate) fn open(&self) -> bool {
        self.open.swap(true, Ordering::Relaxed)
    }

    /// Marks the Bevy frame closed; returns whether it was open (the begin
    /// step ran).
    pub(crate) fn close(&self) -> bool {
        self.open.swap(false, Ordering::Relaxed)
    }

    /// Reports FA102 with `details`, the first time only.
    #[cold]
    pub(crate) fn report_missing(&self, details: core::fmt::Arguments<'_>) {
        if self.flags.fetch_or(Self::REPORTED, Ordering::Relaxed) & Self::REPORTED == 0 {
            crate::diagnostics::report("FA102", details);
        }
    }
}
