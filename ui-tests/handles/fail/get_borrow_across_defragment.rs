//! A reference from `get` borrows the allocator, and `defragment` (which
//! moves values) needs it exclusively: the two cannot overlap.
fn main() {
    let mut handles = framealloc::HandleAllocator::new();
    let h = handles.alloc(42u32).unwrap();
    let value = handles.get(h).unwrap();
    handles.defragment();
    println!("{value}");
}
