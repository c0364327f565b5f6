//! Level loading with allocation groups: each level's data goes into one
//! group (tiles, entity records with destructors, names, a navigation
//! mesh built with a `Vec` whose buffer lives in the group); the game plays
//! a few frames with frame scratch memory; the level unloads with one
//! `free_group`, and the next loads. It prints each level's figures.
//!
//! Run it with `cargo run --release --example level_loading`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use framealloc::allocator_api2::vec::Vec as GroupVec;
use framealloc::{AllocConfig, AllocationTag, Group, SmartAlloc};

/// A map cell.
#[derive(Clone, Copy, Default)]
struct Tile {
    kind: u8,
    height: u8,
}

/// An entity's record. Its `String` lives on the global heap; the record
/// itself lives in the group, which runs its destructor at the unload.
struct Entity {
    name: String,
    position: [f32; 2],
    unloaded: Arc<AtomicUsize>,
}

impl Drop for Entity {
    fn drop(&mut self) {
        self.unloaded.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a level's loader returns: everything borrows the group.
struct Level<'g> {
    name: &'g str,
    tiles: &'g mut [Tile],
    entities: Vec<&'g mut Entity>,
    navmesh: GroupVec<[f32; 2], &'g Group>,
}

/// Loads level `number` into `group`.
fn load<'g>(
    group: &'g Group,
    number: usize,
    side: usize,
    unloaded: &Arc<AtomicUsize>,
) -> Level<'g> {
    let name = group.alloc_str(&format!("Level {number}"));
    let tiles = group.alloc_slice_fill_with(side * side, |i| Tile {
        kind: ((i * 7 + number) % 5) as u8,
        height: (i % 13) as u8,
    });
    let entities = (0..side * 4)
        .map(|i| {
            group.alloc(Entity {
                name: format!("entity {i}"),
                position: [(i % side) as f32, (i / side) as f32],
                unloaded: unloaded.clone(),
            })
        })
        .collect();
    // A collection built incrementally: its buffer grows inside the group.
    let mut navmesh = GroupVec::new_in(group);
    for (i, tile) in tiles.iter().enumerate() {
        if tile.kind == 0 {
            navmesh.push([(i % side) as f32, (i / side) as f32]);
        }
    }
    Level {
        name,
        tiles,
        entities,
        navmesh,
    }
}

/// One frame of play: frame scratch for the visible entities.
fn play_frame(alloc: &SmartAlloc, level: &mut Level<'_>, frame_number: usize) -> usize {
    let frame = alloc.begin_frame();
    let camera = (frame_number % 64) as f32;
    let visible = frame.alloc_slice_fill_with(level.entities.len(), |i| {
        (level.entities[i].position[0] - camera).abs() < 16.0
    });
    let seen = visible.iter().filter(|v| **v).count();
    // Label the first visible entity, in frame memory.
    if let Some(first) = visible.iter().position(|v| *v) {
        let label = frame.alloc_str(&level.entities[first].name);
        assert!(label.starts_with("entity"));
    }
    for entity in level.entities.iter_mut() {
        entity.position[1] += 0.01;
    }
    let height: u32 = level
        .tiles
        .iter()
        .take(64)
        .map(|t| u32::from(t.height))
        .sum();
    seen + (height as usize % 2)
}

fn main() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let levels_tag = AllocationTag::new("levels");
    // A hard limit on level memory: a level that does not fit is refused
    // with FA302 instead of taking the machine down.
    alloc
        .budgets()
        .set_tag_limits(levels_tag, None, Some(64 << 20))
        .unwrap();
    let unloaded = Arc::new(AtomicUsize::new(0));
    let groups = alloc.groups();

    println!(
        "{:<8} {:>8} {:>9} {:>9} {:>11} {:>13} {:>9} {:>9} {:>10}",
        "level",
        "tiles",
        "entities",
        "navmesh",
        "allocations",
        "bytes",
        "reserved",
        "load",
        "unload"
    );
    for (number, side) in [(1, 512), (2, 1024), (3, 256), (4, 2048)] {
        let group = alloc.with_tag(levels_tag, || {
            groups.create_group(&format!("level_{number}"))
        });
        let started = Instant::now();
        let mut level = load(&group, number, side, &unloaded);
        let load_time = started.elapsed();
        let mut seen = 0;
        for frame_number in 0..120 {
            seen += play_frame(&alloc, &mut level, frame_number);
        }
        let (tiles, entities, navmesh) =
            (level.tiles.len(), level.entities.len(), level.navmesh.len());
        let name = level.name.to_owned();
        drop(level);
        let before = unloaded.load(Ordering::Relaxed);
        let started = Instant::now();
        let stats = groups.free_group(group);
        let unload_time = started.elapsed();
        assert_eq!(
            unloaded.load(Ordering::Relaxed) - before,
            entities,
            "every entity dropped"
        );
        assert_eq!(
            alloc.budgets().usage(levels_tag).used,
            0,
            "every byte returned"
        );
        println!(
            "{:<8} {:>8} {:>9} {:>9} {:>11} {:>9} KiB {:>5} KiB {:>6.2} ms {:>7.2} ms",
            name.trim_start_matches("Level "),
            tiles,
            entities,
            navmesh,
            stats.allocations,
            stats.bytes >> 10,
            stats.reserved_bytes >> 10,
            load_time.as_secs_f64() * 1e3,
            unload_time.as_secs_f64() * 1e3,
        );
        assert!(seen > 0);
    }
    let stats = alloc.stats();
    println!();
    println!(
        "groups freed: {}; group allocations: {}; entity destructors run: {}; level bytes still held: {}",
        stats.groups.groups_freed,
        stats.groups.allocations,
        unloaded.load(Ordering::Relaxed),
        stats.groups.reserved_bytes,
    );
    println!(
        "frames: {} ({} bytes of scratch in total, one arena reused)",
        stats.frame.frames_completed, stats.frame.bytes_allocated
    );
    println!("columns: allocations = values, slices, strings and collection blocks in the group;");
    println!(
        "bytes = what they hold; reserved = the group's chunks (what the `levels` budget was charged);"
    );
    println!(
        "load = building the level in the group; unload = `free_group` (destructors + returning chunks)."
    );
}
