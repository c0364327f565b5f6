//! Randomized use of one thread's frames, with every live value checked
//! after every step: boxes, slices, allocator-api2 `Box`es and `Vec`s that
//! grow, shrink and free in place, sub-scopes and nested root frames.
//!
//! Under Miri (strict provenance, Stacked Borrows) this is what catches a
//! cursor that takes the provenance of a caller's pointer: a freed block's
//! pointer covers only that block, so the next allocation through the
//! cursor would write outside it (issue 9, item 16).

use allocator_api2::boxed::Box as ApiBox;
use allocator_api2::vec::Vec as ApiVec;
use framealloc::{AllocConfig, Frame, FrameBox, SmartAlloc};

use crate::support::Rng;

/// Everything one frame (or scope) holds, with the value each item must
/// still have.
#[derive(Default)]
struct Held<'f> {
    boxes: Vec<(FrameBox<'f, u64>, u64)>,
    slices: Vec<(FrameBox<'f, [u32]>, u32)>,
    api_boxes: Vec<(ApiBox<[u64; 3], &'f Frame<'f>>, u64)>,
    vecs: Vec<(ApiVec<u64, &'f Frame<'f>>, u64)>,
}

impl<'f> Held<'f> {
    fn check(&self) {
        for (boxed, value) in &self.boxes {
            assert_eq!(**boxed, *value);
        }
        for (slice, seed) in &self.slices {
            assert!(slice.iter().enumerate().all(|(i, &v)| v == seed + i as u32));
        }
        for (boxed, value) in &self.api_boxes {
            assert_eq!(**boxed, [*value, value + 1, value + 2]);
        }
        for (vec, seed) in &self.vecs {
            assert!(vec.iter().enumerate().all(|(i, &v)| v == seed + i as u64));
        }
    }

    /// One random step on `frame`.
    fn step(&mut self, frame: &'f Frame<'f>, rng: &mut Rng, counter: &mut u64) {
        *counter += 1;
        let value = *counter * 1_000;
        match rng.below(12) {
            0 => self.boxes.push((frame.alloc(value), value)),
            1 => {
                let len = rng.below(40);
                let seed = value as u32;
                let slice = frame.alloc_slice_fill_with(len, |i| seed + i as u32);
                self.slices.push((slice, seed));
            }
            2 => self
                .api_boxes
                .push((ApiBox::new_in([value, value + 1, value + 2], frame), value)),
            3 | 4 => {
                let mut vec = ApiVec::new_in(frame);
                vec.extend((0..rng.below(20) as u64).map(|i| value + i));
                self.vecs.push((vec, value));
            }
            5 | 6 if !self.vecs.is_empty() => {
                // Grow the newest vector: in place while it is the last
                // allocation, copied otherwise.
                let (vec, seed) = self.vecs.last_mut().unwrap();
                let from = vec.len() as u64;
                vec.extend((from..from + rng.below(64) as u64).map(|i| *seed + i));
            }
            7 if !self.vecs.is_empty() => {
                let index = rng.below(self.vecs.len());
                let (vec, _) = &mut self.vecs[index];
                let keep = rng.below(vec.len() + 1);
                vec.truncate(keep);
                vec.shrink_to_fit();
            }
            8 if !self.api_boxes.is_empty() => {
                // Free the newest block: the cursor moves back over it.
                self.api_boxes.pop();
            }
            9 if !self.vecs.is_empty() => {
                self.vecs.pop();
            }
            10 if !self.boxes.is_empty() => {
                let index = rng.below(self.boxes.len());
                self.boxes.swap_remove(index);
            }
            _ => {
                let copy = frame.alloc_slice_copy(&[value as u32; 5]);
                assert_eq!(*copy, [value as u32; 5]);
            }
        }
        self.check();
    }
}

/// A scope (or a nested root frame) inside `frame`, with its own random
/// steps, while `outer`'s values stay checked.
fn nested(alloc: &SmartAlloc, frame: &mut Frame<'_>, rng: &mut Rng, counter: &mut u64, depth: u32) {
    let steps = rng.below(if cfg!(miri) { 12 } else { 40 });
    if rng.below(2) == 0 {
        let scope = frame.scope();
        run(alloc, &scope, rng, counter, steps, depth);
    } else {
        let root = alloc.begin_frame();
        run(alloc, &root, rng, counter, steps, depth);
    }
}

fn run(
    alloc: &SmartAlloc,
    frame: &Frame<'_>,
    rng: &mut Rng,
    counter: &mut u64,
    steps: usize,
    depth: u32,
) {
    let mut held = Held::default();
    for _ in 0..steps {
        held.step(frame, rng, counter);
        if depth < 2 && rng.below(16) == 0 {
            // A nested root frame on the same thread while this one holds
            // values (what a Bevy worker does when it steals a task).
            let mut inner = alloc.begin_frame();
            nested(alloc, &mut inner, rng, counter, depth + 1);
            held.check();
        }
    }
    held.check();
}

fn walk(seed: u64, config: AllocConfig, frames: usize) {
    let alloc = SmartAlloc::new(config);
    let mut rng = Rng(seed);
    let mut counter = 0;
    for _ in 0..frames {
        let mut frame = alloc.begin_frame();
        for _ in 0..3 {
            nested(&alloc, &mut frame, &mut rng, &mut counter, 0);
        }
        let steps = rng.below(if cfg!(miri) { 15 } else { 60 });
        run(&alloc, &frame, &mut rng, &mut counter, steps, 0);
    }
}

#[test]
fn freeing_the_newest_block_keeps_the_chunks_provenance() {
    // The five-line program of issue 9, item 16: under Miri the slice fill
    // wrote through the freed box's pointer.
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let boxed = ApiBox::new_in([1u64, 2, 3], &frame);
    drop(boxed);
    let next = frame.alloc_slice_fill_with(5, |k| k as u64);
    assert_eq!(*next, [0, 1, 2, 3, 4]);
}

#[test]
fn random_frame_use_keeps_every_value() {
    let frames = if cfg!(miri) { 3 } else { 60 };
    walk(0x5eed_0001, AllocConfig::default(), frames);
}

#[test]
fn random_frame_use_with_small_chunks_keeps_every_value() {
    // 1 KiB chunks: growth, rewinds and frees cross chunk boundaries.
    let frames = if cfg!(miri) { 3 } else { 60 };
    walk(
        0x5eed_0002,
        AllocConfig::default().with_frame_chunk_size(1024),
        frames,
    );
}
