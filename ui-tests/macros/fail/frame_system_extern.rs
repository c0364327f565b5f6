use framealloc::{Frame, frame_system};

#[frame_system]
extern "C" fn cull(_frame: &Frame<'_>) {}

fn main() {}
