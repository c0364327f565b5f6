use framealloc::{Frame, frame_system};

struct Renderer;

impl Renderer {
    #[frame_system]
    fn cull(&self, _frame: &Frame) {}
}

fn main() {}
