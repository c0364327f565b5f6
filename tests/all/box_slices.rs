//! Slice boxes (`PoolBox<[T]>`, `HeapBox<[T]>`) and values built in place:
//! contents, exact counting in statistics and budgets, drops on success,
//! panic and refusal, frees from other threads, and a 16 MiB array that a
//! debug build could not first build on the stack.

#![expect(unsafe_code, reason = "zeroed and uninitialised boxes are taken as initialised")]

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use framealloc::{AllocConfig, AllocError, AllocationTag, HeapBox, PoolBox, SmartAlloc};

use crate::support::CountedRef;

#[test]
fn every_slice_constructor_holds_its_values_on_both_intents() {
    let alloc = SmartAlloc::with_defaults();
    let names = [String::from("ada"), String::from("bo")];

    let filled: PoolBox<[u32]> = alloc.pool_box_slice_fill_with(4, |i| i as u32 * 3).unwrap();
    let cloned = alloc.pool_box_slice_clone(&names).unwrap();
    let exact = alloc.pool_box_slice_from_iter(10..14u8).unwrap();
    let filtered = alloc
        .pool_box_slice_from_iter((0..10u8).filter(|n| n % 3 == 0))
        .unwrap();
    let moved = alloc
        .pool_box_slice_from_vec(vec![String::from("x"); 3])
        .unwrap();
    assert_eq!(&*filled, &[0, 3, 6, 9]);
    assert_eq!(&*cloned, &names);
    assert_eq!(&*exact, &[10, 11, 12, 13]);
    assert_eq!(&*filtered, &[0, 3, 6, 9]);
    assert_eq!(moved.concat(), "xxx");

    let filled: HeapBox<[u64]> = alloc.heap_box_slice_fill_with(3, |i| 1 << i).unwrap();
    let cloned = alloc.heap_box_slice_clone(&names).unwrap();
    let filtered = alloc.heap_box_slice_from_iter("a-b-c".split('-')).unwrap();
    let moved = alloc.heap_box_slice_from_vec(vec![7u8; 5]).unwrap();
    assert_eq!(&*filled, &[1, 2, 4]);
    assert_eq!(&*cloned, &names);
    assert_eq!(&*filtered, &["a", "b", "c"]);
    assert_eq!(&*moved, &[7; 5]);
}

#[test]
fn slices_are_counted_exactly_and_given_back_on_drop() {
    let alloc = SmartAlloc::with_defaults();
    let before = alloc.stats();
    let heap = alloc.heap_box_slice_fill_with(1000, |i| i as u32).unwrap();
    assert_eq!(alloc.stats().heap.live_bytes, before.heap.live_bytes + 4000);
    // 10 `u64`s: an 80-byte pool class.
    let pooled = alloc.pool_box_slice_fill_with(10, |i| i as u64).unwrap();
    assert_eq!(alloc.stats().pool.live_bytes, before.pool.live_bytes + 80);
    drop((heap, pooled));
    let after = alloc.stats();
    assert_eq!(after.heap.live_bytes, before.heap.live_bytes);
    assert_eq!(after.pool.live_bytes, before.pool.live_bytes);
}

#[test]
#[cfg_attr(miri, ignore = "16 MiB written byte by byte is too slow under Miri")]
fn a_16_mib_array_is_built_in_place_and_counts_16_mib_in_stats_and_budgets() {
    const SIZE: usize = 16 << 20;
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let textures = AllocationTag::new("textures");
    let _tag = alloc.enter_tag(textures);
    // A debug build would build `[0u8; SIZE]` on an 8 MiB stack first and
    // overflow it; zeroed room plus `assume_init` never touches the stack.
    let zeroed = alloc.heap_alloc_zeroed::<[u8; SIZE]>().unwrap();
    // SAFETY: zero bytes are a valid `[u8; SIZE]`.
    let mut pixels: HeapBox<[u8; SIZE]> = unsafe { HeapBox::assume_init(zeroed) };
    pixels[SIZE - 1] = 9;
    assert_eq!((pixels[0], pixels[SIZE - 1]), (0, 9));
    assert_eq!(alloc.stats().heap.live_bytes, SIZE as u64);
    assert_eq!(alloc.budgets().usage(textures).used, SIZE);
    assert_eq!(alloc.budgets().global_usage().used, SIZE);
    // The same size as a runtime-length slice.
    let row = alloc.heap_box_slice_fill_with(SIZE, |_| 1u8).unwrap();
    assert_eq!(alloc.stats().heap.live_bytes, 2 * SIZE as u64);
    assert_eq!(alloc.budgets().usage(textures).used, 2 * SIZE);
    drop((pixels, row));
    assert_eq!(alloc.stats().heap.live_bytes, 0);
    assert_eq!(alloc.budgets().usage(textures).used, 0);
}

#[test]
fn a_panicking_maker_drops_what_it_made_and_gives_the_memory_back() {
    let drops = Cell::new(0);
    let alloc = SmartAlloc::with_defaults();
    for heap in [false, true] {
        drops.set(0);
        let before = alloc.stats();
        let make = |i: usize| {
            assert!(i < 3, "the fourth value fails");
            CountedRef(&drops)
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            if heap {
                drop(alloc.heap_box_slice_fill_with(8, make));
            } else {
                drop(alloc.pool_box_slice_fill_with(8, make));
            }
        }));
        assert!(result.is_err());
        assert_eq!(
            drops.get(),
            3,
            "the three values made were dropped (heap: {heap})"
        );
        let after = alloc.stats();
        assert_eq!(after.heap.live_bytes, before.heap.live_bytes);
        assert_eq!(after.pool.live_bytes, before.pool.live_bytes);
    }
}

/// Reports an exact length of 5 and yields 2 items.
struct Liar(usize);

impl Iterator for Liar {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        self.0 += 1;
        (self.0 <= 2).then(|| self.0.to_string())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (5, Some(5))
    }
}

#[test]
fn an_iterator_that_lies_about_its_length_panics_after_dropping_what_it_gave() {
    let alloc = SmartAlloc::with_defaults();
    let before = alloc.stats().heap.live_bytes;
    let panic =
        catch_unwind(AssertUnwindSafe(|| alloc.heap_box_slice_from_iter(Liar(0)))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("exact length of 5 but ended after 2"),
        "{message}"
    );
    assert_eq!(alloc.stats().heap.live_bytes, before);
}

#[test]
fn large_pool_slices_and_slices_freed_on_other_threads() {
    let alloc = SmartAlloc::with_defaults();
    // 8 KiB: above the largest pool class, so a heap block on the pool intent.
    let big: PoolBox<[u64]> = alloc.pool_box_slice_fill_with(1024, |i| i as u64).unwrap();
    let small = alloc.pool_box_slice_clone(&[1u16, 2, 3]).unwrap();
    let heap = alloc
        .heap_box_slice_from_vec(vec![String::from("far"); 2])
        .unwrap();
    let sum = std::thread::spawn(move || {
        let sum = big.iter().sum::<u64>() + small.iter().map(|&n| u64::from(n)).sum::<u64>();
        drop((big, small, heap));
        sum
    })
    .join()
    .unwrap();
    assert_eq!(sum, 1023 * 1024 / 2 + 6);
    alloc.collect_remote_frees();
    assert_eq!(alloc.stats().pool.live_bytes, 0);
    assert_eq!(alloc.stats().heap.live_bytes, 0);
}

#[test]
fn empty_and_zero_sized_slices_need_no_memory() {
    let alloc = SmartAlloc::with_defaults();
    let empty: HeapBox<[u64]> = alloc.heap_box_slice_from_vec(Vec::new()).unwrap();
    let units = alloc.pool_box_slice_fill_with(1000, |_| ()).unwrap();
    let none: PoolBox<[String]> = alloc.pool_box_slice_from_iter(std::iter::empty()).unwrap();
    assert_eq!((empty.len(), units.len(), none.len()), (0, 1000, 0));
    assert_eq!(
        PoolBox::as_ptr(&none).cast::<String>() as usize % align_of::<String>(),
        0
    );
    assert_eq!(
        alloc.stats().heap.live_bytes + alloc.stats().pool.live_bytes,
        0
    );
}

#[test]
fn a_refused_slice_counts_nothing_and_says_why() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc
        .budgets()
        .set_global_limits(None, Some(1 << 20))
        .unwrap();
    let refused = alloc
        .heap_box_slice_fill_with(1 << 20, |_| 0u32)
        .unwrap_err();
    assert_eq!(refused.code(), "FA301");
    let overflow = alloc
        .heap_box_slice_fill_with(usize::MAX / 2, |_| 0u32)
        .unwrap_err();
    assert!(
        matches!(overflow, AllocError::SizeOverflow { .. }),
        "{overflow}"
    );
    assert_eq!(alloc.stats().heap.live_bytes, 0);
    assert_eq!(alloc.budgets().global_usage().used, 0);
    // Uninitialised room, written and then taken as initialised.
    let mut room = alloc.pool_alloc_slice_uninit::<u8>(3).unwrap();
    room[0].write(1);
    room[1].write(2);
    room[2].write(3);
    // SAFETY: all three written above.
    let bytes = unsafe { PoolBox::assume_init_slice(room) };
    assert_eq!(&*bytes, &[1, 2, 3]);
}
