// Frame memory cannot be moved into a command: commands run after the
// system returns, when its frame has ended.
use bevy_ecs::prelude::*;
use framealloc::{Frame, frame_system};

#[frame_system]
fn deferred(frame: &Frame, mut commands: Commands) {
    let ids = frame.alloc_slice_copy(&[1u32, 2]);
    commands.queue(move |world: &mut World| {
        let _ = (world, ids.len());
    });
}

fn main() {}
