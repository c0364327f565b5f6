use framealloc::{Frame, frame_system};

#[frame_system]
fn cull(_frame: &mut Frame) {}

fn main() {}
