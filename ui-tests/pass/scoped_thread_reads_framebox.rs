//! Checks that a scoped thread (`std::thread::scope`) may read a
//! `FrameBox<'_, u64>`: the box is `Sync` and the scope ends before the
//! frame does. Neighbour of `fail/frame_not_sync.rs` and
//! `fail/fa002_framebox_into_spawn.rs`.

use framealloc::{FrameBox, SmartAlloc};

pub fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let total: FrameBox<'_, u64> = frame.alloc(40u64);
    let moved = frame.alloc(2u64);
    let sum = std::thread::scope(|s| {
        let reader = s.spawn(|| *total);
        let owner = s.spawn(move || *moved);
        reader.join().unwrap() + owner.join().unwrap()
    });
    assert_eq!(sum, 42);
    drop(total);
    frame.end();
}
