//! A collection whose allocator is `&Group` borrows the group.
use framealloc::allocator_api2::vec::Vec;

fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("level");
    let mut tiles: Vec<u32, &framealloc::Group> = Vec::new_in(&level);
    tiles.push(1);
    groups.free_group(level);
    tiles.push(2);
}
