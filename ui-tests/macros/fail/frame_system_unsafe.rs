use framealloc::{Frame, frame_system};

#[frame_system]
unsafe fn cull(_frame: &Frame<'_>) {}

fn main() {}
