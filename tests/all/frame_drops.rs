//! Destructors and `mem::forget`.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use framealloc::{FrameBox, SmartAlloc};

use crate::support::CountedRef;

struct Counted(Rc<Cell<usize>>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted(self.0.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn frame_boxes_run_each_destructor_exactly_once() {
    let drops = Rc::new(Cell::new(0));
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let one = frame.alloc(Counted(drops.clone()));
    let many = frame.alloc_slice_fill_with(10, |_| Counted(drops.clone()));
    let cloned = frame.alloc_slice_clone(&[Counted(drops.clone()), Counted(drops.clone())]);
    assert_eq!(
        drops.get(),
        2,
        "the two originals passed to alloc_slice_clone"
    );
    drop(one);
    assert_eq!(drops.get(), 3);
    drop(many);
    assert_eq!(drops.get(), 13);
    drop(cloned);
    assert_eq!(drops.get(), 15);
    frame.end();
    assert_eq!(drops.get(), 15, "ending the frame runs no destructor twice");
}

#[test]
fn into_inner_moves_out_without_dropping() {
    let drops = Rc::new(Cell::new(0));
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let inner = FrameBox::into_inner(frame.alloc(Counted(drops.clone())));
    assert_eq!(drops.get(), 0);
    drop(inner);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_panic_while_filling_a_slice_drops_what_was_made() {
    let drops = Rc::new(Cell::new(0));
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let result = catch_unwind(AssertUnwindSafe(|| {
        frame.alloc_slice_fill_with(10, |i| {
            assert!(i < 4, "stop at four");
            Counted(drops.clone())
        });
    }));
    assert!(result.is_err());
    assert_eq!(drops.get(), 4);
}

#[test]
fn a_panic_inside_a_frame_still_ends_it() {
    let alloc = SmartAlloc::with_defaults();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let frame = alloc.begin_frame();
        let _value = frame.alloc(5u64);
        panic!("gameplay bug");
    }));
    assert!(result.is_err());
    assert_eq!(alloc.stats().frame.frames_completed, 1);
    let frame = alloc.begin_frame();
    assert_eq!(frame.report().bytes_used, 0);
}

#[test]
fn forgetting_a_box_leaks_its_value_but_nothing_else() {
    let drops = Cell::new(0);
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    std::mem::forget(frame.alloc(CountedRef(&drops)));
    let leaked = FrameBox::leak(frame.alloc(CountedRef(&drops)));
    assert_eq!(leaked.0.get(), 0);
    frame.end();
    assert_eq!(drops.get(), 0);
    // The frame's memory was reclaimed all the same: the next frame starts
    // at the beginning of the arena.
    let frame = alloc.begin_frame();
    assert_eq!(frame.report().bytes_used, 0);
}

#[test]
fn forgetting_a_frame_leaks_it_and_later_frames_still_work() {
    let alloc = SmartAlloc::with_defaults();
    let forgotten = alloc.begin_frame();
    drop(forgotten.alloc(1u64));
    std::mem::forget(forgotten);
    for round in 0..3u64 {
        let frame = alloc.begin_frame();
        let value = frame.alloc(round);
        assert_eq!(*value, round);
    }
    // The forgotten frame is still "open", so the arena never resets; its
    // memory is leaked, not reused.
    assert_eq!(alloc.stats().frame.frames_completed, 0);
}
