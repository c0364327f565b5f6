use framealloc::{Frame, frame_system};

#[frame_system]
fn cull(_frame: &Frame, _scratch: &Frame<'_>) {}

fn main() {}
