//! A diagnostics sink that allocates: an in-game console that keeps its
//! lines in pool memory, behind its own lock (issue 9, item 12).
//!
//! When a thread allocates during its teardown, framealloc raises FA202,
//! which calls the sink, which allocates, which raised FA202 again: the
//! stack overflowed, or the sink deadlocked on its own lock. Diagnostics
//! raised inside the sink now go to stderr instead. This crashed the whole
//! process, so it runs in a binary of its own.

use std::cell::Cell;
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::thread;
use std::time::Duration;

use framealloc::diagnostics::{self, Diagnostic};
use framealloc::{PoolBox, SmartAlloc};

static ALLOC: LazyLock<SmartAlloc> = LazyLock::new(SmartAlloc::with_defaults);

/// The console: its lines live in pool memory, and it holds its lock while
/// it stores one.
static CONSOLE: Mutex<Vec<PoolBox<String>>> = Mutex::new(Vec::new());

fn console_sink(diagnostic: &Diagnostic) {
    let mut lines = CONSOLE.lock().unwrap();
    lines.push(ALLOC.pool_box(diagnostic.code.to_owned()).unwrap());
}

/// Allocates from `ALLOC` when the thread's locals are destroyed, after
/// framealloc's own (it is registered first, and destructors run in
/// reverse order).
struct AllocatesInTeardown;

impl Drop for AllocatesInTeardown {
    fn drop(&mut self) {
        let late = ALLOC.pool_box(7u64).unwrap();
        assert_eq!(*late, 7);
        let frame = ALLOC.begin_frame();
        assert_eq!(*frame.alloc(8u32), 8);
    }
}

thread_local! {
    static LATE: Cell<Option<AllocatesInTeardown>> = const { Cell::new(None) };
}

/// The sink is process-wide: one test of this binary at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn a_sink_that_allocates_during_teardown_does_not_recurse_or_deadlock() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    diagnostics::set_sink(console_sink);
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let worker = thread::spawn(|| {
            LATE.set(Some(AllocatesInTeardown));
            // Registers framealloc's thread-locals, after `LATE`.
            drop(ALLOC.pool_box(1u8).unwrap());
            ALLOC.begin_frame().end();
        });
        done.send(worker.join().is_ok()).unwrap();
    });
    let joined = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the thread finished (no deadlock)");
    assert!(joined, "the thread exited normally");
    diagnostics::reset_sink();
    let codes: Vec<String> = CONSOLE
        .lock()
        .unwrap()
        .iter()
        .map(|line| (**line).clone())
        .collect();
    assert_eq!(
        codes,
        ["FA202", "FA202"],
        "one FA202 per teardown allocation, none from inside the sink"
    );
}

#[test]
fn a_panicking_sink_does_not_take_the_allocation_down() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    diagnostics::set_sink(|_| panic!("console bug"));
    let alloc = SmartAlloc::new(framealloc::AllocConfig::default().with_frame_arena_size(4096));
    let frame = alloc.begin_frame();
    // FA003 goes to the sink, which panics; the error still comes back.
    let error = frame.try_alloc([0u8; 8192]).unwrap_err();
    assert_eq!(error.code(), "FA003");
    assert_eq!(*frame.alloc(5u8), 5, "the arena is fine");
    diagnostics::reset_sink();
}
