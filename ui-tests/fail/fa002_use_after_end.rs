//! Checks that a `FrameBox` cannot be used after `frame.end()`: `end`
//! consumes the frame, which the box still borrows.
//!
//! Locks FA002 (frame memory escaping its frame).

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let hp = frame.alloc(100u32);
    let report = frame.end();
    println!("{} {}", *hp, report.allocations);
}
