// Every mistake in one function is reported in one run.
use framealloc::{Frame, frame_system};

#[frame_system(x)]
async unsafe fn cull<T>(_a: &mut Frame<'_>, _b: Frame<'static>) {}

fn main() {}
