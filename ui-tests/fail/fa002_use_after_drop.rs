//! Checks that a `FrameBox` cannot be used after `drop(frame)`: dropping the
//! frame ends it (and resets the arena), and the box still borrows it.
//!
//! Locks FA002 (frame memory escaping its frame).

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let hp = frame.alloc(100u32);
    drop(frame);
    println!("{}", *hp);
}
