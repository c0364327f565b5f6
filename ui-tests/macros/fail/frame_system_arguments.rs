use framealloc::{Frame, frame_system};

#[frame_system(parallel)]
fn cull(_frame: &Frame) {}

fn main() {}
