//! `alloc.alloc(value)` does not exist: framealloc allocates by intent. The
//! message names the frame, pool and heap calls.

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let value = alloc.alloc(5u32);
    println!("{}", *value);
}
