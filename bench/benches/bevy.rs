//! P9 and P3 in a Bevy app: a system doing 10,000 scratch allocations per
//! run, with framealloc (`#[frame_system]`), with fresh `Vec`s (or `Box`es)
//! and with `Local<Vec>` reuse, in the same run, for two kinds of scratch:
//! lists of run-time length, and fixed-size arrays; and what a frame costs
//! a system run.
//!
//! Each case is its own `App` with `SmartAllocPlugin`, updated once so every
//! system is initialised, then timed running its `Update` schedule alone
//! (one system, single-threaded executor): the system's own cost, without
//! the other schedules of an `App::update`.
//!
//! ```text
//! cargo bench -p framealloc-bench --features bevy --bench bevy -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;
use bevy_ecs::system::ScheduleSystem;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framealloc::bevy::{FrameAlloc, SmartAllocPlugin};
use framealloc::{Frame, frame_system};

/// Scratch allocations per system run.
const SCRATCH: usize = 10_000;
/// Values in each scratch allocation.
const LEN: usize = 4;
/// Frames opened per run in the begin+end case.
const FRAMES: usize = 1_000;

#[derive(Resource, Default)]
struct Sink(u64);

fn value(i: usize, j: usize) -> u32 {
    (i * LEN + j) as u32
}

/// 10,000 scratch lists of 4 values, all alive until they are summed.
#[frame_system]
fn scratch_frame(frame: &Frame, mut sink: ResMut<Sink>) {
    let lists = frame.alloc_slice_fill_with(SCRATCH, |i| {
        frame.alloc_slice_fill_with(LEN, |j| value(i, j))
    });
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

#[frame_system]
fn scratch_frame_array(frame: &Frame, mut sink: ResMut<Sink>) {
    let lists = frame.alloc_slice_fill_with(SCRATCH, |i| {
        frame.alloc([value(i, 0), value(i, 1), value(i, 2), value(i, 3)])
    });
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

fn scratch_fresh_box_array(mut sink: ResMut<Sink>) {
    let lists: Vec<Box<[u32; LEN]>> = (0..SCRATCH)
        .map(|i| Box::new([value(i, 0), value(i, 1), value(i, 2), value(i, 3)]))
        .collect();
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

fn scratch_local_vec_array(mut sink: ResMut<Sink>, mut lists: Local<Vec<[u32; LEN]>>) {
    lists.clear();
    lists.extend((0..SCRATCH).map(|i| [value(i, 0), value(i, 1), value(i, 2), value(i, 3)]));
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

fn scratch_fresh_vec(mut sink: ResMut<Sink>) {
    let lists: Vec<Vec<u32>> = (0..SCRATCH)
        .map(|i| (0..LEN).map(|j| value(i, j)).collect())
        .collect();
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

fn scratch_local_vec(mut sink: ResMut<Sink>, mut lists: Local<Vec<Vec<u32>>>) {
    lists.resize_with(SCRATCH, Vec::new);
    for (i, list) in lists.iter_mut().enumerate() {
        list.clear();
        list.extend((0..LEN).map(|j| value(i, j)));
    }
    sink.0 = lists
        .iter()
        .map(|list| list.iter().map(|&v| u64::from(v)).sum::<u64>())
        .sum();
}

#[frame_system]
fn empty_frame_system(frame: &Frame) {
    black_box(frame);
}

fn empty_system() {
    black_box(());
}

fn begin_end_frame_alloc(frame_alloc: FrameAlloc) {
    for _ in 0..FRAMES {
        let frame = frame_alloc.begin_frame();
        black_box(&frame);
    }
}

fn begin_end_resource(alloc: Res<framealloc::bevy::AllocResource>) {
    for _ in 0..FRAMES {
        let frame = alloc.begin_frame();
        black_box(&frame);
    }
}

/// An app whose `Update` holds `system` alone, updated once.
fn app<M>(system: impl IntoScheduleConfigs<ScheduleSystem, M>) -> App {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .init_resource::<Sink>()
        .add_systems(Update, system)
        .edit_schedule(Update, |schedule| {
            schedule.set_executor(SingleThreadedExecutor::new());
        });
    app.update();
    app
}

/// Times each app's `Update` schedule in one group, `elements` per run;
/// with `expected`, first checks that every case computed that sum.
fn bench_apps<const N: usize>(
    c: &mut Criterion,
    group: &str,
    elements: usize,
    expected: Option<u64>,
    cases: [(&str, App); N],
) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(elements as u64));
    for (name, mut app) in cases {
        if let Some(expected) = expected {
            assert_eq!(app.world().resource::<Sink>().0, expected, "{name}");
        }
        group.bench_function(name, |b| {
            b.iter(|| app.world_mut().run_schedule(Update));
        });
    }
    group.finish();
}

fn scratch(c: &mut Criterion) {
    let expected = Some((0..SCRATCH * LEN).map(|v| v as u64).sum());
    // Each scratch allocation a list of run-time length (`Vec<u32>`-like).
    bench_apps(
        c,
        "bevy_scratch_10k",
        SCRATCH,
        expected,
        [
            ("framealloc", app(scratch_frame)),
            ("fresh_vec", app(scratch_fresh_vec)),
            ("local_vec", app(scratch_local_vec)),
        ],
    );
    // Each scratch allocation a fixed-size array (`Box<[u32; 4]>`-like).
    bench_apps(
        c,
        "bevy_scratch_10k_arrays",
        SCRATCH,
        expected,
        [
            ("framealloc", app(scratch_frame_array)),
            ("fresh_box", app(scratch_fresh_box_array)),
            ("local_vec", app(scratch_local_vec_array)),
        ],
    );
}

fn system_run(c: &mut Criterion) {
    bench_apps(
        c,
        "bevy_system_run",
        1,
        None,
        [
            ("frame_system", app(empty_frame_system)),
            ("plain_system", app(empty_system)),
        ],
    );
    bench_apps(
        c,
        "bevy_begin_end",
        FRAMES,
        None,
        [
            ("frame_alloc_param", app(begin_end_frame_alloc)),
            ("alloc_resource", app(begin_end_resource)),
        ],
    );
}

criterion_group!(benches, scratch, system_run);
criterion_main!(benches);
