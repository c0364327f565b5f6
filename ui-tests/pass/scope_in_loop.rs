//! Checks that a scope may be opened on each pass of a loop, and that the
//! outer frame may allocate again once the scope is dropped. Neighbour of
//! `fail/fa002_scope_escape.rs` and `fail/scope_blocks_outer_alloc.rs`.

use framealloc::SmartAlloc;

pub fn main() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let before = frame.alloc(1u64);
    let before_value = *before;
    drop(before);
    for pass in 0..3usize {
        let scope = frame.scope();
        let tmp = scope.alloc_slice_fill_with(100, |i| i + pass);
        assert_eq!(tmp[0], pass);
    }
    let after = frame.alloc(2u64);
    assert_eq!(before_value + *after, 3);
    drop(after);
    frame.end();
}
