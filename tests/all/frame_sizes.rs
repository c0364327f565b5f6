//! Sizes that are not multiples of the arena's 8-byte granule, at every
//! place a raw size meets a rounded one: a fresh chunk sized for one
//! allocation, a spare chunk taken from the shared pool, growth of a
//! collection past the chunk size, and an arena limit that is not a
//! multiple of 8. Each either works or is refused with FA003; none reports
//! FA901 (issue 9, item 2).
#![allow(unsafe_code, reason = "the tests write through raw `alloc_layout` blocks")]

use std::alloc::Layout;

use allocator_api2::vec::Vec;
use framealloc::diagnostics::Capture;
use framealloc::{AllocConfig, AllocError, FrameBox, SmartAlloc};

/// Allocates `layout`, fills it with a pattern, and checks the pattern.
fn fill_and_check(frame: &framealloc::Frame<'_>, layout: Layout) -> Result<(), AllocError> {
    let block = frame.try_alloc_layout(layout)?;
    assert_eq!(block.as_ptr() as usize % layout.align(), 0);
    // SAFETY: the block is valid for `layout.size()` bytes until the frame ends.
    let bytes = unsafe { std::slice::from_raw_parts_mut(block.as_ptr(), layout.size()) };
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    Ok(())
}

#[test]
fn an_odd_layout_larger_than_the_chunk_size_gets_its_own_chunk() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    let sizes = if cfg!(miri) {
        [1_025, 4_097]
    } else {
        [100_001, 200_003]
    };
    for size in sizes {
        fill_and_check(&frame, Layout::from_size_align(size, 1).unwrap()).unwrap();
    }
    assert!(capture.finish().is_empty());
}

#[test]
fn an_odd_slice_copy_larger_than_the_chunk_size_works() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let frame = alloc.begin_frame();
    let len = if cfg!(miri) { 2_003 } else { 200_003 };
    let source: std::vec::Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    let copy = frame.try_alloc_slice_copy(&source).unwrap();
    assert_eq!(&*copy, &source[..]);
    // Then an allocation just over a 1 KiB chunk.
    drop(copy);
    fill_and_check(&frame, Layout::from_size_align(1_025, 1).unwrap()).unwrap();
}

#[test]
fn an_odd_spare_chunk_request_is_rounded_before_it_is_compared() {
    // With 1,025-byte chunks, a scope brings in a second 1,025-byte chunk
    // and rewinds; the frame's reset gives that spare chunk to the shared
    // pool. A later request for 1,025 bytes (1,032 once rounded) must not
    // take it.
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1_025));
    let mut frame = alloc.begin_frame();
    fill_and_check(&frame, Layout::from_size_align(8, 8).unwrap()).unwrap();
    {
        let scope = frame.scope();
        fill_and_check(&scope, Layout::from_size_align(1_000, 8).unwrap()).unwrap();
        fill_and_check(&scope, Layout::from_size_align(1_000, 8).unwrap()).unwrap();
        assert_eq!(scope.report().chunks, 2);
    }
    frame.end();
    assert_eq!(alloc.stats().frame.pooled_chunks, 1);
    assert_eq!(alloc.stats().frame.pooled_bytes, 1_025);
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    fill_and_check(&frame, Layout::from_size_align(1_016, 8).unwrap()).unwrap();
    for size in [1_025, 1_019, 1_031] {
        fill_and_check(&frame, Layout::from_size_align(size, 1).unwrap()).unwrap();
    }
    assert!(capture.finish().is_empty());
}

#[test]
fn an_odd_reserve_above_the_chunk_size_works() {
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let extra = if cfg!(miri) { 70_001 } else { 100_001 };
    let mut bytes: Vec<u8, _> = Vec::new_in(&frame);
    bytes.push(1);
    bytes.try_reserve_exact(extra).unwrap();
    bytes.extend((0..extra).map(|i| (i % 7) as u8));
    assert_eq!(bytes.len(), extra + 1);
    assert_eq!(bytes[extra], ((extra - 1) % 7) as u8);
    // The infallible `reserve` takes the same path and must not abort.
    let mut more: Vec<u8, _> = Vec::new_in(&frame);
    more.reserve_exact(65_537);
    more.extend(std::iter::repeat_n(9u8, 65_537));
    assert!(more.iter().all(|&b| b == 9));
}

#[test]
fn an_arena_limit_that_is_not_a_multiple_of_8_works_or_gives_fa003() {
    for limit in [1, 7, 9, 1_001, 4_097] {
        let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(limit));
        let frame = alloc.begin_frame();
        let capture = Capture::start();
        let mut used = 0usize;
        for size in [1usize, 3, 8, 13, 1_000] {
            match fill_and_check(&frame, Layout::from_size_align(size, 1).unwrap()) {
                Ok(()) => used += size.next_multiple_of(8),
                Err(error) => {
                    assert_eq!(error.code(), "FA003", "limit {limit}, size {size}: {error}");
                }
            }
        }
        assert!(used <= limit, "limit {limit}: {used} bytes handed out");
        for seen in capture.finish() {
            assert_eq!(seen.code, "FA003", "limit {limit}: {seen}");
        }
    }
    // A limit of 9 holds exactly one rounded 1-byte allocation.
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(9));
    let frame = alloc.begin_frame();
    assert_eq!(*frame.try_alloc(5u8).unwrap(), 5);
    let error = frame.try_alloc(6u8).unwrap_err();
    assert!(
        matches!(error, AllocError::ArenaExhausted { limit: 9, .. }),
        "{error:?}"
    );
}

#[test]
fn random_sizes_alignments_chunk_sizes_and_limits_never_report_fa901() {
    // A seeded walk over the shapes above (a port of bumpalo's
    // `alloc_layout` property tests to our limits): every allocation either
    // succeeds, aligned and intact, or is refused with FA003.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % bound as u64) as usize
    };
    let rounds = if cfg!(miri) { 4 } else { 60 };
    for _ in 0..rounds {
        let chunk = 1024 + next(5000);
        let limit = 1 + next(200_000);
        let alloc = SmartAlloc::new(
            AllocConfig::default()
                .with_frame_chunk_size(chunk)
                .with_frame_arena_size(limit),
        );
        for _ in 0..3 {
            let frame = alloc.begin_frame();
            let capture = Capture::start();
            let mut live: std::vec::Vec<(*const u8, usize, u8)> = std::vec::Vec::new();
            for step in 0..if cfg!(miri) { 8 } else { 40 } {
                let big = next(4) == 0;
                let size = 1 + next(if big { 20_000 } else { 300 });
                let align = 1 << next(13);
                let layout = Layout::from_size_align(size, align).unwrap();
                match frame.try_alloc_layout(layout) {
                    Ok(block) => {
                        assert_eq!(block.as_ptr() as usize % align, 0);
                        let mark = step as u8;
                        // SAFETY: valid for `size` bytes until the frame ends.
                        unsafe { block.as_ptr().write_bytes(mark, size) };
                        live.push((block.as_ptr(), size, mark));
                    }
                    Err(error) => assert_eq!(error.code(), "FA003", "{error}"),
                }
            }
            for &(ptr, size, mark) in &live {
                // SAFETY: as above; the frame is still open.
                let bytes = unsafe { std::slice::from_raw_parts(ptr, size) };
                assert!(bytes.iter().all(|&b| b == mark), "a block was overwritten");
            }
            for seen in capture.finish() {
                assert_eq!(seen.code, "FA003", "{seen}");
            }
        }
    }
}

#[test]
fn an_allocation_of_exactly_the_arena_limit_fits() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(1024));
    let frame = alloc.begin_frame();
    fill_and_check(&frame, Layout::from_size_align(1024, 8).unwrap()).unwrap();
    let error = frame.try_alloc(0u8).unwrap_err();
    assert!(
        matches!(
            error,
            AllocError::ArenaExhausted {
                requested: 8,
                reserved: 1024,
                limit: 1024
            }
        ),
        "{error:?}"
    );
}

#[test]
fn chunks_grow_geometrically_up_to_16_mib() {
    // 4 MiB of small values with 64 KiB first chunks: 64, 64, 128, 256,
    // 512 KiB, 1, 2 MiB, ... not 64 chunks of 64 KiB.
    let alloc = SmartAlloc::with_defaults();
    let frame = alloc.begin_frame();
    let count = if cfg!(miri) { 2_000 } else { 65_536 };
    for i in 0..count {
        FrameBox::leak(frame.alloc([i as u64; 8]));
    }
    let report = frame.report();
    assert_eq!(report.bytes_used, count * 64);
    assert!(report.chunks <= 8, "{report:?}");
}

#[test]
fn bytes_used_counts_every_chunk_a_frame_went_through() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let frame = alloc.begin_frame();
    for i in 0..100u64 {
        FrameBox::leak(frame.alloc([i; 3]));
    }
    let report = frame.report();
    assert!(report.chunks >= 3, "{report:?}");
    assert_eq!((report.bytes_used, report.allocations), (2400, 100));
}

#[test]
fn freeing_a_block_of_an_earlier_chunk_is_no_foreign_free() {
    // FA201 is for blocks the frame did not allocate; a block in one of its
    // earlier chunks is its own.
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let frame = alloc.begin_frame();
    let mut early: allocator_api2::vec::Vec<u64, _> = allocator_api2::vec::Vec::new_in(&frame);
    early.extend(0..16);
    for i in 0..200u64 {
        FrameBox::leak(frame.alloc(i));
    }
    assert!(frame.report().chunks >= 2);
    let capture = Capture::start();
    drop(early);
    assert_eq!(capture.finish(), []);
}
