// Frame memory cannot be stored in a resource: resources are `'static`.
use bevy_ecs::prelude::*;
use framealloc::{Frame, FrameBox, frame_system};

#[derive(Resource)]
struct Kept(FrameBox<'static, u32>);

#[frame_system]
fn keep(frame: &Frame, mut commands: Commands) {
    commands.insert_resource(Kept(frame.alloc(1)));
}

fn main() {}
