//! `TagGuard`, `StrictModeGuard` and `Capture` dropped out of order: each
//! removes only its own setting, and what is in force is always the newest
//! live guard's (or the default when none is left).

use framealloc::diagnostics::Capture;
use framealloc::{AllocationTag, SmartAlloc, StrictMode, StrictModeGuard, fa_emit};

#[test]
fn tag_guards_dropped_out_of_order_leave_the_newest_live_tag_current() {
    let alloc = SmartAlloc::with_defaults();
    let (a, b, c) = (
        AllocationTag::new("guards-a"),
        AllocationTag::new("guards-b"),
        AllocationTag::new("guards-c"),
    );
    let outer = alloc.enter_tag(a);
    let inner = alloc.enter_tag(b);
    drop(outer);
    assert_eq!(
        AllocationTag::current(),
        Some(b),
        "the inner guard still lives"
    );
    let newest = alloc.enter_tag(c);
    drop(inner);
    assert_eq!(AllocationTag::current(), Some(c));
    drop(newest);
    assert_eq!(
        AllocationTag::current(),
        None,
        "no guard left: untagged, not `a`"
    );
}

#[test]
fn tag_guards_in_order_restore_in_turn() {
    let alloc = SmartAlloc::with_defaults();
    let (a, b) = (
        AllocationTag::new("guards-x"),
        AllocationTag::new("guards-y"),
    );
    let outer = alloc.enter_tag(a);
    let inner = alloc.enter_tag(b);
    drop(inner);
    assert_eq!(AllocationTag::current(), Some(a));
    drop(outer);
    assert_eq!(AllocationTag::current(), None);
}

#[test]
fn strict_guards_dropped_out_of_order_leave_the_newest_live_mode() {
    let default = StrictMode::current();
    let strict = StrictModeGuard::panic_on_warning();
    let relaxed = StrictModeGuard::new(StrictMode::Warn);
    drop(strict);
    assert_eq!(StrictMode::current(), StrictMode::Warn);
    let erroring = StrictModeGuard::panic_on_error();
    drop(relaxed);
    assert_eq!(StrictMode::current(), StrictMode::PanicOnError);
    drop(erroring);
    assert_eq!(
        StrictMode::current(),
        default,
        "no guard left: the process mode"
    );
}

#[test]
fn captures_dropped_out_of_order_end_only_themselves() {
    let outer = Capture::start();
    let inner = Capture::start();
    drop(outer);
    fa_emit!(FA102);
    let newest = Capture::start();
    fa_emit!(FA103);
    let codes = |seen: Vec<framealloc::diagnostics::Diagnostic>| {
        seen.iter().map(|d| d.code).collect::<Vec<_>>()
    };
    assert_eq!(codes(newest.take()), ["FA103"]);
    assert_eq!(
        codes(inner.take()),
        ["FA102"],
        "the inner capture kept capturing"
    );
    drop(inner);
    fa_emit!(FA101);
    assert_eq!(codes(newest.finish()), ["FA101"]);
}
