//! A group moves to a loader thread and back; what it made can be read from
//! scoped threads; borrowed plain data can be copied in.
pub fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("level");
    let level = std::thread::spawn(move || {
        level.alloc_slice_fill_with(1024, |i| i as u32);
        level
    })
    .join()
    .unwrap();
    let tiles = level.alloc_slice_fill_with(64, |i| i as u64);
    let words = ["borrowed", "str"];
    let copied = level.alloc_slice_copy(&words);
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(tiles[63], 63));
        s.spawn(|| assert_eq!(copied[0], "borrowed"));
    });
    groups.free_group(level);
}
