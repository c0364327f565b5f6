//! `FrameAlloc`: the system parameter that opens a frame on the thread
//! running the system. `#[frame_system]` appends one to the systems it
//! writes.

use bevy_ecs::prelude::{FromWorld, Local, World};
use bevy_ecs::system::SystemParam;

use super::resource::AllocResource;
use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::{Frame, SmartAlloc};

/// A system parameter that opens frames on the thread running the system:
/// frame memory in a Bevy system without the attribute macro.
///
/// It holds the app's allocator, captured from [`AllocResource`] when the
/// system is initialised, so it takes no access to the world: it never
/// conflicts with another parameter, runs in parallel with anything, and
/// works in exclusive systems (`&mut World`) and run conditions too.
///
/// # Example
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::bevy::{FrameAlloc, SmartAllocPlugin};
///
/// #[derive(Component)]
/// struct Health(u32);
///
/// fn low_health(frame_alloc: FrameAlloc, query: Query<&Health>) {
///     let frame = frame_alloc.begin_frame();
///     let mut low = allocator_api2::vec::Vec::new_in(&frame);
///     low.extend(query.iter().filter(|h| h.0 < 10).map(|h| h.0));
///     assert_eq!(low.len(), 1);
/// }
///
/// fn exclusive(world: &mut World, frame_alloc: FrameAlloc) {
///     let frame = frame_alloc.begin_frame();
///     let names = frame.alloc_str("spawned while the world is borrowed mutably");
///     world.spawn(Health(names.len() as u32));
/// }
///
/// let mut app = App::new();
/// app.add_plugins(SmartAllocPlugin::default())
///     .add_systems(Update, (low_health, exclusive).chain());
/// app.world_mut().spawn_batch([Health(3), Health(50)]);
/// app.update();
/// ```
///
/// # Panics
///
/// [`begin_frame`](Self::begin_frame) and [`alloc`](Self::alloc) panic with
/// FA101 when the app has no [`SmartAllocPlugin`](super::SmartAllocPlugin)
/// (no [`AllocResource`] existed when the system was initialised).
#[derive(SystemParam)]
pub struct FrameAlloc<'s> {
    captured: Local<'s, Captured>,
}

/// The allocator a system captured when it was initialised.
#[doc(hidden)]
pub struct Captured(Option<AllocResource>);

impl FromWorld for Captured {
    fn from_world(world: &mut World) -> Captured {
        Captured(world.get_resource::<AllocResource>().cloned())
    }
}

impl FrameAlloc<'_> {
    /// Opens a frame on the calling thread's arena, for this run of the
    /// system: everything allocated from it must be gone when the system
    /// returns, and the next system on this thread reuses the memory.
    ///
    /// # Panics
    ///
    /// With FA101 (naming the caller's file and line) when the app has no
    /// `SmartAllocPlugin`.
    ///
    /// ```
    /// use framealloc::bevy::FrameAlloc;
    ///
    /// fn cull(frame_alloc: FrameAlloc) {
    ///     let frame = frame_alloc.begin_frame();
    ///     let visible = frame.alloc_slice_fill_with(16, |i| i as u32);
    ///     assert_eq!(visible.len(), 16);
    /// }
    /// # let mut app = bevy_app::App::new();
    /// # app.add_plugins(framealloc::bevy::SmartAllocPlugin::default());
    /// # app.add_systems(bevy_app::Update, cull);
    /// # app.update();
    /// ```
    #[track_caller]
    pub fn begin_frame(&self) -> Frame<'_> {
        let location = core::panic::Location::caller();
        self.frame_for(format_args!(
            "the system calling `FrameAlloc::begin_frame` at {location}"
        ))
    }

    /// The app's allocator, to share with worker threads (`par_iter`
    /// closures open their own frames from it) or to allocate pool and heap
    /// memory.
    ///
    /// # Panics
    ///
    /// With FA101 when the app has no `SmartAllocPlugin`.
    ///
    /// ```
    /// use bevy_ecs::prelude::*;
    /// use framealloc::bevy::FrameAlloc;
    ///
    /// #[derive(Component)]
    /// struct Particle(f32);
    ///
    /// fn integrate(frame_alloc: FrameAlloc, mut particles: Query<&mut Particle>) {
    ///     let alloc = frame_alloc.alloc();
    ///     particles.par_iter_mut().for_each(|mut particle| {
    ///         let frame = alloc.begin_frame(); // the worker's own arena
    ///         let forces = frame.alloc_slice_fill_with(4, |i| i as f32);
    ///         particle.0 += forces.iter().sum::<f32>();
    ///     });
    /// }
    /// # let mut app = bevy_app::App::new();
    /// # app.add_plugins(framealloc::bevy::SmartAllocPlugin::default());
    /// # app.add_systems(bevy_app::Update, integrate);
    /// # app.world_mut().spawn(Particle(0.0));
    /// # app.update();
    /// ```
    #[track_caller]
    pub fn alloc(&self) -> &SmartAlloc {
        let location = core::panic::Location::caller();
        self.resource(format_args!(
            "the system calling `FrameAlloc::alloc` at {location}"
        ))
    }

    /// The app's allocator, or `None` when the app has no `SmartAllocPlugin`
    /// (the non-panicking [`alloc`](Self::alloc)).
    ///
    /// ```
    /// use framealloc::bevy::FrameAlloc;
    ///
    /// fn optional(frame_alloc: FrameAlloc) {
    ///     assert!(frame_alloc.get().is_none(), "no plugin in this app");
    /// }
    /// # let mut app = bevy_app::App::new();
    /// # app.add_systems(bevy_app::Update, optional);
    /// # app.update();
    /// ```
    pub fn get(&self) -> Option<&SmartAlloc> {
        self.captured.0.as_ref().map(AllocResource::alloc)
    }

    /// What `#[frame_system]` calls: `begin_frame`, naming the system in
    /// FA101. Not public API.
    #[doc(hidden)]
    #[track_caller]
    pub fn __begin_system_frame(&self, system: &'static str) -> Frame<'_> {
        self.frame_for(format_args!("the frame system `{system}`"))
    }

    #[track_caller]
    fn frame_for(&self, who: core::fmt::Arguments<'_>) -> Frame<'_> {
        self.resource(who).begin_frame()
    }

    #[track_caller]
    fn resource(&self, who: core::fmt::Arguments<'_>) -> &AllocResource {
        let Some(resource) = &self.captured.0 else {
            missing_plugin(who)
        };
        if !resource.steps.healthy() {
            resource.steps.report_missing(format_args!(
                "{who} ran in a frame that SmartAllocPlugin's frame steps did not open: {}",
                if resource.steps.has(super::resource::Steps::PLUGIN) {
                    "`FrameAllocSystems::Begin` has not run in `First` (was it removed, or is the system run outside `App::update`?)"
                } else {
                    "the `AllocResource` was inserted by hand, without the plugin"
                }
            ));
        }
        resource
    }
}

/// FA101 at run time: the panic of a frame system in an app without the
/// plugin.
#[cold]
#[track_caller]
fn missing_plugin(who: core::fmt::Arguments<'_>) -> ! {
    let diagnostic = Diagnostic::new(
        DiagnosticKind::Error,
        "FA101",
        format!("{who} needs SmartAllocPlugin, which this App does not have"),
    )
    .with_note("frame systems and `FrameAlloc` get the allocator from the `AllocResource` that `SmartAllocPlugin` inserts; none existed when this system was initialised")
    .with_help("add `.add_plugins(framealloc::bevy::SmartAllocPlugin::default())` to the App before its first `update`");
    panic!("{diagnostic}")
}
