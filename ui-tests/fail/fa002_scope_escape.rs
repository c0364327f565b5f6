//! Checks that memory from a scope (`frame.scope()`) cannot be used after the
//! scope is dropped, even while the outer frame is still open: the scope
//! rewinds the arena when it ends, so its memory is reused.
//!
//! Locks FA002 (frame memory escaping its frame, here a scope).

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let escaped;
    {
        let scope = frame.scope();
        escaped = scope.alloc(7u64);
    }
    println!("{}", *escaped);
}
