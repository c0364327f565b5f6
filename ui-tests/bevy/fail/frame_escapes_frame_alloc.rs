// A frame from `FrameAlloc` cannot leave the system that opened it.
use bevy_ecs::prelude::*;
use framealloc::Frame;
use framealloc::bevy::FrameAlloc;

fn leak(frame_alloc: FrameAlloc, mut keep: Local<Option<Frame<'static>>>) {
    *keep = Some(frame_alloc.begin_frame());
}

fn main() {}
