use framealloc::{Frame, frame_system};

#[frame_system]
const fn cull(_frame: &Frame<'_>) {}

fn main() {}
