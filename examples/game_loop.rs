//! A small game loop that uses frame memory for everything that lives one
//! frame, and prints each frame's figures.
//!
//! Run it with `cargo run --release --example game_loop`.

use std::thread;

use framealloc::allocator_api2::vec::Vec as FrameVec;
use framealloc::{AllocConfig, Frame, SmartAlloc};

#[derive(Clone, Copy, Debug)]
struct Particle {
    position: [f32; 3],
    velocity: [f32; 3],
}

/// The world that persists across frames (ordinary heap memory).
struct World {
    particles: Vec<Particle>,
}

impl World {
    fn new(count: usize) -> World {
        let particles = (0..count)
            .map(|i| {
                let f = i as f32;
                Particle {
                    position: [f, 0.0, -f],
                    velocity: [0.5, 1.0, 0.25],
                }
            })
            .collect();
        World { particles }
    }
}

/// Culls particles in front of a camera into a frame-allocated list.
fn visible<'f>(frame: &'f Frame<'_>, world: &World, camera_z: f32) -> FrameVec<u32, &'f Frame<'f>> {
    let mut list = FrameVec::new_in(frame);
    for (index, particle) in world.particles.iter().enumerate() {
        if particle.position[2] > camera_z {
            list.push(index as u32);
        }
    }
    list
}

/// Renders one camera: culls, then sorts the visible particles by depth.
/// Returns how many were visible and the nearest depth.
fn render_camera(frame: &Frame<'_>, world: &World, camera_z: f32) -> (usize, f32) {
    let ids = visible(frame, world, camera_z);
    let mut depths =
        frame.alloc_slice_fill_iter(ids.iter().map(|&i| world.particles[i as usize].position[2]));
    depths.sort_unstable_by(f32::total_cmp);
    (ids.len(), depths.first().copied().unwrap_or_default())
}

/// Physics on two worker threads; each opens its own frame on its own arena.
fn simulate(alloc: &SmartAlloc, world: &mut World, dt: f32) {
    let half = world.particles.len() / 2;
    let (left, right) = world.particles.split_at_mut(half);
    thread::scope(|scope| {
        for part in [left, right] {
            scope.spawn(move || {
                let frame = alloc.begin_frame();
                let forces = frame.alloc_slice_fill_with(part.len(), |i| {
                    [0.0, -9.81 * dt, (i % 3) as f32 * 0.01]
                });
                for (particle, force) in part.iter_mut().zip(forces.iter()) {
                    let axes = particle.position.iter_mut().zip(&mut particle.velocity);
                    for ((position, velocity), push) in axes.zip(force) {
                        *velocity += push;
                        *position += *velocity * dt;
                    }
                }
            });
        }
    });
}

fn main() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(16 << 20));
    let mut world = World::new(20_000);
    let dt = 1.0 / 60.0;

    println!(
        "frame | visible (2 cameras) | camera scratch (peak) | frame bytes | allocations | chunks"
    );
    for frame_number in 0..10 {
        simulate(&alloc, &mut world, dt);

        let mut frame = alloc.begin_frame();
        let (mut visible_total, mut scratch_peak) = (0, 0);
        // The cameras move back a little every frame, so more becomes visible.
        let pull_back = frame_number as f32 * 400.0;
        for camera_z in [-500.0 - pull_back, -5_000.0 - pull_back] {
            // Each camera works in a scope: its scratch memory is rewound
            // when the scope drops, so the second camera reuses it.
            let scratch = frame.scope();
            let (count, nearest) = render_camera(&scratch, &world, camera_z);
            visible_total += count;
            scratch_peak = scratch_peak.max(scratch.report().bytes_used);
            std::hint::black_box(nearest);
        }
        let hud = frame.alloc_str("frame stats");
        std::hint::black_box(&*hud);
        let report = frame.end();

        println!(
            "{frame_number:>5} | {visible_total:>19} | {scratch_peak:>21} | {:>11} | {:>11} | {:>6}",
            report.bytes_used, report.allocations, report.chunks,
        );
    }

    let stats = alloc.stats();
    println!();
    println!(
        "{} frames on {} arenas (main thread + workers); {} allocations, {} bytes in all; peak frame {} bytes",
        stats.frame.frames_completed,
        stats.frame.arenas,
        stats.frame.allocations,
        stats.frame.bytes_allocated,
        stats.frame.peak_frame_bytes
    );
    println!(
        "chunks taken from the global allocator: {} (frames after warm-up reuse them)",
        stats.frame.chunk_allocations
    );
}
