//! The Bevy integration, driven the way a game drives it: a headless `App`
//! and an `app.update()` loop, under bevy_ecs's multi-threaded executor.

mod codes;
mod parallel;
mod plugin;
mod shapes;
mod support;
