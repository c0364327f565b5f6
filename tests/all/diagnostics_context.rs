//! `DiagContext::capture()` outside and inside frames, on named threads, and
//! the Bevy flag.

use std::thread;

use framealloc::SmartAlloc;
use framealloc::diagnostics::{Capture, DiagContext, bevy_context, set_bevy_context};

#[test]
fn diagnostics_context_outside_and_inside_frames() {
    thread::Builder::new()
        .name("diag-context".into())
        .spawn(|| {
            let before = DiagContext::capture();
            assert!(!before.frame_active);
            assert_eq!(before.frame_number, 0);
            assert_eq!(before.thread_name.as_deref(), Some("diag-context"));
            assert_eq!(before.thread_id, thread::current().id());
            assert!(!before.is_main_thread);

            let alloc = SmartAlloc::with_defaults();
            for _ in 0..3 {
                alloc.begin_frame().end();
            }
            let frame = alloc.begin_frame();
            let during = DiagContext::capture();
            assert!(during.frame_active);
            assert_eq!(during.frame_number, 3, "the fourth frame, 0-based");
            {
                let mut outer = alloc.begin_frame();
                let _scope = outer.scope();
                assert!(DiagContext::capture().frame_active, "nested and scoped");
            }
            drop(frame);
            let after = DiagContext::capture();
            assert!(!after.frame_active);
            assert_eq!(after.frame_number, 4);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn diagnostics_context_covers_every_allocator_of_the_thread() {
    thread::spawn(|| {
        let (a, b) = (SmartAlloc::with_defaults(), SmartAlloc::with_defaults());
        a.begin_frame().end();
        b.begin_frame().end();
        let frame = b.begin_frame();
        let ctx = DiagContext::capture();
        assert_eq!((ctx.frame_number, ctx.frame_active), (2, true));
        drop(frame);
    })
    .join()
    .unwrap();
}

#[test]
fn diagnostics_context_is_attached_by_fa_emit_ctx() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    framealloc::fa_emit_ctx!(FA003);
    let seen = capture.finish();
    let ctx = seen[0].context.as_ref().unwrap();
    assert!(ctx.frame_active);
    assert_eq!(ctx.thread_id, thread::current().id());
    let text = seen[0].to_string();
    let context_line = text.lines().last().unwrap();
    assert!(context_line.starts_with("  context: thread "), "{text}");
    assert!(context_line.contains("(active)"), "{text}");
    drop(frame);
}

#[test]
fn diagnostics_context_reports_the_bevy_flag() {
    set_bevy_context(true);
    let ctx = DiagContext::capture();
    assert!(bevy_context());
    set_bevy_context(false);
    assert!(ctx.bevy);
    assert!(ctx.to_string().ends_with("bevy: yes"), "{ctx}");
}
