// Frame memory cannot be sent in a message: messages outlive the system.
use bevy_ecs::prelude::*;
use framealloc::{Frame, FrameBox, frame_system};

#[derive(Message)]
struct Visible(FrameBox<'static, [u32]>);

#[frame_system]
fn announce(frame: &Frame, mut writer: MessageWriter<Visible>) {
    writer.write(Visible(frame.alloc_slice_copy(&[4, 5])));
}

fn main() {}
