use framealloc::frame_system;

#[frame_system]
fn cull(_count: u32) {}

fn main() {}
