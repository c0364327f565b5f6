//! Issue 15 item 6: `alloc_slice_fill_iter` with any iterator (growing in
//! place), `alloc_fmt` / `frame_format!`, and `SmartAlloc::frame`.

use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use framealloc::{AllocConfig, Frame, SmartAlloc, frame_format};

/// Counts its drops in a shared cell.
#[derive(Debug)]
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Yields `0..end` while announcing a fixed, possibly false, size hint.
struct Liar {
    next: u64,
    end: u64,
    hint: (usize, Option<usize>),
}

impl Iterator for Liar {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        (self.next < self.end).then(|| {
            self.next += 1;
            self.next - 1
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.hint
    }
}

fn liar(end: u64, hint: (usize, Option<usize>)) -> Liar {
    Liar { next: 0, end, hint }
}

#[test]
fn a_filter_collects_exactly_and_grows_in_place() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let kept = frame.alloc_slice_fill_iter((0..1000u32).filter(|i| i % 3 == 0));
    let expected: Vec<u32> = (0..1000).step_by(3).collect();
    assert_eq!(kept.len(), 334);
    assert_eq!(*kept, *expected);
    // One block, grown in place and trimmed to its 334 values: no waste.
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (334 * 4, 1));
}

#[test]
fn size_hints_that_lie_low_or_high_give_the_items_yielded() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    // An "exact" hint of 2 for 5 items: the fast path then grows.
    let low = frame.alloc_slice_fill_iter(liar(5, (2, Some(2))));
    assert_eq!(*low, [0, 1, 2, 3, 4]);
    assert_eq!(frame.report().bytes_used, 5 * 8);
    // An "exact" hint of 10 for 3 items: the unused tail goes back.
    let high = frame.alloc_slice_fill_iter(liar(3, (10, Some(10))));
    assert_eq!(*high, [0, 1, 2]);
    assert_eq!(frame.report().bytes_used, 8 * 8);
    // An upper bound that is too small, and a lower bound that is too big.
    let past_upper = frame.alloc_slice_fill_iter(liar(6, (1, Some(2))));
    assert_eq!(*past_upper, [0, 1, 2, 3, 4, 5]);
    assert_eq!(frame.report().bytes_used, 14 * 8);
    let below_lower = frame.alloc_slice_fill_iter(liar(2, (8, None)));
    assert_eq!(*below_lower, [0, 1]);
    assert_eq!(frame.report().bytes_used, 16 * 8);
    let empty = frame.alloc_slice_fill_iter(liar(0, (4, None)));
    assert!(empty.is_empty());
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (16 * 8, 5));
}

/// Yields 0, 1, then `None` once, then 2, 3, 4: an iterator that is not
/// fused, announcing exactly 4 items.
struct Hiccup {
    next: u64,
    paused: bool,
}

impl Iterator for Hiccup {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.next == 2 && !self.paused {
            self.paused = true;
            return None;
        }
        (self.next < 5).then(|| {
            self.next += 1;
            self.next - 1
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (4, Some(4))
    }
}

#[test]
fn an_iterator_that_resumes_after_none_is_collected_whole() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let values = frame.alloc_slice_fill_iter(Hiccup {
        next: 0,
        paused: false,
    });
    assert_eq!(*values, [0, 1, 2, 3, 4]);
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (5 * 8, 1));
}

#[test]
fn growth_moves_the_slice_when_another_allocation_came_in_between() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    // Alone, ten values grow in place: 4, then 8, then 10 slots, one block.
    let alone = frame.alloc_slice_fill_iter((0..10u64).filter(|_| true));
    assert_eq!(*alone, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (80, 1));
    drop(alone);
    drop(frame);

    let frame = alloc.begin_frame();
    let side = Cell::new(0);
    let values = frame.alloc_slice_fill_iter((0..10u64).filter(|_| true).inspect(|&i| {
        if i == 2 {
            // Another allocation after the slice's first block (4 slots).
            frame.alloc(0u64);
            side.set(side.get() + 1);
        }
    }));
    assert_eq!(*values, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(side.get(), 1);
    // 32 bytes (4 slots, left behind) + 8 (the other allocation) + 80 (the
    // block of 8 slots it moved to, grown in place to 10).
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (32 + 8 + 80, 3));
}

#[test]
fn a_panicking_iterator_drops_exactly_the_values_collected() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let drops = Rc::new(Cell::new(0));
    let made = |i: usize| {
        if i == 7 {
            panic!("item 7");
        }
        Counted(drops.clone())
    };
    // The growing path (a filter)...
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        frame.alloc_slice_fill_iter((0..20).filter(|_| true).map(made));
    }));
    assert!(outcome.is_err());
    assert_eq!(drops.get(), 7);
    assert_eq!(frame.report().bytes_used, 0, "the unwound block went back");
    // ...the exact path...
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        frame.alloc_slice_fill_iter((0..20).map(made));
    }));
    assert!(outcome.is_err());
    assert_eq!(drops.get(), 14);
    // ...and an exact hint that was too low, past the hint.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        frame.alloc_slice_fill_iter(liar(20, (3, Some(3))).map(|i| made(i as usize)));
    }));
    assert!(outcome.is_err());
    assert_eq!(drops.get(), 21);
    // The frame still works, and a finished slice drops each value once.
    let fine = frame.alloc_slice_fill_iter((0..5).filter(|_| true).map(made));
    assert_eq!((fine.len(), drops.get()), (5, 21));
    drop(fine);
    assert_eq!(drops.get(), 26);
}

#[test]
fn a_refusal_mid_growth_drops_the_values_and_returns_fa003() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(1024));
    let frame = alloc.begin_frame();
    let (made, drops) = (Cell::new(0), Rc::new(Cell::new(0)));
    let error = frame
        .try_alloc_slice_fill_iter((0..10_000).filter(|_| true).map(|_| {
            made.set(made.get() + 1);
            Counted(drops.clone())
        }))
        .unwrap_err();
    assert_eq!(error.code(), "FA003");
    // 128 values fill the 1024-byte arena; the 129th finds no room.
    assert_eq!((made.get(), drops.get()), (129, 129));
    // The partial slice's block went back to the arena.
    assert_eq!(frame.report().bytes_used, 0);
}

#[test]
fn zero_sized_values_need_no_memory() {
    thread_local!(static ZST_DROPS: Cell<usize> = const { Cell::new(0) });
    struct Marker;
    impl Drop for Marker {
        fn drop(&mut self) {
            ZST_DROPS.with(|d| d.set(d.get() + 1));
        }
    }
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let units = frame.alloc_slice_fill_iter((0..1000).filter(|i| i % 3 == 0).map(|_| ()));
    assert_eq!(units.len(), 334);
    let past_hint = frame.alloc_slice_fill_iter(liar(5, (2, Some(2))).map(|_| ()));
    assert_eq!(past_hint.len(), 5);
    let markers = frame.alloc_slice_fill_iter((0..10).filter(|i| i % 2 == 0).map(|_| Marker));
    assert_eq!(markers.len(), 5);
    assert_eq!(frame.report().bytes_used, 0);
    drop(markers);
    assert_eq!(ZST_DROPS.with(Cell::get), 5);
}

/// Writes "ab" `count` times, one write each.
struct Pairs(usize);

impl fmt::Display for Pairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.0 {
            f.write_str("ab")?;
        }
        Ok(())
    }
}

/// Writes "abcd" three times and allocates from the frame after the first.
struct Interrupting<'f, 'a>(&'f Frame<'a>);

impl fmt::Display for Interrupting<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("abcd")?;
        self.0.alloc(0u64);
        f.write_str("abcd")?;
        f.write_str("abcd")
    }
}

#[test]
fn alloc_fmt_writes_into_the_frame_and_counts_its_bytes() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let short = frame.alloc_fmt(format_args!("{}-{}", 12, "ab"));
    assert_eq!(short, "12-ab");
    assert_eq!(frame.report().bytes_used, 8);
    let literal = frame.alloc_fmt(format_args!("no arguments"));
    assert_eq!(literal, "no arguments");
    assert_eq!(frame.report().bytes_used, 8 + 16);
    // 300 writes grow one block in place (8, 16, ... 1024 bytes) and the
    // tail past 600 goes back.
    let long = frame.alloc_fmt(format_args!("{}", Pairs(300)));
    assert_eq!(*long, "ab".repeat(300));
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (8 + 16 + 600, 3));
    let empty = frame.alloc_fmt(format_args!("{}", Pairs(0)));
    assert_eq!(empty, "");
    assert_eq!(frame.report().bytes_used, 8 + 16 + 600);
}

#[test]
fn alloc_fmt_moves_when_the_formatting_allocates() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let text = frame.alloc_fmt(format_args!("{}", Interrupting(&frame)));
    assert_eq!(text, "abcdabcdabcd");
    // 8 bytes left behind + 8 (the Display's allocation) + 16 (the block it
    // moved to, trimmed from 16 to 12 bytes, which round up to 16).
    let report = frame.report();
    assert_eq!((report.bytes_used, report.allocations), (8 + 8 + 16, 3));
}

#[test]
fn try_alloc_fmt_returns_fa003_when_the_arena_is_full() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(1024));
    let frame = alloc.begin_frame();
    let error = frame
        .try_alloc_fmt(format_args!("{}", Pairs(2048)))
        .unwrap_err();
    assert_eq!(error.code(), "FA003");
    // The partial text's block went back to the arena.
    assert_eq!(frame.report().bytes_used, 0);
    assert_eq!(
        frame.try_alloc_fmt(format_args!("{}", Pairs(2))).unwrap(),
        "abab"
    );
    assert_eq!(frame.report().bytes_used, 8);
}

#[test]
fn frame_format_takes_a_frame_or_a_reference() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let (name, hp) = ("ogre", 70);
    let owned = frame_format!(frame, "{name}: {hp} HP");
    assert_eq!(owned, "ogre: 70 HP");
    let by_ref: &Frame<'_> = &frame;
    let padded = frame_format!(by_ref, "{:>5}|{:<3}|", 42, 'x');
    assert_eq!(padded, "   42|x  |");
    assert_eq!(frame.report().bytes_used, 16 + 16);
}

#[test]
fn smart_alloc_frame_runs_the_closure_in_a_frame_and_ends_it() {
    let alloc = SmartAlloc::with_defaults();
    let before = alloc.stats().frame.frames_completed;
    let (count, bytes) = alloc.frame(|frame| {
        let kept = frame.alloc_slice_fill_iter((0..1000u32).filter(|i| i % 3 == 0));
        (kept.len(), frame.report().bytes_used)
    });
    assert_eq!((count, bytes), (334, 1336));
    assert_eq!(alloc.stats().frame.frames_completed, before + 1);
    // The arena was reset: the next frame starts empty.
    let fresh = alloc.frame(|frame| frame.report().bytes_used);
    assert_eq!(fresh, 0);
}
