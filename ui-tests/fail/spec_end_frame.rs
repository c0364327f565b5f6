//! The spec's `alloc.end_frame()` does not exist: a frame ends when its
//! `Frame` does. The message says what to write instead.

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let scratch = frame.alloc(1u32);
    println!("{}", *scratch);
    alloc.end_frame();
}
