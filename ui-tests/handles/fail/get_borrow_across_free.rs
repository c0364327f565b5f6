//! A reference from `get` cannot outlive a `free` of its value.
fn main() {
    let mut handles = framealloc::HandleAllocator::new();
    let h = handles.alloc(String::from("sword")).unwrap();
    let name = handles.get(h).unwrap();
    handles.free(h);
    println!("{name}");
}
