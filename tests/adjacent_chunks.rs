//! Frame chunks placed side by side by the global allocator (issue 9,
//! item 8).
//!
//! mimalloc and jemalloc hand out small chunks back to back, so the last
//! block of one chunk can end exactly where the next chunk starts. This
//! binary installs a global allocator that always does that for
//! frame-chunk-shaped requests, then frees and grows the block that ends at
//! the cursor's chunk boundary: the arena must see that the block lies in
//! the previous chunk and leave the cursor alone.
#![allow(unsafe_code, reason = "a `GlobalAlloc` implementation is unsafe by definition")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use allocator_api2::boxed::Box as ApiBox;
use allocator_api2::vec::Vec as ApiVec;
use framealloc::{AllocConfig, SmartAlloc};

const REGION_SIZE: usize = 32 << 20;

/// Memory for the side-by-side blocks; never given back.
#[repr(C, align(4096))]
struct Region(UnsafeCell<[u8; REGION_SIZE]>);

// SAFETY: disjoint parts of the region are handed to callers through an
// atomic bump offset; the region itself is never read or written here.
unsafe impl Sync for Region {}

static REGION: Region = Region(UnsafeCell::new([0; REGION_SIZE]));
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Serves 64-aligned requests of 1 KiB or more (frame chunks) back to back
/// from `REGION`; everything else from `System`.
struct SideBySide;

thread_local! {
    /// Set by the test that runs now: only its own requests go side by
    /// side (`const`, no destructor: safe to read inside the allocator).
    static ARMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl SideBySide {
    fn serves(layout: Layout) -> bool {
        layout.align() == 64
            && layout.size() >= 1024
            && ARMED.try_with(|armed| armed.get()).unwrap_or(false)
    }

    fn in_region(ptr: *mut u8) -> bool {
        let start = REGION.0.get() as usize;
        (start..start + REGION_SIZE).contains(&(ptr as usize))
    }
}

// SAFETY: region blocks are disjoint (one atomic bump per block), aligned
// to 64 (offsets are multiples of 64 from a 4096-aligned start) and never
// reused; other requests are forwarded to `System`.
unsafe impl GlobalAlloc for SideBySide {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::serves(layout) {
            // SAFETY: forwarded from our caller.
            return unsafe { System.alloc(layout) };
        }
        let size = layout.size().next_multiple_of(64);
        let offset = NEXT.fetch_add(size, Ordering::Relaxed);
        if offset + size > REGION_SIZE {
            return std::ptr::null_mut();
        }
        REGION.0.get().cast::<u8>().wrapping_add(offset)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !Self::in_region(ptr) {
            // SAFETY: forwarded from our caller; the block came from `System`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static GLOBAL: SideBySide = SideBySide;

/// The tests of this binary run on parallel threads; one at a time keeps
/// each one's chunks side by side.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A frame whose first chunk is filled exactly by a vector of 128 `u64`s,
/// with the cursor moved into the next chunk (which starts where the vector
/// ends) and back to that chunk's start.
fn with_full_first_chunk(
    check: impl FnOnce(&framealloc::Frame<'_>, ApiVec<u64, &framealloc::Frame<'_>>),
) {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ARMED.set(true);
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_chunk_size(1024));
    let frame = alloc.begin_frame();
    let mut first: ApiVec<u64, _> = ApiVec::with_capacity_in(128, &frame);
    first.extend(0..128);
    assert_eq!(frame.report().chunks, 1);
    let spill = ApiBox::new_in(7u64, &frame);
    assert_eq!(frame.report().chunks, 2);
    let spill_at = &*spill as *const u64 as usize;
    assert_eq!(
        spill_at,
        first.as_ptr() as usize + 1024,
        "the test's global allocator placed the second chunk right after the first"
    );
    drop(spill); // the cursor is back at the second chunk's start
    check(&frame, first);
    drop(frame);
    drop(alloc);
    ARMED.set(false);
}

#[test]
fn freeing_a_block_that_ends_at_the_next_chunks_start_keeps_the_cursor() {
    with_full_first_chunk(|frame, first| {
        let before = frame.report();
        drop(first);
        assert_eq!(
            frame.report(),
            before,
            "the block was in the previous chunk"
        );
        let next = frame.alloc_slice_fill_with(100, |i| i as u32);
        assert!(next.iter().enumerate().all(|(i, &v)| v == i as u32));
        assert_eq!(frame.report().bytes_used, before.bytes_used + 400);
    });
}

#[test]
fn shrinking_a_block_that_ends_at_the_next_chunks_start_keeps_the_cursor() {
    with_full_first_chunk(|frame, mut first| {
        let before = frame.report();
        first.truncate(3);
        first.shrink_to_fit();
        assert_eq!(frame.report(), before);
        let next = frame.alloc([9u64; 16]);
        assert_eq!((*next, &first[..]), ([9; 16], &[0, 1, 2][..]));
    });
}

#[test]
fn growing_a_block_that_ends_at_the_next_chunks_start_moves_it() {
    with_full_first_chunk(|frame, mut first| {
        let start = first.as_ptr();
        first.extend(128..300);
        assert_ne!(first.as_ptr(), start, "it cannot grow into the next chunk");
        assert!(first.iter().enumerate().all(|(i, &v)| v == i as u64));
        let next = frame.alloc(1u64);
        assert_eq!(*next, 1);
        assert!(first.iter().enumerate().all(|(i, &v)| v == i as u64));
    });
}

#[test]
fn defragmenting_handle_chunks_that_sit_side_by_side_keeps_every_value() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ARMED.set(true);
    let mut handles = framealloc::HandleAllocator::new();
    // 256 values of 256 bytes fill the first 64 KiB chunk exactly; the next
    // 256 fill the second, which the global allocator put right after it.
    let all: Vec<_> = (0..512u32)
        .map(|i| handles.alloc([i; 64]).unwrap())
        .collect();
    let first = handles.resolve(all[255]).unwrap().addr().get();
    let second = handles.resolve(all[256]).unwrap().addr().get();
    assert_eq!(second, first + 256, "the chunks are side by side");
    // The last value of the first chunk and the first of the second now
    // move by the same distance, from adjacent addresses: a copy that
    // merged them would run across the chunk boundary.
    handles.free(all[0]);
    let report = handles.defragment();
    assert_eq!(report.relocations.len(), 511);
    for (i, h) in all.iter().enumerate().skip(1) {
        assert_eq!(handles.get(*h), Some(&[i as u32; 64]));
    }
    drop(handles);
    ARMED.set(false);
}
