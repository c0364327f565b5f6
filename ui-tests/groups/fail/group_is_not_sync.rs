//! One thread at a time allocates in a group: `&Group` cannot be shared.
fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let level = alloc.groups().create_group("level");
    std::thread::scope(|s| {
        s.spawn(|| level.alloc(1u32));
        s.spawn(|| level.alloc(2u32));
    });
}
