//! Several frame systems in parallel over 10,000 entities for 300 frames,
//! under the multi-threaded executor, with every frame's results checked
//! against plain arithmetic and the arenas checked for growth.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;

use allocator_api2::vec::Vec as FrameVec;
use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use framealloc::bevy::{AllocFrameReport, AllocResource, SmartAllocPlugin};
use framealloc::{Frame, frame_system};

const ENTITIES: u64 = 10_000;
const FRAMES: u64 = 300;
const BUCKETS: usize = 16;

#[derive(Component)]
struct Pos(u64);

#[derive(Component)]
struct Vel(u64);

/// The threads that ran a frame system or a frame inside `par_iter`.
#[derive(Resource, Default)]
struct Threads(Mutex<HashSet<ThreadId>>);

impl Threads {
    fn record(&self) {
        self.0.lock().unwrap().insert(std::thread::current().id());
    }
}

#[derive(Resource, Default)]
struct Extremes {
    min: u64,
    max: u64,
    median: u64,
}

#[derive(Resource, Default)]
struct Buckets([u64; BUCKETS]);

#[derive(Resource, Default)]
struct NestedSum(AtomicU64);

fn advance(mut query: Query<(&mut Pos, &Vel)>) {
    for (mut pos, vel) in &mut query {
        pos.0 += vel.0;
    }
}

/// Sorts every position in frame memory.
#[frame_system]
fn extremes(frame: &Frame, query: Query<&Pos>, mut out: ResMut<Extremes>, threads: Res<Threads>) {
    threads.record();
    let mut sorted = frame.alloc_slice_fill_iter(query.iter().map(|pos| pos.0));
    sorted.sort_unstable();
    *out = Extremes {
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        median: sorted[sorted.len() / 2],
    };
}

/// Counts positions per bucket in a frame `Vec` grown one push at a time.
#[frame_system]
fn buckets(frame: &Frame, query: Query<&Pos>, mut out: ResMut<Buckets>, threads: Res<Threads>) {
    threads.record();
    let mut keys = FrameVec::new_in(frame);
    for pos in &query {
        keys.push((pos.0 % BUCKETS as u64) as u8);
    }
    let mut counts = frame.alloc([0u64; BUCKETS]);
    for key in keys.iter() {
        counts[usize::from(*key)] += 1;
    }
    out.0 = *counts;
}

/// A frame system whose `par_iter` opens a nested frame per entity on
/// whichever worker runs it.
#[frame_system]
fn nested(
    frame: &Frame,
    query: Query<&Pos>,
    alloc: Res<AllocResource>,
    out: Res<NestedSum>,
    threads: Res<Threads>,
) {
    threads.record();
    let outer = frame.alloc(3u64);
    out.0.store(0, Ordering::Relaxed);
    let alloc: &AllocResource = &alloc;
    query.par_iter().for_each(|pos| {
        let inner = alloc.begin_frame();
        let multiples = inner.alloc_slice_fill_with(4, |i| pos.0 * (i as u64 + 1));
        out.0
            .fetch_add(multiples.iter().sum::<u64>(), Ordering::Relaxed);
        threads.record();
    });
    assert_eq!(
        *outer, 3,
        "the outer frame's memory is untouched by nested frames"
    );
}

/// Positions after `frame + 1` advances, as plain arithmetic.
fn positions(frame: u64) -> Vec<u64> {
    (0..ENTITIES).map(|i| i + (i % 7) * (frame + 1)).collect()
}

#[test]
fn frame_systems_in_parallel_over_ten_thousand_entities_for_three_hundred_frames() {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .init_resource::<Threads>()
        .init_resource::<Extremes>()
        .init_resource::<Buckets>()
        .init_resource::<NestedSum>()
        .add_systems(Update, (extremes, buckets, nested).after(advance))
        .add_systems(Update, advance);
    app.world_mut()
        .spawn_batch((0..ENTITIES).map(|i| (Pos(i), Vel(i % 7))));

    let mut warm_reserved = None;
    let mut report_threads = HashSet::new();
    for frame in 0..FRAMES {
        app.update();
        let mut expected = positions(frame);
        let sum: u64 = expected.iter().sum();
        let mut counts = [0u64; BUCKETS];
        for pos in &expected {
            counts[(*pos % BUCKETS as u64) as usize] += 1;
        }
        expected.sort_unstable();

        let world = app.world();
        let got = world.resource::<Extremes>();
        assert_eq!(
            (got.min, got.max, got.median),
            (
                expected[0],
                expected[expected.len() - 1],
                expected[expected.len() / 2]
            ),
            "frame {frame}"
        );
        assert_eq!(world.resource::<Buckets>().0, counts, "frame {frame}");
        assert_eq!(
            world.resource::<NestedSum>().0.load(Ordering::Relaxed),
            10 * sum,
            "frame {frame}"
        );

        let report = world.resource::<AllocFrameReport>();
        assert_eq!(report.frame_number, frame);
        // Three frame systems plus one frame per entity. A frame nested in
        // another on the same thread (a worker running a system or a batch
        // while it waits inside `nested`'s `par_iter`) counts inside the
        // outer one, so the number of frames depends on the schedule; the
        // allocations and bytes do not.
        assert!(report.system_frames >= 1, "frame {frame}: {report:?}");
        assert!(
            report.allocations > ENTITIES + 2,
            "frame {frame}: {report:?}"
        );
        assert!(
            report.bytes >= 8 * ENTITIES + 32 * ENTITIES,
            "frame {frame}: {report:?}"
        );
        report_threads.extend(report.threads.iter().filter_map(|t| t.thread));

        let reserved = world
            .resource::<AllocResource>()
            .stats()
            .frame
            .reserved_bytes;
        if frame == 19 {
            warm_reserved = Some(reserved);
        } else if let Some(warm) = warm_reserved {
            assert_eq!(
                reserved, warm,
                "frame {frame}: the arenas grew after warming up"
            );
        }
    }
    let threads = app.world().resource::<Threads>().0.lock().unwrap().len();
    assert!(threads >= 2, "frame memory was used on {threads} thread(s)");
    assert!(report_threads.len() >= 2, "{report_threads:?}");
    let stats = app.world().resource::<AllocResource>().stats().frame;
    println!(
        "{threads} threads ran frames; {} arenas, {} bytes reserved, {} chunks taken in {FRAMES} frames",
        stats.arenas, stats.reserved_bytes, stats.chunk_allocations
    );
}
