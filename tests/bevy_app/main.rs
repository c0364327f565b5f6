//! The Bevy integration, driven the way a game drives it: a headless `App`
//! and an `app.update()` loop, under bevy_ecs's multi-threaded executor.

mod codes;
mod parallel;
mod plugin;
mod shapes;
mod support;

/// `ui-tests/bevy/pass/frame_system_shapes.rs` (the compile-pass half of the
/// Bevy UI tests; see `tests/all/ui_pass.rs`) must compile and run.
#[path = "../../ui-tests/bevy/pass/frame_system_shapes.rs"]
mod frame_system_shapes;

#[test]
fn ui_pass_frame_system_shapes() {
    frame_system_shapes::main();
}
