//! Frames on many threads, boxes read by scoped threads, arenas handed over
//! when threads exit, and frames opened while a thread tears down.

use std::cell::RefCell;
use std::sync::{Arc, Barrier};
use std::thread;

use framealloc::{FrameBox, SmartAlloc};

fn threads() -> usize {
    if cfg!(miri) { 3 } else { 8 }
}

#[test]
fn many_threads_each_run_their_own_frames() {
    let alloc = SmartAlloc::with_defaults();
    let start = Arc::new(Barrier::new(threads()));
    let rounds = if cfg!(miri) { 3 } else { 100 };
    let handles: Vec<_> = (0..threads())
        .map(|t| {
            let alloc = alloc.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for round in 0..rounds {
                    let frame = alloc.begin_frame();
                    let data = frame.alloc_slice_fill_with(256, |i| (t, round, i));
                    // Another thread scribbling into this arena would show here.
                    assert!(data.iter().enumerate().all(|(i, &v)| v == (t, round, i)));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let stats = alloc.stats();
    assert_eq!(stats.frame.frames_completed, (threads() * rounds) as u64);
    assert!(
        stats.frame.arenas <= threads(),
        "one arena per live thread at most"
    );
}

#[test]
fn scoped_threads_read_and_fill_frame_boxes() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let table = frame.alloc_slice_fill_with(1_000, |i| i as u64);
    let mut out = frame.alloc_slice_fill_with(2, |_| 0u64);
    let (left, right) = out.split_at_mut(1);
    thread::scope(|scope| {
        scope.spawn(|| left[0] = table[..500].iter().sum());
        scope.spawn(|| right[0] = table[500..].iter().sum());
    });
    assert_eq!(out[0] + out[1], 499_500);

    // A whole box can move into a scoped thread and be dropped there.
    let moved: FrameBox<'_, String> = frame.alloc(String::from("sent"));
    let len = thread::scope(|scope| scope.spawn(move || moved.len()).join().unwrap());
    assert_eq!(len, 4);
}

#[test]
fn an_exited_threads_arena_goes_to_the_next_thread() {
    let alloc = SmartAlloc::with_defaults();
    for _ in 0..4 {
        let alloc = alloc.clone();
        thread::spawn(move || {
            let frame = alloc.begin_frame();
            drop(frame.alloc([0u8; 128]));
        })
        .join()
        .unwrap();
    }
    let stats = alloc.stats();
    assert_eq!(
        stats.frame.arenas, 1,
        "each new thread adopts the idle arena"
    );
    assert_eq!(stats.frame.idle_arenas, 1);
    assert_eq!(stats.frame.chunk_allocations, 1, "and keeps its warm chunk");
}

#[test]
fn a_thread_that_exits_with_a_frame_open_retires_its_arena() {
    use std::sync::LazyLock;
    static SHARED: LazyLock<SmartAlloc> = LazyLock::new(SmartAlloc::with_defaults);
    thread_local! {
        static KEPT: RefCell<Option<framealloc::Frame<'static>>> = const { RefCell::new(None) };
    }
    thread::spawn(|| {
        let frame = SHARED.begin_frame();
        drop(frame.alloc(5u64));
        KEPT.with(|kept| *kept.borrow_mut() = Some(frame));
    })
    .join()
    .unwrap();
    thread::spawn(|| {
        let frame = SHARED.begin_frame();
        assert_eq!(*frame.alloc(6u64), 6);
    })
    .join()
    .unwrap();
    let stats = SHARED.stats();
    // Depending on which thread-local the first thread dropped first, its
    // arena was either retired (a second arena exists) or handed over after
    // the kept frame ended; both are sound, neither may crash.
    assert!(stats.frame.arenas <= 2);
}

#[test]
fn frames_work_while_a_thread_tears_down() {
    struct OpensAFrameOnDrop(SmartAlloc);
    impl Drop for OpensAFrameOnDrop {
        fn drop(&mut self) {
            let frame = self.0.begin_frame();
            let value = frame.alloc_slice_fill_with(64, |i| i as u32);
            assert_eq!(value[63], 63);
        }
    }
    thread_local! {
        static LATE: RefCell<Option<OpensAFrameOnDrop>> = const { RefCell::new(None) };
    }
    let alloc = SmartAlloc::with_defaults();
    let inner = alloc.clone();
    thread::spawn(move || {
        // Registered before framealloc's own thread-local is first touched, so
        // it is destroyed after it: its frame is opened during teardown.
        LATE.with(|late| *late.borrow_mut() = Some(OpensAFrameOnDrop(inner.clone())));
        drop(inner.begin_frame());
    })
    .join()
    .unwrap();
    let stats = alloc.stats();
    assert_eq!(stats.frame.frames_completed, 2);
    assert_eq!(
        stats.frame.idle_arenas, stats.frame.arenas,
        "every arena went back"
    );
}

#[test]
fn boxes_outlive_nothing_but_the_allocator_may_be_dropped_after_frames() {
    let alloc = SmartAlloc::with_defaults();
    let clone = alloc.clone();
    {
        let frame = clone.begin_frame();
        drop(frame.alloc(1u64));
    }
    drop(alloc);
    // The clone still works after the original handle is gone.
    let frame = clone.begin_frame();
    assert_eq!(*frame.alloc(2u64), 2);
}

#[test]
fn an_arena_left_with_a_frame_open_is_never_handed_to_another_thread() {
    // A thread that leaks an open frame (here with `mem::forget`) exits:
    // its arena must be retired, never given to the next thread, whose
    // frames would otherwise share it with a frame that never ends.
    let alloc = SmartAlloc::with_defaults();
    // Explicit joins: a scope's implicit join does not wait for the
    // thread-local destructors, which are where the arena is given back.
    thread::scope(|s| {
        s.spawn(|| {
            let frame = alloc.begin_frame();
            FrameBox::leak(frame.alloc([1u64; 4]));
            std::mem::forget(frame);
        })
        .join()
        .unwrap();
    });
    thread::scope(|s| {
        s.spawn(|| {
            let frame = alloc.begin_frame();
            let value = frame.alloc(2u64);
            assert_eq!(*value, 2);
            drop(value);
            frame.end();
        })
        .join()
        .unwrap();
    });
    let stats = alloc.stats().frame;
    assert_eq!((stats.arenas, stats.idle_arenas), (2, 1), "{stats:?}");
    assert_eq!(stats.frames_completed, 1);
}

#[test]
fn spare_chunks_given_back_leave_the_arena_holding_what_it_kept() {
    // A scope brings in more chunks and rewinds; the frame's end gives them
    // to the shared pool, and the figures follow.
    let alloc = SmartAlloc::new(framealloc::AllocConfig::default().with_frame_chunk_size(1024));
    let mut frame = alloc.begin_frame();
    FrameBox::leak(frame.alloc(0u64));
    let held_in_scope = {
        let scope = frame.scope();
        for i in 0..3 {
            FrameBox::leak(scope.alloc([i as u8; 1020]));
        }
        assert!(scope.report().chunks >= 3);
        scope.report().chunks
    };
    let reserved_in_scope = {
        // Published when the frame ends; read it from the next stats.
        drop(frame);
        let stats = alloc.stats().frame;
        assert_eq!(
            (stats.chunks_held, stats.reserved_bytes),
            (1, 1024),
            "{stats:?}"
        );
        assert_eq!(stats.pooled_chunks, held_in_scope - 1, "{stats:?}");
        stats.reserved_bytes + stats.pooled_bytes
    };
    // The next frame grows again from what it kept: the pool serves it.
    let calls = alloc.stats().frame.chunk_allocations;
    let frame = alloc.begin_frame();
    for i in 0..3 {
        FrameBox::leak(frame.alloc([i as u8; 1020]));
    }
    assert_eq!(alloc.stats().frame.chunk_allocations, calls);
    assert!(reserved_in_scope > 1024);
}
