//! `&Frame` as an allocator-api2 allocator.

use allocator_api2::vec::Vec;
use framealloc::{AllocConfig, SmartAlloc};

#[test]
fn vec_in_a_frame_grows_in_place() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1 << 20));
    let frame = alloc.begin_frame();
    let mut values: Vec<u32, _> = Vec::with_capacity_in(4, &frame);
    let start = values.as_ptr();
    for i in 0..10_000 {
        values.push(i);
    }
    assert_eq!(
        values.as_ptr(),
        start,
        "growth of the last allocation must not move it"
    );
    assert_eq!(
        values.iter().map(|&v| u64::from(v)).sum::<u64>(),
        49_995_000
    );
    values.truncate(10);
    values.shrink_to_fit();
    assert_eq!(values.as_ptr(), start);
    drop(values);
    // Freeing the most recent allocation gives its bytes back.
    assert_eq!(frame.report().bytes_used, 0);
}

#[test]
fn vec_growth_after_another_allocation_copies_correctly() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let mut a: Vec<u64, _> = Vec::new_in(&frame);
    let mut b: Vec<u64, _> = Vec::new_in(&frame);
    for i in 0..1_000 {
        a.push(i);
        b.push(i * 2);
    }
    assert!(a.iter().enumerate().all(|(i, &v)| v == i as u64));
    assert!(b.iter().enumerate().all(|(i, &v)| v == 2 * i as u64));
}

#[test]
fn over_aligned_elements_in_a_vec() {
    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(align(256))]
    struct Wide(u8);
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    frame.alloc(1u8);
    let mut wide: Vec<Wide, _> = Vec::new_in(&frame);
    for i in 0..50 {
        wide.push(Wide(i));
        assert_eq!(wide.as_ptr() as usize % 256, 0);
    }
    assert_eq!(wide[49], Wide(49));
}

#[test]
fn hashbrown_map_in_a_frame() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let mut map = hashbrown::HashMap::new_in(&frame);
    for i in 0..500u32 {
        map.insert(i, i * 3);
    }
    assert_eq!(map.len(), 500);
    assert_eq!(map[&77], 231);
}

#[test]
fn collection_allocation_failure_is_an_error_not_a_crash() {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_frame_arena_size(4096)
            .with_frame_chunk_size(4096),
    );
    let frame = alloc.begin_frame();
    let mut values: Vec<u8, _> = Vec::new_in(&frame);
    assert!(values.try_reserve(1 << 20).is_err());
    assert!(values.try_reserve(100).is_ok());
}

#[test]
fn an_older_frame_freeing_below_a_newer_frames_start_keeps_its_figures() {
    // Issue 9, item 18: the older root frame's newest block sits right
    // below the newer frame's start; freeing it must not move the cursor
    // below that start (the newer frame's report read 0 bytes).
    let alloc = SmartAlloc::with_defaults();
    let older = alloc.begin_frame();
    let mut kept: Vec<u64, _> = Vec::new_in(&older);
    kept.extend(0..8);
    let newer = alloc.begin_frame();
    let value = newer.alloc(5u64);
    assert_eq!(newer.report().bytes_used, 8);
    drop(kept);
    assert_eq!(
        newer.report().bytes_used,
        8,
        "the newer frame's figures stay true"
    );
    let more = newer.alloc(6u64);
    assert_eq!(newer.report().bytes_used, 16);
    assert_eq!((*value, *more), (5, 6));
    // And with nothing allocated by the newer frame yet.
    let fresh = alloc.begin_frame();
    let mut below: Vec<u8, _> = Vec::new_in(&older);
    below.push(1);
    let newest = alloc.begin_frame();
    drop(below);
    assert_eq!(newest.report().bytes_used, 0);
    let x = newest.alloc(1u32);
    assert_eq!(newest.report().bytes_used, 8);
    drop(x);
    drop((newest, fresh));
}
