//! The groups intent: destructors at the free, in order and exactly once;
//! figures, budgets and tags; collections in group memory; threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use framealloc::allocator_api2::vec::Vec as ApiVec;
use framealloc::diagnostics::Capture;
use framealloc::{AllocConfig, AllocationTag, Group, SmartAlloc};

use crate::support::{count, panic_text};

/// Counts drops in a shared counter.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn free_group_drops_every_value_once_and_returns_the_memory() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let groups = alloc.groups();
    let drops = Arc::new(AtomicUsize::new(0));
    let level = groups.create_group("level");
    let n = count(100_000, 500);
    for _ in 0..n {
        level.alloc(Dropped(drops.clone()));
    }
    let plain = level.alloc_slice_fill_with(1000, |i| i as u64);
    assert_eq!(plain[999], 999);
    let stats = level.stats();
    assert_eq!(stats.allocations, n as u64 + 1);
    assert_eq!(stats.bytes, (n * 8 + 8000) as u64);
    // One destructor record per chunk the run of `Dropped` spans; the
    // `u64`s need none.
    assert!(stats.drop_runs <= stats.chunks, "{stats:?}");
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    assert_eq!(
        alloc.budgets().global_usage().used as u64,
        stats.reserved_bytes
    );

    let report = groups.free_group(level);
    assert_eq!(report, stats);
    assert_eq!(drops.load(Ordering::Relaxed), n);
    assert_eq!(alloc.budgets().global_usage().used, 0);
    let after = alloc.stats();
    assert_eq!(after.groups.reserved_bytes, 0);
    assert_eq!(after.groups.groups_freed, 1);
    assert_eq!(after.allocation_count, after.deallocation_count);
}

#[test]
fn dropping_the_group_token_frees_it_too() {
    let alloc = SmartAlloc::with_defaults();
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let level = alloc.groups().create_group("level");
        level.alloc(Dropped(drops.clone()));
        level.alloc(Dropped(drops.clone()));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert_eq!(alloc.stats().groups.live_groups, 0);
}

#[test]
fn a_panicking_destructor_does_not_stop_the_others() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    let alloc = SmartAlloc::with_defaults();
    let drops = Arc::new(AtomicUsize::new(0));
    let level = alloc.groups().create_group("level");
    level.alloc(Dropped(drops.clone()));
    level.alloc(Bomb);
    level.alloc(Dropped(drops.clone()));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        alloc.groups().free_group(level)
    }));
    assert_eq!(panic_text(outcome.unwrap_err().as_ref()), "bomb");
    assert_eq!(drops.load(Ordering::Relaxed), 2, "both neighbours dropped");
    assert_eq!(alloc.stats().groups.reserved_bytes, 0, "memory returned");
}

#[test]
fn a_panic_while_filling_drops_what_was_made() {
    let alloc = SmartAlloc::with_defaults();
    let drops = Arc::new(AtomicUsize::new(0));
    let level = alloc.groups().create_group("level");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        level.alloc_slice_fill_with(10, |i| {
            assert!(i < 4, "loader failed at {i}");
            Dropped(drops.clone())
        });
    }));
    assert!(outcome.is_err());
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "the four made are dropped at once"
    );
    drop(level);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "and not again at the free"
    );
}

#[test]
fn values_drop_in_allocation_order_across_types() {
    use std::sync::Mutex;
    struct Logged(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Drop for Logged {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0);
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let alloc = SmartAlloc::with_defaults();
    let level = alloc.groups().create_group("level");
    level.alloc(Logged("texture", log.clone()));
    level.alloc(String::from("between"));
    level.alloc(Logged("mesh", log.clone()));
    level.alloc_slice_from_iter([Logged("a", log.clone()), Logged("b", log.clone())]);
    drop(level);
    assert_eq!(*log.lock().unwrap(), ["texture", "mesh", "a", "b"]);
}

#[test]
fn zero_sized_and_overaligned_values() {
    #[repr(align(4096))]
    struct Page([u8; 4096]);
    let drops = Arc::new(AtomicUsize::new(0));
    let alloc = SmartAlloc::with_defaults();
    let group = alloc.groups().create_group("g");
    group.alloc(1u8);
    let page = group.alloc(Page([7; 4096]));
    assert_eq!((page as *mut Page).addr() % 4096, 0);
    assert_eq!(page.0[4095], 7);
    let units = group.alloc_slice_fill_with(1000, |_| ());
    assert_eq!(units.len(), 1000);
    for _ in 0..3 {
        group.alloc(Dropped(drops.clone()));
    }
    drop(group);
    assert_eq!(drops.load(Ordering::Relaxed), 3);
}

#[test]
fn a_level_sized_collection_is_counted_at_its_real_size() {
    #[derive(Clone, Copy, Default)]
    struct Tile {
        _kind: u16,
        _height: u16,
    }
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let level = alloc.groups().create_group("level");
    let n = count(1 << 20, 1 << 10); // 4 MiB of tiles natively
    let mut tiles: ApiVec<Tile, &Group> = ApiVec::with_capacity_in(n, &level);
    tiles.resize(n, Tile::default());
    let bytes = (n * size_of::<Tile>()) as u64;
    assert_eq!(level.stats().bytes, bytes);
    assert!(alloc.budgets().global_usage().used as u64 >= bytes);
    assert!(alloc.stats().groups.reserved_bytes >= bytes);
    // Pushing past the capacity grows the last block in place when the
    // chunk has room, or moves it to a fresh one: either way the contents
    // survive.
    tiles.push(Tile {
        _kind: 3,
        _height: 4,
    });
    assert_eq!(tiles.len(), n + 1);
    drop(tiles);
    drop(level);
    assert_eq!(alloc.budgets().global_usage().used, 0);
}

#[test]
fn a_collection_grows_in_place_and_gives_its_block_back() {
    let alloc = SmartAlloc::with_defaults();
    let group = alloc.groups().create_group("g");
    let mut values: ApiVec<u32, &Group> = ApiVec::new_in(&group);
    values.push(0);
    let start = values.as_ptr();
    values.extend(1..1000);
    assert_eq!(values.as_ptr(), start, "grown in place");
    assert_eq!(group.stats().bytes, values.capacity() as u64 * 4);
    drop(values);
    assert_eq!(group.stats().bytes, 0, "the most recent block went back");
}

#[test]
fn hard_limits_refuse_with_fa301_and_fa302() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let capture = Capture::start();
    alloc
        .budgets()
        .set_global_limits(None, Some(100 << 10))
        .unwrap();
    let level = alloc.groups().create_group("level");
    level.alloc(1u64); // a 64 KiB chunk
    let err = level.try_alloc([0u8; 64 << 10]).unwrap_err();
    assert_eq!(err.code(), "FA301");

    alloc.budgets().set_global_limits(None, None).unwrap();
    let audio = AllocationTag::new("audio");
    alloc
        .budgets()
        .set_tag_limits(audio, None, Some(32 << 10))
        .unwrap();
    let music = alloc.with_tag(audio, || alloc.groups().create_group("music"));
    let err = music.try_alloc_slice_fill_with(16, |_| 0u8).unwrap_err();
    assert_eq!(err.code(), "FA302");
    assert_eq!(alloc.budgets().usage(audio).used, 0);
    let codes: Vec<_> = capture.finish().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["FA301", "FA302"]);

    alloc.budgets().set_tag_limits(audio, None, None).unwrap();
    music.alloc(1u8);
    assert_eq!(
        alloc.budgets().usage(audio).used,
        64 << 10,
        "charged to the tag"
    );
    drop(music);
    assert_eq!(alloc.budgets().usage(audio).used, 0);
}

#[test]
fn a_refused_alloc_panics_with_the_code_at_the_caller() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc.budgets().set_global_limits(None, Some(1024)).unwrap();
    let group = alloc.groups().create_group("g");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.alloc(1u8)));
    let text = panic_text(outcome.unwrap_err().as_ref());
    assert!(
        text.contains("[FA301]") && text.contains("help: "),
        "{text}"
    );
}

#[test]
fn alloc_val_refuses_a_group_of_another_allocator_with_fa201() {
    let one = SmartAlloc::with_defaults();
    let other = SmartAlloc::with_defaults();
    let group = one.groups().create_group("g");
    let capture = Capture::start();
    let err = other.groups().alloc_val(&group, 5u32).unwrap_err();
    assert_eq!(err.code(), "FA201");
    assert_eq!(capture.finish()[0].code, "FA201");
    assert_eq!(group.stats().allocations, 0, "nothing was allocated");
    assert_eq!(*one.groups().alloc_val(&group, 5u32).unwrap(), 5);
}

#[test]
fn a_group_filled_on_a_loader_thread_is_read_on_workers() {
    let alloc = SmartAlloc::with_defaults();
    let drops = Arc::new(AtomicUsize::new(0));
    let level = alloc.groups().create_group("level");
    let loader_drops = drops.clone();
    let level = std::thread::spawn(move || {
        for _ in 0..100 {
            level.alloc(Dropped(loader_drops.clone()));
        }
        level.alloc_slice_fill_with(count(100_000, 100), |i| i as u32);
        level
    })
    .join()
    .unwrap();
    let tiles = level.alloc_slice_fill_with(count(10_000, 10), |i| i as u64);
    let total: u64 = std::thread::scope(|s| {
        let (left, right) = tiles.split_at(tiles.len() / 2);
        let a = s.spawn(|| left.iter().sum::<u64>());
        let b = s.spawn(|| right.iter().sum::<u64>());
        a.join().unwrap() + b.join().unwrap()
    });
    let n = count(10_000, 10) as u64;
    assert_eq!(total, n * (n - 1) / 2);
    // Freed on yet another thread: the destructors run there.
    std::thread::spawn(move || drop(level)).join().unwrap();
    assert_eq!(drops.load(Ordering::Relaxed), 100);
    assert_eq!(alloc.stats().groups.reserved_bytes, 0);
}

#[test]
fn groups_are_listed_with_their_figures() {
    let alloc = SmartAlloc::with_defaults();
    let a = alloc.groups().create_group("terrain");
    let b = alloc.groups().create_group("audio");
    a.alloc_str("hello");
    b.alloc([0u8; 100]);
    let stats = alloc.stats();
    let listed: Vec<_> = stats
        .groups
        .per_group
        .iter()
        .map(|g| (g.name.as_str(), g.allocations, g.bytes))
        .collect();
    assert_eq!(listed, [("terrain", 1, 5), ("audio", 1, 100)]);
    assert_eq!(stats.groups.bytes, 105);
    assert_eq!(stats.allocation_count, 2);
    drop(a);
    assert_eq!(alloc.groups().stats().per_group[0].name, "audio");
    drop(b);
}
