//! The `debug` feature (`cargo test -p framealloc-suite --test all --features debug`): the leak
//! report names the line of every live pool, heap, group, handle and
//! streaming allocation, grouped by site; fresh `*_uninit` memory reads `0xCD`; and
//! nothing the allocator reports changes.
//!
//! FA203 (a free of memory that is not live) cannot be reached through the
//! public API: no raw free exists, and boxes, groups and handles free their
//! memory exactly once. Its check is tested inside the crate
//! (`diagnostics::leaks`, which calls the observer's free twice), as is the
//! poisoning of a freed pool slot (`allocators::pool::boxes`, where the
//! slot can be read soundly after the pool hands it out again).

use std::mem::MaybeUninit;

use framealloc::diagnostics::{Capture, Intent, LeakReport, UNINIT_BYTE};

use crate::counting::calls_on_this_thread;
use framealloc::{AllocConfig, AllocationTag, HeapBox, PoolBox, SmartAlloc, StreamPriority};

/// A report's entries as (line, intent, count, bytes), in report order;
/// every entry must name this file.
fn sites(report: &LeakReport) -> Vec<(u32, Intent, usize, usize)> {
    report
        .entries
        .iter()
        .map(|site| {
            assert_eq!(site.file, file!(), "{site:?}");
            (site.line, site.intent, site.count, site.bytes)
        })
        .collect()
}

#[test]
fn the_leak_report_names_each_live_box_by_line() {
    let alloc = SmartAlloc::with_defaults();
    assert!(alloc.leak_report().is_empty());
    let capture = Capture::start();

    let a = alloc.pool_box(1u64).unwrap();
    let line_a = line!() - 1;
    let enemies: Vec<PoolBox<[u64; 4]>> = (0..3).map(|i| alloc.pool_box([i; 4]).unwrap()).collect();
    let line_enemies = line!() - 1;
    let texture = alloc.heap_box([0u8; 5000]).unwrap();
    let line_texture = line!() - 1;
    let scores = alloc.pool_alloc::<[u32; 5]>().unwrap();
    let line_scores = line!() - 1;
    let table = alloc.pool_box_with(|| [7u16; 100]).unwrap();
    let line_table = line!() - 1;
    let grid = alloc.heap_alloc::<[u32; 25]>().unwrap();
    let line_grid = line!() - 1;
    let level = alloc.heap_box_with(|| [1u8; 300]).unwrap();
    let line_level = line!() - 1;
    let slot = alloc.pool_alloc_uninit::<u32>().unwrap();
    let line_slot = line!() - 1;
    let tiles = alloc.heap_alloc_uninit::<[u16; 64]>().unwrap();
    let line_tiles = line!() - 1;
    let big = alloc.pool_box([0u8; 8192]).unwrap(); // past the pool limit: heap
    let line_big = line!() - 1;

    let report = alloc.leak_report();
    assert_eq!(
        sites(&report),
        [
            (line_big, Intent::Heap, 1, 8192),
            (line_texture, Intent::Heap, 1, 5000),
            (line_level, Intent::Heap, 1, 300),
            (line_table, Intent::Pool, 1, 224), // 200 bytes: the 224-byte class
            (line_tiles, Intent::Heap, 1, 128),
            (line_grid, Intent::Heap, 1, 100),
            (line_enemies, Intent::Pool, 3, 96),
            (line_scores, Intent::Pool, 1, 24),
            (line_a, Intent::Pool, 1, 8),
            (line_slot, Intent::Pool, 1, 8),
        ]
    );
    assert_eq!(
        (report.total_count(), report.total_bytes()),
        (12, 8192 + 5000 + 300 + 224 + 128 + 100 + 96 + 24 + 8 + 8)
    );
    // `let a = alloc.pool_box(…)`: the call's column is its method name's.
    let first = report.entries.iter().find(|s| s.line == line_a).unwrap();
    assert_eq!((first.column, first.tag), (19, None));

    drop((a, texture, scores, table, grid, level, slot, tiles, big));
    assert_eq!(
        sites(&alloc.leak_report()),
        [(line_enemies, Intent::Pool, 3, 96)]
    );
    drop(enemies);
    let report = alloc.leak_report();
    assert!(report.is_empty(), "{report}");
    assert_eq!(report.to_string(), "no live allocations\n");
    assert!(
        capture.finish().is_empty(),
        "no FA203: every free was of live memory"
    );
}

#[test]
fn the_report_reads_as_a_table_largest_first_with_tags() {
    let alloc = SmartAlloc::with_defaults();
    let audio = AllocationTag::new("debug-feature-audio");
    let first = alloc.pool_box(0u128).unwrap();
    let line_first = line!() - 1;
    let second = alloc.pool_box(1u128).unwrap();
    let line_second = line!() - 1;
    let voice = alloc.with_tag(audio, || alloc.heap_box([0u8; 64]).unwrap());
    let line_voice = line!() - 1;
    let file = file!();
    assert_eq!(
        alloc.leak_report().to_string(),
        format!(
            "3 live allocations, 96 bytes\n  \
             1 × heap, 64 B at {file}:{line_voice}:48 (tag debug-feature-audio)\n  \
             1 × pool, 16 B at {file}:{line_first}:23\n  \
             1 × pool, 16 B at {file}:{line_second}:24\n"
        )
    );
    drop((first, second, voice));
    assert!(alloc.leak_report().is_empty());
}

#[test]
fn boxes_freed_on_another_thread_leave_the_report() {
    let alloc = SmartAlloc::with_defaults();
    let boxes: Vec<_> = (0..100u64).map(|i| alloc.pool_box(i).unwrap()).collect();
    let heap = alloc.heap_box([3u8; 6000]).unwrap();
    assert_eq!(alloc.leak_report().total_count(), 101);
    let seen = std::thread::spawn(move || {
        let capture = Capture::start();
        assert_eq!(boxes.iter().map(|b| **b).sum::<u64>(), 4950);
        drop(boxes);
        drop(heap);
        capture.finish()
    })
    .join()
    .unwrap();
    assert!(seen.is_empty(), "{seen:?}");
    assert!(alloc.leak_report().is_empty());
    // The slots come back to this thread and are recorded afresh.
    alloc.collect_remote_frees();
    let again = alloc.pool_box(5u64).unwrap();
    let line_again = line!() - 1;
    assert_eq!(
        sites(&alloc.leak_report()),
        [(line_again, Intent::Pool, 1, 8)]
    );
    drop(again);
}

#[test]
fn group_values_are_listed_until_the_group_is_freed() {
    let alloc = SmartAlloc::with_defaults();
    let groups = alloc.groups();
    let level = groups.create_group("debug-level");
    let hp = groups.alloc_val(&level, 100u32).unwrap();
    let line_hp = line!() - 1;
    let name = level.alloc_str("castle");
    let line_name = line!() - 1;
    let tiles = level.alloc_slice_fill_with(10, |i| i as u64);
    let line_tiles = line!() - 1;
    let other = groups.create_group("debug-other");
    let kept = other.alloc([1u8; 3]);
    let line_kept = line!() - 1;
    assert_eq!((*hp, &*name, tiles[9], kept[2]), (100, "castle", 9, 1));
    assert_eq!(
        sites(&alloc.leak_report()),
        [
            (line_tiles, Intent::Group, 1, 80),
            (line_name, Intent::Group, 1, 6),
            (line_hp, Intent::Group, 1, 4),
            (line_kept, Intent::Group, 1, 3),
        ]
    );
    groups.free_group(level);
    assert_eq!(
        sites(&alloc.leak_report()),
        [(line_kept, Intent::Group, 1, 3)]
    );
    drop(other);
    assert!(alloc.leak_report().is_empty());
}

#[test]
fn handles_are_listed_until_freed_and_followed_when_moved() {
    let alloc = SmartAlloc::with_defaults();
    let mut handles = alloc.handle_allocator();
    let capture = Capture::start();
    let all: Vec<_> = (0..4u64).map(|i| handles.alloc([i; 4]).unwrap()).collect();
    let line_all = line!() - 1;
    let name = handles.alloc(String::from("player")).unwrap();
    let line_name = line!() - 1;
    assert_eq!(
        sites(&alloc.leak_report()),
        [
            (line_all, Intent::Handle, 4, 128),
            (line_name, Intent::Handle, 1, size_of::<String>()),
        ]
    );
    handles.free(all[0]);
    let moved = handles.defragment();
    assert_eq!(moved.relocations.len(), 4); // all but the first slid down
    assert_eq!(
        sites(&alloc.leak_report()),
        [
            (line_all, Intent::Handle, 3, 96),
            (line_name, Intent::Handle, 1, size_of::<String>()),
        ]
    );
    // Freed at their new addresses: each free finds its record.
    for handle in &all[1..] {
        assert!(handles.free(*handle).is_some());
    }
    assert_eq!(handles.free(name).as_deref(), Some("player"));
    assert!(alloc.leak_report().is_empty());
    assert!(capture.finish().is_empty(), "no FA203 after the moves");
    let last = handles.alloc(9u32).unwrap();
    assert_eq!(alloc.leak_report().total_count(), 1);
    drop(handles); // dropping the allocator frees what it holds
    assert!(alloc.leak_report().is_empty());
    let _ = last;
}

#[test]
fn streamed_assets_are_listed_until_evicted_or_released() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_streaming_budget(1000));
    let streaming = alloc.streaming();
    let capture = Capture::start();
    let sky = streaming.reserve(400, StreamPriority::Low).unwrap();
    let line_sky = line!() - 1;
    let hero = streaming.reserve(300, StreamPriority::High).unwrap();
    let line_hero = line!() - 1;
    assert_eq!(
        sites(&alloc.leak_report()),
        [
            (line_sky, Intent::Streaming, 1, 400),
            (line_hero, Intent::Streaming, 1, 300),
        ]
    );
    streaming.begin_load(sky).unwrap().finish();
    let boss = streaming.reserve(500, StreamPriority::High).unwrap(); // evicts the sky
    let line_boss = line!() - 1;
    assert_eq!(
        sites(&alloc.leak_report()),
        [
            (line_boss, Intent::Streaming, 1, 500),
            (line_hero, Intent::Streaming, 1, 300),
        ]
    );
    streaming.release(hero).unwrap();
    streaming.release(sky).unwrap(); // evicted already: no bytes left
    assert_eq!(
        sites(&alloc.leak_report()),
        [(line_boss, Intent::Streaming, 1, 500)]
    );
    streaming.release(boss).unwrap();
    assert!(alloc.leak_report().is_empty());
    assert!(capture.finish().is_empty(), "no FA203");
}

#[test]
#[expect(unsafe_code, reason = "the fresh bytes are read through the boxes' raw pointers")]
fn uninit_constructors_fill_fresh_memory_with_0xcd() {
    let alloc = SmartAlloc::with_defaults();
    // A slot that held a value before: the fill replaces the old bytes.
    drop(alloc.pool_box([0x11u8; 48]).unwrap());
    let slot = alloc.pool_alloc_uninit::<[u8; 48]>().unwrap();
    let block = alloc.heap_alloc_uninit::<[u64; 1000]>().unwrap();
    // SAFETY: the constructors initialised every byte (the `debug` fill);
    // `u8` has no invalid values.
    let slot_bytes = unsafe { std::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), 48) };
    // SAFETY: as above, 8,000 bytes.
    let block_bytes = unsafe { std::slice::from_raw_parts(block.as_ptr().cast::<u8>(), 8000) };
    assert!(
        slot_bytes.iter().all(|&b| b == UNINIT_BYTE),
        "{slot_bytes:?}"
    );
    assert!(block_bytes.iter().all(|&b| b == UNINIT_BYTE));
    assert_eq!(UNINIT_BYTE, 0xCD);
    // Writing works as without the feature.
    let written = PoolBox::write(slot, [2; 48]);
    assert_eq!(written[47], 2);
    let _: HeapBox<MaybeUninit<[u64; 1000]>> = block;
}

#[test]
fn a_steady_churn_of_pool_boxes_makes_no_system_allocation() {
    let alloc = SmartAlloc::with_defaults();
    // The tracker's map grows while these are made, to twice their count.
    let mut boxes: Vec<_> = (0..100u64).map(|i| alloc.pool_box(i).unwrap()).collect();
    let before = calls_on_this_thread();
    // Every churn may leave a tombstone in the map; clearing them must
    // not make it grow.
    for i in 0..20_000 {
        boxes[i % 100] = alloc.pool_box(i as u64).unwrap();
    }
    assert_eq!(calls_on_this_thread() - before, 0);
    assert_eq!(alloc.leak_report().total_count(), 100);
}

/// A fixed workload over every intent; its figures are the ones documented
/// without the feature (`observe_pool_heap::attaching_hooks_changes_no_result`
/// and the README's examples).
#[test]
fn the_feature_changes_no_figure() {
    let alloc = SmartAlloc::with_defaults();
    let small: Vec<_> = (0..500u64).map(|i| alloc.pool_box(i).unwrap()).collect();
    let large: Vec<_> = (0..20)
        .map(|_| alloc.heap_box([0u8; 6000]).unwrap())
        .collect();
    assert!(small.iter().enumerate().all(|(i, b)| **b == i as u64));
    drop(small);
    let stats = alloc.stats();
    drop(large);
    assert_eq!(
        (
            stats.pool.allocations,
            stats.pool.deallocations,
            stats.heap.allocations,
            stats.heap.live_bytes,
            stats.pool_pages,
        ),
        (500, 500, 20, 120_000, 1)
    );
    let stats = alloc.stats();
    assert_eq!(
        (stats.allocation_count, stats.deallocation_count),
        (520, 520)
    );
    assert_eq!((stats.pool.live_bytes, stats.heap.live_bytes), (0, 0));

    let frame = alloc.begin_frame();
    let positions = frame.alloc_slice_fill_with(1024, |i| i as f32);
    assert_eq!(positions[10], 10.0);
    drop(positions);
    let report = frame.end();
    assert_eq!((report.allocations, report.bytes_used), (1, 4096));

    let groups = alloc.groups();
    let level = groups.create_group("debug-figures");
    level.alloc_slice_fill_with(100, |i| i as u32);
    let figures = groups.free_group(level);
    assert_eq!((figures.allocations, figures.bytes), (1, 400));
}
