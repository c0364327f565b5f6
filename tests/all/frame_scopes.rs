//! Sub-scopes and nested frames on one thread.

use framealloc::{AllocConfig, FrameBox, SmartAlloc};

#[test]
fn a_scope_rewinds_so_the_same_address_comes_back() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    drop(frame.alloc(1u64));
    let mut seen = Vec::new();
    for round in 0..4u64 {
        let scope = frame.scope();
        let value = scope.alloc(round);
        seen.push(FrameBox::as_ptr(&value) as usize);
        assert_eq!(*value, round);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    // The outer frame allocates again after the scope, from the rewound spot.
    let after = frame.alloc(9u64);
    assert_eq!(FrameBox::as_ptr(&after) as usize, seen[0]);
}

#[test]
fn a_scope_rewinds_across_chunks() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let mut frame = alloc.begin_frame();
    let before = frame.report();
    {
        let scope = frame.scope();
        for _ in 0..100 {
            FrameBox::leak(scope.alloc([1u8; 256]));
        }
        assert!(scope.report().chunks > before.chunks);
    }
    assert_eq!(frame.report().bytes_used, before.bytes_used);
    assert_eq!(frame.report().chunks, before.chunks);
    // The chunks the scope brought in are reused, not allocated again.
    let chunk_calls = alloc.stats().frame.chunk_allocations;
    {
        let scope = frame.scope();
        for _ in 0..100 {
            FrameBox::leak(scope.alloc([2u8; 256]));
        }
    }
    assert_eq!(alloc.stats().frame.chunk_allocations, chunk_calls);
}

#[test]
fn nested_scopes_rewind_in_order() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let mut outer = frame.scope();
    let a = FrameBox::as_ptr(&outer.alloc(1u32)) as usize;
    {
        let inner = outer.scope();
        let b = inner.alloc(2u32);
        assert_ne!(FrameBox::as_ptr(&b) as usize, a);
    }
    let c = FrameBox::as_ptr(&outer.alloc(3u32)) as usize;
    assert_eq!(c, a + 8, "the inner scope's bytes came back");
    drop(outer);
    assert_eq!(frame.report().bytes_used, 0);
}

#[test]
fn nested_frames_keep_the_outer_frames_memory_intact() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let outer = alloc.begin_frame();
    let kept = outer.alloc_slice_fill_with(100, |i| i as u64);
    for round in 0..5u64 {
        // What a Bevy worker does when it runs a second frame system while
        // the first is suspended: a second frame on the same thread.
        let inner = alloc.begin_frame();
        let scratch = inner.alloc_slice_fill_with(500, |_| round);
        assert!(scratch.iter().all(|&v| v == round));
        drop(scratch);
        inner.end();
        // The arena must not have been reset under `kept`.
        assert!(kept.iter().enumerate().all(|(i, &v)| v == i as u64));
        let more = outer.alloc(round);
        assert_eq!(*more, round);
    }
    assert_eq!(
        alloc.stats().frame.frames_completed,
        0,
        "only the outermost end resets"
    );
    drop(kept);
    outer.end();
    assert_eq!(alloc.stats().frame.frames_completed, 1);
}

#[test]
fn frames_may_end_out_of_order() {
    let alloc = SmartAlloc::with_defaults();
    let first = alloc.begin_frame();
    let second = alloc.begin_frame();
    let a = first.alloc(1u64);
    let b = second.alloc(2u64);
    drop(a);
    first.end();
    assert_eq!(
        *b, 2,
        "ending the first frame must not reset memory the second uses"
    );
    let c = second.alloc(3u64);
    assert_eq!((*b, *c), (2, 3));
}

#[test]
fn a_scope_does_not_rewind_over_another_live_frame() {
    // Guard: a scope rewinds only if no other root frame was open on its
    // thread when it began. Here the other frame's value lands exactly at
    // the scope's checkpoint, so a rewind hands those bytes out again and
    // the next allocation overwrites it (issue 9, item 4).
    let alloc = SmartAlloc::with_defaults();
    let mut first = alloc.begin_frame();
    let second = alloc.begin_frame();
    let survivor;
    {
        let scope = first.scope();
        survivor = second.alloc(77u64);
        drop(scope);
    }
    let newcomer = second.alloc(1u64);
    assert_eq!(
        (*survivor, *newcomer),
        (77, 1),
        "the scope rewound over `second`"
    );
    assert_ne!(
        FrameBox::as_ptr(&newcomer) as usize,
        FrameBox::as_ptr(&survivor) as usize
    );
}

#[test]
fn a_scope_does_not_rewind_when_a_frame_began_inside_it() {
    // Guard: a scope never rewinds over a root frame that began while it
    // was open. That frame's value sits right at the scope's checkpoint and
    // outlives the scope, so a rewind would let the frame's next
    // allocation overwrite it (issue 9, item 4).
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let late;
    let value;
    {
        let scope = frame.scope();
        late = alloc.begin_frame();
        value = late.alloc(5u64);
        drop(scope);
    }
    let other = late.alloc(6u64);
    assert_eq!((*value, *other), (5, 6), "the scope rewound under `late`");
    assert_ne!(
        FrameBox::as_ptr(&value) as usize,
        FrameBox::as_ptr(&other) as usize
    );
}

#[test]
fn forgetting_a_scope_only_leaks_until_the_frame_ends() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    let scope = frame.scope();
    FrameBox::leak(scope.alloc([0u8; 64]));
    std::mem::forget(scope);
    assert_eq!(frame.report().bytes_used, 64);
    let value = frame.alloc(1u8);
    assert_eq!(*value, 1);
    drop(value);
    frame.end();
    assert_eq!(alloc.stats().frame.frames_completed, 1);
}

/// A frame whose scope took a second chunk and rewound out of it ends in
/// the first chunk, like the frames before it; the reset must still notice
/// the new chunk and give it back (a reset that looked only at where the
/// frame ended would keep it for ever).
#[test]
fn a_chunk_taken_inside_a_rewound_scope_is_given_back_at_the_reset() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    for _ in 0..3 {
        alloc.begin_frame().alloc([0u8; 64]); // steady: one chunk
    }
    assert_eq!(alloc.stats().frame.chunks_held, 1);
    {
        let mut frame = alloc.begin_frame();
        frame.alloc(1u64);
        {
            let scope = frame.scope();
            scope.alloc([0u8; 4096]); // a second chunk
            assert_eq!(scope.report().chunks, 2);
        } // rewound: back in the first chunk
        assert_eq!(frame.report().chunks, 1);
    }
    let stats = alloc.stats().frame;
    assert_eq!(
        (stats.chunks_held, stats.pooled_chunks),
        (1, 1),
        "the second chunk went back to the pool"
    );
    // And the arena is steady again: the next frames keep one chunk.
    for _ in 0..3 {
        alloc.begin_frame().alloc([0u8; 64]);
    }
    assert_eq!(alloc.stats().frame.chunks_held, 1);
}

/// `FrameReport`: `bytes_used` is net (what closed scopes gave back is not
/// in it), `peak_bytes` the most held at once, scopes included; a scope's
/// figures are its own, not an earlier sibling's.
#[test]
fn reports_give_net_and_peak_bytes_and_scopes_see_only_their_own_peak() {
    let alloc = SmartAlloc::with_defaults();
    let mut frame = alloc.begin_frame();
    drop(frame.alloc([0u8; 800]));
    {
        let mut big = frame.scope();
        drop(big.alloc([0u8; 4000]));
        {
            let deeper = big.scope();
            drop(deeper.alloc([0u8; 2000]));
            let report = deeper.report();
            assert_eq!((report.bytes_used, report.peak_bytes), (2000, 2000));
        }
        let report = big.report();
        assert_eq!((report.bytes_used, report.peak_bytes), (4000, 6000));
    }
    {
        // A later sibling: the first scope's 6000 bytes are not its peak.
        let small = frame.scope();
        drop(small.alloc([0u8; 16]));
        let report = small.report();
        assert_eq!((report.bytes_used, report.peak_bytes), (16, 16));
    }
    let report = frame.report();
    assert_eq!((report.bytes_used, report.peak_bytes), (800, 800 + 6000));
    assert_eq!(report.allocations, 4, "closed scopes' allocations count");
    let ended = frame.end();
    assert_eq!(ended.peak_bytes, 6800);
    assert_eq!(
        alloc.stats().frame.peak_frame_bytes,
        6800,
        "stats see the peak too"
    );
    // The next frame starts from nothing.
    let frame = alloc.begin_frame();
    drop(frame.alloc(1u64));
    assert_eq!(frame.end().peak_bytes, 8);
}
