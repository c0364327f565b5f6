//! Checks that a function cannot open a frame and return memory allocated
//! from it: the `FrameBox` borrows the local `frame`, which ends when the
//! function returns.
//!
//! Locks FA002 (frame memory escaping its frame).

use framealloc::{FrameBox, SmartAlloc};

fn scratch(alloc: &SmartAlloc) -> FrameBox<'_, u64> {
    let frame = alloc.begin_frame();
    frame.alloc(42u64)
}

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let value = scratch(&alloc);
    println!("{}", *value);
}
