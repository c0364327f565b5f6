//! Checks that an `allocator_api2::vec::Vec<u32, &Frame>` may be used and
//! dropped before its frame ends. Neighbour of
//! `fail/fa002_vec_outlives_frame.rs`.

use allocator_api2::vec::Vec;
use framealloc::{Frame, SmartAlloc};

pub fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let mut visible: Vec<u32, &Frame> = Vec::new_in(&frame);
    visible.extend([3, 1, 2]);
    visible.push(0);
    visible.sort_unstable();
    assert_eq!(visible.as_slice(), &[0, 1, 2, 3]);
    drop(visible);
    frame.end();
}
