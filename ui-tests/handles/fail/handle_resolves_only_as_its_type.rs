//! A `Handle<T>` resolves only as `T`.
use framealloc::{Handle, HandleAllocator};

fn main() {
    let mut handles = HandleAllocator::new();
    let h: Handle<u32> = handles.alloc(1u32).unwrap();
    let wrong: Option<&f32> = handles.get(h);
    let cast: Handle<f32> = h;
    println!("{wrong:?} {cast:?}");
}
