//! Checks that the outer frame cannot allocate while a scope opened from it
//! is alive: `scope` borrows the frame mutably, so the outer allocation
//! (which the scope's rewind would free) is refused.
//!
//! Locks the scope exclusivity rule that keeps FA002 sound for scopes.

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let scope = frame.scope();
    let inner = scope.alloc(1u32);
    let outer = frame.alloc(2u32);
    println!("{} {}", *inner, *outer);
}
