//! Group memory cannot be used after `free_group`: the value borrows the
//! group, and `free_group` takes the group by value.
fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("level");
    let hp = level.alloc(100u32);
    groups.free_group(level);
    println!("{hp}");
}
