//! Checks that `SmartAlloc::frame_box` does not compile: frame memory comes
//! from a `Frame`, never from the allocator itself.
//!
//! Locks FA001 (frame allocation outside a frame), including its message.

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let value = alloc.frame_box(5u32);
    println!("{}", *value);
}
