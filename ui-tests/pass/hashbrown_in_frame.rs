//! Checks that a `hashbrown::HashMap` may use `&Frame` as its allocator
//! (`HashMap::new_in(&frame)`) and be dropped before its frame ends.
//! Neighbour of `fail/fa002_vec_outlives_frame.rs`.

use framealloc::SmartAlloc;
use hashbrown::HashMap;

pub fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let mut hits = HashMap::new_in(&frame);
    for id in [7u32, 3, 7, 9, 3, 7] {
        *hits.entry(id).or_insert(0u32) += 1;
    }
    assert_eq!(hits[&7], 3);
    assert_eq!(hits.len(), 3);
    drop(hits);
    frame.end();
}
