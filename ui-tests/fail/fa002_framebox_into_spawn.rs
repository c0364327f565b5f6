//! Checks that a `FrameBox` cannot be moved into `std::thread::spawn`: the
//! spawned thread may outlive the frame (`spawn` needs `'static`), even
//! though `FrameBox<'_, u64>` itself is `Send`.
//!
//! Locks FA002 (frame memory escaping its frame).

use framealloc::SmartAlloc;

fn main() {
    let alloc: &'static SmartAlloc = Box::leak(Box::new(SmartAlloc::with_defaults()));
    let frame = alloc.begin_frame();
    let value = frame.alloc(5u64);
    let worker = std::thread::spawn(move || *value + 1);
    println!("{}", worker.join().unwrap());
}
