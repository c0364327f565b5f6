//! A headless Bevy particle simulation whose systems need scratch memory
//! every frame: spatial binning with neighbour counts, a depth sort for
//! drawing (a few large buffers), and a list of particles per grid cell
//! (thousands of small growing lists). The same systems run three times, each in its own `App`:
//!
//! - **framealloc**: `#[frame_system]`, scratch in frame memory;
//! - **fresh `Vec`**: a new `Vec` for each scratch buffer, every run;
//! - **`Local<Vec>`**: buffers kept in `Local`s and reused (cleared) each run.
//!
//! It prints per-frame figures of the framealloc run (from
//! `AllocFrameReport`), then the three side by side: time per frame and
//! calls to the global allocator per frame (counted by a wrapper around the
//! system allocator). All three compute the same checksums, which it checks.
//!
//! Run it with `cargo run --release --example bevy_particles --features bevy`.

use std::time::{Duration, Instant};

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use framealloc::allocator_api2::vec::Vec as FrameVec;
use framealloc::bevy::{AllocFrameReport, SmartAllocPlugin};
use framealloc::{Frame, frame_system};

#[path = "support/counting.rs"]
mod counting;

const PARTICLES: u32 = 20_000;
const FRAMES: usize = 200;
/// The world is a 64 × 64 grid of bins.
const GRID: u32 = 64;
const BINS: usize = (GRID * GRID) as usize;

#[derive(Component, Clone, Copy)]
struct Particle {
    pos: [f32; 2],
    vel: [f32; 2],
    depth: f32,
}

/// What the scratch systems computed this frame; equal across the variants.
#[derive(Resource, Default, Clone, Copy, PartialEq, Debug)]
struct Checksums {
    /// The fullest bin's occupancy.
    fullest_bin: u32,
    /// Sum over particles of how many share their bin.
    neighbours: u64,
    /// The indices of the 64 nearest particles, folded.
    draw_order: u64,
    /// Each bin's list of particle indices, folded.
    cell_lists: u64,
}

/// Folds per-bin index lists into one number.
fn fold_lists<'a>(lists: impl Iterator<Item = &'a [u32]>) -> u64 {
    lists.fold(0u64, |acc, list| {
        let first = list.first().map_or(0, |&i| u64::from(i));
        acc.wrapping_mul(31)
            .wrapping_add(list.len() as u64 * 7 + first)
    })
}

fn bin_of(pos: [f32; 2]) -> usize {
    let x = (pos[0].clamp(0.0, 0.999) * GRID as f32) as u32;
    let y = (pos[1].clamp(0.0, 0.999) * GRID as f32) as u32;
    (y * GRID + x) as usize
}

fn fold(order: &[(u32, u32)]) -> u64 {
    order.iter().take(64).fold(0u64, |acc, &(_, index)| {
        acc.wrapping_mul(31).wrapping_add(u64::from(index))
    })
}

/// The bin key of a particle, and its depth-sort key.
fn bin_key(p: &Particle) -> u32 {
    bin_of(p.pos) as u32
}

fn depth_key((index, p): (usize, &Particle)) -> (u32, u32) {
    ((p.depth * 1000.0) as u32, index as u32)
}

/// Counts `keys` into `counts` (all zero) and records the bin figures.
fn count_bins(keys: &[u32], counts: &mut [u32], out: &mut Checksums) {
    for &key in keys {
        counts[key as usize] += 1;
    }
    out.fullest_bin = counts.iter().copied().max().unwrap_or(0);
    out.neighbours = keys
        .iter()
        .map(|&key| u64::from(counts[key as usize]))
        .sum();
}

/// Sorts the depth keys and records the draw order.
fn sort_draw_order(order: &mut [(u32, u32)], out: &mut Checksums) {
    order.sort_unstable();
    out.draw_order = fold(order);
}

/// Moves the particles (no scratch).
fn integrate(mut particles: Query<&mut Particle>) {
    for mut p in &mut particles {
        for axis in 0..2 {
            p.pos[axis] += p.vel[axis];
            if !(0.0..1.0).contains(&p.pos[axis]) {
                p.vel[axis] = -p.vel[axis];
                p.pos[axis] = p.pos[axis].clamp(0.0, 0.999);
            }
        }
        p.depth = (p.depth + p.vel[0] * 7.0).rem_euclid(100.0);
    }
}

// --- framealloc ---------------------------------------------------------

#[frame_system]
fn bins_frame(frame: &Frame, particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let keys = frame.alloc_slice_fill_iter(particles.iter().map(bin_key));
    let mut counts = frame.alloc_slice_fill_with(BINS, |_| 0u32);
    count_bins(&keys, &mut counts, &mut out);
}

#[frame_system]
fn draw_order_frame(frame: &Frame, particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let mut order = frame.alloc_slice_fill_iter(particles.iter().enumerate().map(depth_key));
    sort_draw_order(&mut order, &mut out);
}

/// One small growing list per bin: thousands of small allocations a frame.
#[frame_system]
fn cell_lists_frame(frame: &Frame, particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let mut lists = frame.alloc_slice_fill_with(BINS, |_| FrameVec::new_in(frame));
    for (index, p) in particles.iter().enumerate() {
        lists[bin_key(p) as usize].push(index as u32);
    }
    out.cell_lists = fold_lists(lists.iter().map(|list| list.as_slice()));
}

// --- fresh Vec ----------------------------------------------------------

fn cell_lists_vec(particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let mut lists: Vec<Vec<u32>> = (0..BINS).map(|_| Vec::new()).collect();
    for (index, p) in particles.iter().enumerate() {
        lists[bin_key(p) as usize].push(index as u32);
    }
    out.cell_lists = fold_lists(lists.iter().map(Vec::as_slice));
}

fn bins_vec(particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let keys: Vec<u32> = particles.iter().map(bin_key).collect();
    let mut counts = vec![0u32; BINS];
    count_bins(&keys, &mut counts, &mut out);
}

fn draw_order_vec(particles: Query<&Particle>, mut out: ResMut<Checksums>) {
    let mut order: Vec<(u32, u32)> = particles.iter().enumerate().map(depth_key).collect();
    sort_draw_order(&mut order, &mut out);
}

// --- Local<Vec> ---------------------------------------------------------

fn bins_local(
    particles: Query<&Particle>,
    mut out: ResMut<Checksums>,
    mut keys: Local<Vec<u32>>,
    mut counts: Local<Vec<u32>>,
) {
    keys.clear();
    keys.extend(particles.iter().map(bin_key));
    counts.clear();
    counts.resize(BINS, 0);
    count_bins(&keys, &mut counts, &mut out);
}

fn draw_order_local(
    particles: Query<&Particle>,
    mut out: ResMut<Checksums>,
    mut order: Local<Vec<(u32, u32)>>,
) {
    order.clear();
    order.extend(particles.iter().enumerate().map(depth_key));
    sort_draw_order(&mut order, &mut out);
}

fn cell_lists_local(
    particles: Query<&Particle>,
    mut out: ResMut<Checksums>,
    mut lists: Local<Vec<Vec<u32>>>,
) {
    lists.resize_with(BINS, Vec::new);
    for list in lists.iter_mut() {
        list.clear();
    }
    for (index, p) in particles.iter().enumerate() {
        lists[bin_key(p) as usize].push(index as u32);
    }
    out.cell_lists = fold_lists(lists.iter().map(Vec::as_slice));
}

// --- the runs -----------------------------------------------------------

#[derive(Clone, Copy)]
enum Variant {
    Framealloc,
    FreshVec,
    LocalVec,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Framealloc => "framealloc",
            Variant::FreshVec => "fresh Vec",
            Variant::LocalVec => "Local<Vec>",
        }
    }
}

fn app(variant: Variant) -> App {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .init_resource::<Checksums>()
        .add_systems(Update, integrate);
    match variant {
        Variant::Framealloc => app.add_systems(
            Update,
            (bins_frame, draw_order_frame, cell_lists_frame).after(integrate),
        ),
        Variant::FreshVec => app.add_systems(
            Update,
            (bins_vec, draw_order_vec, cell_lists_vec).after(integrate),
        ),
        Variant::LocalVec => app.add_systems(
            Update,
            (bins_local, draw_order_local, cell_lists_local).after(integrate),
        ),
    };
    // The same particles for every variant: a fixed pseudo-random walk.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32
    };
    let particles: Vec<Particle> = (0..PARTICLES)
        .map(|_| Particle {
            pos: [next(), next()],
            vel: [(next() - 0.5) * 0.01, (next() - 0.5) * 0.01],
            depth: next() * 100.0,
        })
        .collect();
    app.world_mut().spawn_batch(particles);
    app
}

struct Run {
    variant: Variant,
    frame_times: Vec<Duration>,
    calls_per_frame: Vec<u64>,
    checksums: Vec<Checksums>,
}

fn run(variant: Variant, print: bool) -> Run {
    let mut app = app(variant);
    let mut result = Run {
        variant,
        frame_times: Vec::with_capacity(FRAMES),
        calls_per_frame: Vec::with_capacity(FRAMES),
        checksums: Vec::with_capacity(FRAMES),
    };
    if print {
        println!(
            "frame | systems' frames | allocations | frame bytes | threads | reserved | new chunks | fullest bin"
        );
    }
    for frame in 0..FRAMES {
        let calls = counting::calls();
        let start = Instant::now();
        app.update();
        result.frame_times.push(start.elapsed());
        result.calls_per_frame.push(counting::calls() - calls);
        let checksums = *app.world().resource::<Checksums>();
        result.checksums.push(checksums);
        if print && (frame < 3 || frame % 50 == 49) {
            let report = app.world().resource::<AllocFrameReport>();
            println!(
                "{:>5} | {:>15} | {:>11} | {:>11} | {:>7} | {:>8} | {:>10} | {:>11}",
                report.frame_number,
                report.system_frames,
                report.allocations,
                report.bytes,
                report.threads.len(),
                report.reserved_bytes,
                report.new_chunks,
                checksums.fullest_bin,
            );
        }
    }
    result
}

fn median<T: Copy + Ord>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

fn main() {
    println!(
        "{PARTICLES} particles, {FRAMES} frames; three scratch systems per frame (binning, depth sort, {BINS} cell lists)\n"
    );
    println!("framealloc run, per-frame figures from AllocFrameReport:");
    let runs = [
        run(Variant::Framealloc, true),
        run(Variant::FreshVec, false),
        run(Variant::LocalVec, false),
    ];
    for other in &runs[1..] {
        assert_eq!(
            other.checksums,
            runs[0].checksums,
            "{} computed different results",
            other.variant.name()
        );
    }
    println!("\nall three variants computed the same checksums in every frame\n");
    println!(
        "variant     | median frame | total       | global-allocator calls per frame (median, after frame 10)"
    );
    let base = median(&runs[0].frame_times);
    for run in &runs {
        let frame = median(&run.frame_times);
        println!(
            "{:<11} | {:>9.1} µs | {:>8.1} ms | {:>4}    ({:.2}× framealloc's frame time)",
            run.variant.name(),
            frame.as_secs_f64() * 1e6,
            run.frame_times.iter().sum::<Duration>().as_secs_f64() * 1e3,
            median(&run.calls_per_frame[10..]),
            frame.as_secs_f64() / base.as_secs_f64(),
        );
    }
    println!(
        "\nColumns: median frame = the median of {FRAMES} `app.update()` times (the whole frame: \
         integration, the three scratch systems, the executor); global-allocator calls = calls to \
         alloc/realloc during one update, from every thread (Bevy's own included)."
    );
}
