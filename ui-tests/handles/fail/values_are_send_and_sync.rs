//! The allocator is `Send + Sync` and drops its values wherever it is
//! dropped, so values must be `Send + Sync` too.
fn main() {
    let mut handles = framealloc::HandleAllocator::new();
    handles.alloc(std::rc::Rc::new(1u32)).unwrap();
    handles.alloc(std::cell::Cell::new(1u32)).unwrap();
}
