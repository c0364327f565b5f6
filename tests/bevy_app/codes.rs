//! FA101 (no plugin) and FA102 (the plugin's frame steps did not run), with
//! their exact text.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bevy_app::{App, First, Last, Update};
use bevy_ecs::prelude::*;
use framealloc::bevy::{AllocResource, FrameAlloc, FrameAllocSystems, SmartAllocPlugin};
use framealloc::diagnostics::Capture;
use framealloc::{DiagnosticKind, Frame, SmartAlloc, frame_system};

use crate::support::{panic_text, single_threaded};

#[frame_system]
fn cull(frame: &Frame) {
    assert_eq!(frame.alloc(3u8).checked_add(1), Some(4));
}

/// The line of `begin_frame` in `by_hand`, which FA101 names.
const BY_HAND_LINE: u32 = line!() + 3;

fn by_hand(frame_alloc: FrameAlloc) {
    let frame = frame_alloc.begin_frame();
    assert_eq!(*frame.alloc(5u16), 5);
}

const FA101_NOTE: &str = "  note: frame systems and `FrameAlloc` get the allocator from the `AllocResource` that `SmartAllocPlugin` inserts; none existed when this system was initialised\n  help: add `.add_plugins(framealloc::bevy::SmartAllocPlugin::default())` to the App before its first `update`";

#[test]
fn a_frame_system_without_the_plugin_panics_with_fa101_naming_it() {
    let mut app = App::new();
    single_threaded(&mut app);
    app.add_systems(Update, cull);
    let payload = catch_unwind(AssertUnwindSafe(|| app.update())).unwrap_err();
    assert_eq!(
        panic_text(&*payload),
        format!(
            "[framealloc][FA101] error: the frame system `bevy_app::codes::cull` needs SmartAllocPlugin, which this App does not have\n{FA101_NOTE}"
        )
    );
}

#[test]
fn the_parameter_without_the_plugin_panics_with_fa101_naming_the_line() {
    let mut app = App::new();
    single_threaded(&mut app);
    app.add_systems(Update, by_hand);
    let payload = catch_unwind(AssertUnwindSafe(|| app.update())).unwrap_err();
    let text = panic_text(&*payload);
    let line = BY_HAND_LINE;
    assert_eq!(
        text,
        format!(
            "[framealloc][FA101] error: the system calling `FrameAlloc::begin_frame` at tests/bevy_app/codes.rs:{line}:29 needs SmartAllocPlugin, which this App does not have\n{FA101_NOTE}"
        )
    );
}

#[test]
fn fa101_reaches_the_caller_of_update_from_the_parallel_executor_too() {
    let mut app = App::new();
    app.add_systems(Update, (cull, by_hand));
    let payload = catch_unwind(AssertUnwindSafe(|| app.update())).unwrap_err();
    assert!(
        panic_text(&*payload).starts_with("[framealloc][FA101] error: "),
        "{}",
        panic_text(&*payload)
    );
}

/// Runs `app` for three frames and returns what the calling thread's
/// capture saw.
fn fa102_seen(mut app: App) -> Vec<framealloc::diagnostics::Diagnostic> {
    single_threaded(&mut app);
    let capture = Capture::start();
    for _ in 0..3 {
        app.update();
    }
    capture.finish()
}

#[test]
fn an_alloc_resource_inserted_without_the_plugin_is_fa102_once() {
    let mut app = App::new();
    app.insert_resource(AllocResource::new(SmartAlloc::with_defaults()))
        .add_systems(Update, (cull, by_hand).chain());
    let seen = fa102_seen(app);
    assert_eq!(seen.len(), 1, "reported once, not every frame: {seen:#?}");
    assert_eq!(
        (seen[0].code, seen[0].kind),
        ("FA102", DiagnosticKind::Warning)
    );
    assert_eq!(seen[0].message, "frame hooks did not run this frame");
    assert_eq!(
        seen[0].note.as_deref(),
        Some(
            "the frame system `bevy_app::codes::cull` ran in a frame that SmartAllocPlugin's frame steps did not open: the `AllocResource` was inserted by hand, without the plugin"
        )
    );
}

/// An app with the plugin, its main schedules on this thread.
fn plugin_app() -> App {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default());
    app
}

/// The note of the one FA102 that three frames of `app` report.
fn one_fa102_note(app: App) -> String {
    let seen = fa102_seen(app);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].code, "FA102");
    seen[0].note.as_deref().unwrap_or_default().to_owned()
}

const BEGIN_NOT_RUN: &str = "ran in a frame that SmartAllocPlugin's frame steps did not open: `FrameAllocSystems::Begin` has not run in `First` (was it removed, or is the system run outside `App::update`?)";

#[test]
fn a_removed_frame_begin_step_is_fa102() {
    let mut app = plugin_app();
    app.configure_sets(First, FrameAllocSystems::Begin.run_if(|| false))
        .add_systems(Update, cull);
    // The frame system notices first (startup is over, and the begin step
    // never ran); the frame-end step would have said it next.
    assert_eq!(
        one_fa102_note(app),
        format!("the frame system `bevy_app::codes::cull` {BEGIN_NOT_RUN}")
    );
}

#[test]
fn a_frame_system_after_startup_with_both_steps_removed_is_fa102() {
    let mut app = plugin_app();
    app.configure_sets(First, FrameAllocSystems::Begin.run_if(|| false))
        .configure_sets(Last, FrameAllocSystems::End.run_if(|| false))
        .add_systems(Update, by_hand);
    assert_eq!(
        one_fa102_note(app),
        format!(
            "the system calling `FrameAlloc::begin_frame` at tests/bevy_app/codes.rs:{BY_HAND_LINE}:29 {BEGIN_NOT_RUN}"
        )
    );
}

#[test]
fn a_removed_frame_begin_step_is_fa102_from_the_end_step_when_no_frame_system_ran() {
    let mut app = plugin_app();
    app.configure_sets(First, FrameAllocSystems::Begin.run_if(|| false));
    assert_eq!(
        one_fa102_note(app),
        "frame 0 had no frame-begin step: `FrameAllocSystems::Begin` did not run in `First`"
    );
}

#[test]
fn a_removed_frame_end_step_is_fa102() {
    let mut app = plugin_app();
    app.configure_sets(Last, FrameAllocSystems::End.run_if(|| false))
        .add_systems(Update, cull);
    assert_eq!(
        one_fa102_note(app),
        "frame 0 had no frame-end step: `FrameAllocSystems::End` did not run in `Last`, so its figures were not recorded"
    );
}

#[test]
fn with_the_plugin_nothing_is_reported() {
    let mut app = plugin_app();
    app.add_systems(Update, (cull, by_hand));
    assert_eq!(fa102_seen(app), []);
}
