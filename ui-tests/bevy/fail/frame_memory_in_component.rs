// Frame memory cannot be stored in a component spawned from a frame system.
use bevy_ecs::prelude::*;
use framealloc::{Frame, FrameBox, frame_system};

#[derive(Component)]
struct Scratch<'a>(FrameBox<'a, [u32]>);

#[frame_system]
fn spawn_scratch(frame: &Frame, mut commands: Commands) {
    commands.spawn(Scratch(frame.alloc_slice_copy(&[1, 2, 3])));
}

fn main() {}
