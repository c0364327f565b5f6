//! Helpers shared by the Bevy tests.

use bevy_app::{App, First, Last, PostStartup, PostUpdate, PreStartup, PreUpdate, Startup, Update};
use bevy_ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};

/// Runs every main schedule on the calling thread, so a thread-local
/// `Capture` sees what systems report and a panic reaches the test as is.
pub fn single_threaded(app: &mut App) {
    for label in [
        PreStartup.intern(),
        Startup.intern(),
        PostStartup.intern(),
        First.intern(),
        PreUpdate.intern(),
        Update.intern(),
        PostUpdate.intern(),
        Last.intern(),
    ] {
        app.edit_schedule(label, |schedule| {
            schedule.set_executor(SingleThreadedExecutor::new());
        });
    }
}

#[path = "../shared/panic_text.rs"]
mod panic_text;
pub use panic_text::panic_text;
