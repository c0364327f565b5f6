// Well formed, but this crate's framealloc has no `bevy` feature: FA101 at the attribute.
// The function is kept, so calling it causes no further error.
use framealloc::{Frame, frame_system};

#[frame_system]
fn cull(frame: &Frame<'_>) {
    let visible = frame.alloc_slice_fill_with(64, |i| i as u32);
    assert_eq!(visible.len(), 64);
}

fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    cull(&alloc.begin_frame());
}
