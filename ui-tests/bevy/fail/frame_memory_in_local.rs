// Frame memory cannot outlive the system run in a `Local`.
use bevy_ecs::prelude::*;
use framealloc::{Frame, FrameBox, frame_system};

#[frame_system]
fn remember(frame: &Frame, mut last: Local<Option<FrameBox<'static, u64>>>) {
    *last = Some(frame.alloc(7));
}

fn main() {}
