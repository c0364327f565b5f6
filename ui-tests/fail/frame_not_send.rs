//! Checks that a `Frame` cannot be moved to another thread: it stands for the
//! calling thread's arena, so it is not `Send`. The allocator is `'static`
//! so that the only error is the missing `Send`.
//!
//! Locks the `Frame: !Send` guarantee (no FA code: a frame never changes thread).

use framealloc::SmartAlloc;

fn main() {
    let alloc: &'static SmartAlloc = Box::leak(Box::new(SmartAlloc::with_defaults()));
    let frame = alloc.begin_frame();
    let worker = std::thread::spawn(move || {
        let value = frame.alloc(1u8);
        *value
    });
    println!("{}", worker.join().unwrap());
}
