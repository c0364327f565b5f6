use framealloc::{Frame, frame_system};

#[frame_system]
fn cull<T, const N: usize>(_frame: &Frame<'_>)
where
    T: Copy,
{
}

fn main() {}
