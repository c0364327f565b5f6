use framealloc::{Frame, frame_system};

#[frame_system]
async fn cull(_frame: &Frame<'_>) {}

fn main() {}
