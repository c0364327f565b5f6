//! Checks that an `allocator_api2::vec::Vec<_, &Frame>` cannot outlive its
//! frame: the vector holds `&Frame` as its allocator.
//!
//! Locks FA002 (frame memory escaping its frame, through a collection).

use allocator_api2::vec::Vec;
use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let visible = {
        let frame = alloc.begin_frame();
        let mut ids = Vec::new_in(&frame);
        ids.extend([3u32, 1, 2]);
        ids
    };
    println!("{}", visible.len());
}
