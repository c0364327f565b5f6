//! A group can move to another thread and be freed there, so what it drops
//! must be `Send`.
fn main() {
    let alloc = framealloc::SmartAlloc::with_defaults();
    let level = alloc.groups().create_group("level");
    level.alloc(std::rc::Rc::new(5u32));
}
