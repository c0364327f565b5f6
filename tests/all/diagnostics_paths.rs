//! Each runtime diagnostic code, raised by the allocation path it names and
//! captured as a value.

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::Mutex;
use std::thread;

use framealloc::diagnostics::{self, Capture, Diagnostic};
use framealloc::{AllocConfig, AllocError, DiagnosticKind, SmartAlloc};

fn small_arena() -> SmartAlloc {
    SmartAlloc::new(AllocConfig::default().with_frame_arena_size(4096))
}

#[test]
fn fa003_comes_from_the_arena_refusing_to_grow() {
    let alloc = small_arena();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let error = frame.try_alloc([0u8; 8192]).unwrap_err();
    let seen = capture.finish();

    assert_eq!(seen.len(), 1, "{seen:#?}");
    let fa003 = &seen[0];
    assert_eq!((fa003.code, fa003.kind), ("FA003", DiagnosticKind::Error));
    assert_eq!(fa003.message, "frame arena exhausted");
    assert_eq!(
        fa003.note.as_deref(),
        Some(
            "8192 more bytes requested, but this thread's arena already holds 0 of its 4096-byte limit"
        )
    );
    assert_eq!(fa003.help.as_deref(), Some(error.help()));
    let context = fa003.context.as_ref().expect("paths attach their context");
    assert!(context.frame_active);
    assert_eq!(context.thread_id, thread::current().id());
    let text = fa003.to_string();
    assert!(
        text.starts_with(
            "[framealloc][FA003] error: frame arena exhausted\n  note: 8192 more bytes"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n  help: raise the per-thread limit"),
        "{text}"
    );
    assert!(text.contains("\n  context: thread "), "{text}");
}

#[test]
fn fa003_accompanies_the_panic_of_the_panicking_methods() {
    let alloc = small_arena();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        frame.alloc_slice_fill_with(10_000, |i| i as u8);
    }))
    .unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("[FA003]"));
    assert_eq!(capture.finish()[0].code, "FA003");
    // The refusal left the arena as it was.
    assert_eq!(*frame.alloc(7u32), 7);
}

#[test]
fn fa003_from_collection_growth() {
    let alloc = small_arena();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let mut list = allocator_api2::vec::Vec::<u64, _>::new_in(&frame);
    assert!(list.try_reserve(4096).is_err());
    let codes: Vec<_> = capture.finish().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["FA003"]);
}

#[test]
fn fa004_comes_from_a_slice_length_that_overflows() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let error = frame
        .try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64)
        .unwrap_err();
    assert!(matches!(error, AllocError::SizeOverflow { .. }));
    let seen = capture.finish();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].code, "FA004");
    assert_eq!(seen[0].message, "allocation size overflows");
    let expected = format!("{} elements of 8 bytes", usize::MAX / 2);
    assert_eq!(seen[0].note.as_deref(), Some(expected.as_str()));
}

#[test]
#[cfg_attr(miri, ignore = "Miri stops at an allocation larger than the address space")]
fn fa005_comes_from_the_global_allocator_refusing_a_chunk() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(usize::MAX));
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let huge = Layout::from_size_align(1 << 62, 8).unwrap();
    let error = frame.try_alloc_layout(huge).unwrap_err();
    assert!(matches!(error, AllocError::OutOfMemory { .. }), "{error}");
    let seen = capture.finish();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].code, seen[0].kind),
        ("FA005", DiagnosticKind::Error)
    );
    let note = format!("the global allocator refused {} bytes", 1u64 << 62);
    assert_eq!(seen[0].note.as_deref(), Some(note.as_str()));
}

/// Diagnostics raised on the thread named [`TEARDOWN_THREAD`], collected by
/// a global sink: a thread-local capture is gone by the time the thread
/// runs its last destructors.
static FROM_TEARDOWN: Mutex<Vec<Diagnostic>> = Mutex::new(Vec::new());
const TEARDOWN_THREAD: &str = "fa202-teardown";

#[test]
fn fa202_comes_from_begin_frame_during_thread_teardown_and_the_frame_works() {
    struct OpensAFrameOnDrop(SmartAlloc);
    impl Drop for OpensAFrameOnDrop {
        fn drop(&mut self) {
            let frame = self.0.begin_frame();
            let values = frame.alloc_slice_fill_with(64, |i| i as u32);
            assert_eq!(values.iter().sum::<u32>(), 2016);
            // The pool path during teardown works too (a heap is lent for
            // the one allocation) and says so.
            let pooled = self.0.pool_box(values.len()).unwrap();
            assert_eq!(*pooled, 64);
        }
    }
    thread_local! {
        static LATE: RefCell<Option<OpensAFrameOnDrop>> = const { RefCell::new(None) };
    }

    diagnostics::set_sink(|diagnostic: &Diagnostic| {
        let thread = diagnostic
            .context
            .as_ref()
            .and_then(|context| context.thread_name.as_deref());
        if thread == Some(TEARDOWN_THREAD) {
            FROM_TEARDOWN.lock().unwrap().push(diagnostic.clone());
        }
    });
    let alloc = SmartAlloc::with_defaults();
    let inner = alloc.clone();
    let outcome = thread::Builder::new()
        .name(TEARDOWN_THREAD.into())
        .spawn(move || {
            // Registered before framealloc's thread-local is first touched,
            // so it is destroyed after it: its frame opens during teardown.
            LATE.with(|late| *late.borrow_mut() = Some(OpensAFrameOnDrop(inner.clone())));
            drop(inner.begin_frame());
            drop(inner.pool_box(0u8).unwrap()); // the pool's thread-local, after LATE's
        })
        .unwrap()
        .join();
    diagnostics::reset_sink();
    outcome.unwrap();

    let seen = FROM_TEARDOWN.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "one from the frame path, one from the pool path: {seen:#?}"
    );
    assert_eq!(
        (seen[1].code, seen[1].note.as_deref()),
        ("FA202", Some("pool or heap allocation"))
    );
    assert_eq!(
        (seen[0].code, seen[0].kind),
        ("FA202", DiagnosticKind::Warning)
    );
    assert_eq!(
        seen[0].message,
        "allocator used while the calling thread tears down"
    );
    let context = seen[0].context.as_ref().unwrap();
    assert!(!context.is_main_thread);
    let stats = alloc.stats();
    assert_eq!(stats.frame.frames_completed, 2, "both frames ran");
    assert_eq!(
        stats.frame.idle_arenas, stats.frame.arenas,
        "every arena went back"
    );
}

#[test]
#[allow(
    unsafe_code,
    reason = "handing a block to the wrong allocator needs the unsafe Allocator API"
)]
fn fa201_when_a_frame_is_handed_memory_it_did_not_allocate() {
    use allocator_api2::alloc::Allocator;
    use std::alloc::Layout;

    let first = SmartAlloc::with_defaults();
    let second = SmartAlloc::with_defaults();
    let frame_a = first.begin_frame();
    let frame_b = second.begin_frame();
    let layout = Layout::new::<[u64; 4]>();
    let block = frame_a.allocate(layout).unwrap().cast::<u8>();
    let owned = frame_b.allocate(layout).unwrap().cast::<u8>();
    let _later = frame_b.allocate(layout).unwrap(); // so `owned` is not the last block

    let capture = Capture::start();
    // SAFETY: `block` is a live block of `layout`; it was allocated by
    // `frame_a`, so this breaks the Allocator contract on purpose (frames
    // ignore frees, so nothing is corrupted).
    unsafe { frame_b.deallocate(block, layout) };
    // SAFETY: `owned` is a live block of `frame_b` with `layout`.
    unsafe { frame_b.deallocate(owned, layout) };
    let seen = capture.finish();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        (seen[0].code, seen[0].kind),
        ("FA201", DiagnosticKind::Error)
    );
    assert!(
        seen[0]
            .note
            .as_deref()
            .unwrap()
            .contains("did not allocate it")
    );
}
