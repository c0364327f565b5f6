//! A frame allocation that panics (the arena's limit reached: FA003) names
//! the caller's line, for every panicking `Frame` method. Its own binary:
//! it installs a panic hook, which is process-wide, to read the location.

use std::alloc::Layout;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use framealloc::{AllocConfig, SmartAlloc};

#[test]
fn frame_allocation_panics_point_at_the_callers_line() {
    let seen: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let hook_seen = Arc::clone(&seen);
    panic::set_hook(Box::new(move |info| {
        if let Some(location) = info.location() {
            hook_seen
                .lock()
                .unwrap()
                .push((location.file().to_owned(), location.line()));
        }
    }));
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(1024));
    let frame = alloc.begin_frame();
    let big = vec![7u8; 4096];
    let text = "x".repeat(4096);
    let mut expected = Vec::new();
    let mut attempt = |line: u32, call: &dyn Fn()| {
        expected.push(line);
        assert!(
            panic::catch_unwind(AssertUnwindSafe(call)).is_err(),
            "line {line} did not panic"
        );
    };
    let f = &frame;
    let layout = Layout::new::<[u8; 4096]>();
    attempt(line!(), &|| drop(f.alloc([0u8; 4096])));
    attempt(line!(), &|| drop(f.alloc_with(|| [0u8; 4096])));
    attempt(line!(), &|| drop(f.alloc_uninit::<[u8; 4096]>()));
    attempt(line!(), &|| drop(f.alloc_slice_copy(&big)));
    attempt(line!(), &|| drop(f.alloc_slice_clone(&big)));
    attempt(line!(), &|| drop(f.alloc_slice_fill_with(4096, |_| 1u8)));
    attempt(line!(), &|| _ = f.alloc_str(&text));
    attempt(line!(), &|| _ = f.alloc_layout(layout));
    drop(panic::take_hook());
    let seen = seen.lock().unwrap().clone();
    let lines: Vec<u32> = seen
        .iter()
        .map(|(file, line)| {
            assert!(
                file.ends_with("panic_location.rs"),
                "a panic named {file}:{line}"
            );
            *line
        })
        .collect();
    assert_eq!(lines, expected);
}
