//! Checks that `begin_frame` may be called while another frame is open on the
//! same thread, and that memory from both frames is usable together.
//! Neighbour of `fail/fa002_use_after_end.rs`.

use framealloc::SmartAlloc;

pub fn main() {
    let alloc = SmartAlloc::with_defaults();
    let outer = alloc.begin_frame();
    let a = outer.alloc(1u32);
    {
        let inner = alloc.begin_frame();
        let b = inner.alloc(2u32);
        assert_eq!(*a + *b, 3);
        drop(b);
        inner.end();
    }
    let c = outer.alloc(3u32);
    assert_eq!(*a + *c, 4);
    drop((a, c));
    outer.end();
}
