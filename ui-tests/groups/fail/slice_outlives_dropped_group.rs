//! Dropping the group frees it too: a slice from it cannot outlive it.
fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let tiles = {
        let level = alloc.groups().create_group("level");
        level.alloc_slice_fill_with(16, |i| i as u16)
    };
    println!("{}", tiles.len());
}
