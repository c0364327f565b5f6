//! Checks that frame memory kept in a struct cannot outlive the frame: the
//! struct carries the frame's lifetime, so storing it beyond the frame's
//! block is refused.
//!
//! Locks FA002 (frame memory escaping its frame).

use framealloc::{FrameBox, SmartAlloc};

struct Visible<'frame> {
    ids: FrameBox<'frame, [u32]>,
}

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let kept: Visible<'_>;
    {
        let frame = alloc.begin_frame();
        kept = Visible {
            ids: frame.alloc_slice_copy(&[1, 2, 3]),
        };
    }
    println!("{}", kept.ids.len());
}
