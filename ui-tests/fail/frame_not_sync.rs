//! Checks that a `&Frame` cannot be shared with another thread, even a scoped
//! one: two threads would move the same arena cursor, so `Frame` is not
//! `Sync`.
//!
//! Locks the `Frame: !Sync` guarantee (no FA code: a frame is one thread's).

use framealloc::SmartAlloc;

fn main() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let value = frame.alloc(1u8);
            *value
        });
        println!("{}", worker.join().unwrap());
    });
}
