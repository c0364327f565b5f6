use framealloc::frame_system;

#[frame_system]
struct Culling;

fn main() {}
