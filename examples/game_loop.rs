//! A small game, written twice: once with framealloc and once with `Vec` and
//! `Box`, doing the same work on the same data (checked: both compute the
//! same checksum).
//!
//! Every frame, 3,000 enemies move; the 30 oldest die (their boxes are
//! dropped on a cleanup thread) and 30 are born. The main thread culls the
//! enemies for two cameras and sorts what each sees by distance, in frame
//! memory (one scope per camera), and formats the HUD lines there. Two
//! scoped worker threads, each with its own frame, list the level tiles the
//! enemies stand on. Particle bursts are spawned under a tag whose budget
//! refuses them past 32 KiB (the refusal is handled: the burst is skipped).
//! The level is a heap slice; textures stream in per zone under a budget
//! that holds two zones of three, so the oldest zone is evicted.
//!
//! It prints a few frames of the framealloc run, then two tables: time per
//! frame and global-allocator calls per frame for both versions, and the
//! framealloc run's bytes per intent. The README explains every column.
//!
//! Run it with `cargo run --release --example game_loop`.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use framealloc::allocator_api2::vec::Vec as FrameVec;
use framealloc::{
    AllocConfig, AllocationTag, Frame, PoolBox, SmartAlloc, StreamId, StreamPriority, frame_format,
};

#[path = "support/counting.rs"]
mod counting;

const FRAMES: u64 = 360;
/// Frames before measuring: arenas, pools and textures warm up.
const WARM_UP: u64 = 60;
const ENEMIES: usize = 3_000;
const BORN_PER_FRAME: usize = 30;
const LEVEL_SIDE: usize = 256;
const TEXTURE_BYTES: usize = 128 << 10;
const ZONES: u64 = 3;
const TEXTURES_PER_ZONE: u64 = 4;
/// Frames the camera spends in one zone.
const ZONE_FRAMES: u64 = 40;
/// Two zones of textures fit; the third evicts the oldest.
const STREAM_BUDGET: usize = 2 * TEXTURES_PER_ZONE as usize * TEXTURE_BYTES;
const BURSTS_PER_FRAME: usize = 12;
const BURST_LIFE: u64 = 24;
/// The particles tag's hard limit.
const PARTICLE_BUDGET: usize = 32 << 10;

#[derive(Clone, Copy)]
struct Enemy {
    pos: [f32; 2],
    vel: [f32; 2],
}

/// Eight particles: 160 bytes, one pool class.
type Burst = [[f32; 5]; 8];

/// A deterministic source of numbers, the same for both versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn unit(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 31) as f32
    }
    fn enemy(&mut self) -> Enemy {
        let side = LEVEL_SIDE as f32;
        Enemy {
            pos: [self.unit() * side, self.unit() * side],
            vel: [self.unit() - 0.5, self.unit() - 0.5],
        }
    }
}

fn step(enemy: &mut Enemy) {
    let side = LEVEL_SIDE as f32;
    for axis in 0..2 {
        enemy.pos[axis] = (enemy.pos[axis] + enemy.vel[axis]).rem_euclid(side);
    }
}

fn tile_at(enemy: &Enemy) -> usize {
    enemy.pos[1] as usize % LEVEL_SIDE * LEVEL_SIDE + enemy.pos[0] as usize % LEVEL_SIDE
}

/// The two cameras of frame `n`: a main view and a wider minimap.
fn cameras(n: u64) -> [([f32; 2], f32); 2] {
    let angle = n as f32 * 0.02;
    let center = LEVEL_SIDE as f32 / 2.0;
    let eye = [center + angle.cos() * 60.0, center + angle.sin() * 60.0];
    [(eye, 40.0), ([center, center], 90.0)]
}

/// A sort key: distance in the high bits, the enemy's index in the low.
fn key(enemy: &Enemy, eye: [f32; 2], index: usize) -> u64 {
    let (dx, dy) = (enemy.pos[0] - eye[0], enemy.pos[1] - eye[1]);
    (((dx * dx + dy * dy) as u64) << 32) | index as u64
}

fn texel(texture: u64, offset: usize) -> u8 {
    (texture as usize * 31 + offset / 512) as u8
}

/// What one version reports at the end.
struct Run {
    frame_times: Vec<Duration>,
    calls_per_frame: f64,
    checksum: u64,
    refused: u64,
    evictions: u64,
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

// ---------------------------------------------------------------- framealloc

fn framealloc_game() -> Run {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_streaming_budget(STREAM_BUDGET),
    );
    let particles = AllocationTag::new("particles");
    alloc
        .budgets()
        .set_tag_limits(particles, None, Some(PARTICLE_BUDGET))
        .expect("budgets are on");
    let mut rng = Rng(7);
    // The level: one heap slice, counted on the heap intent.
    let level = alloc
        .heap_box_slice_fill_with(LEVEL_SIDE * LEVEL_SIDE, |i| (i * 7 % 13) as u16)
        .expect("the level fits");
    let mut enemies: VecDeque<PoolBox<Enemy>> = (0..ENEMIES)
        .map(|_| alloc.pool_box(rng.enemy()).expect("an enemy fits"))
        .collect();
    let mut bursts: VecDeque<(u64, PoolBox<Burst>)> = VecDeque::new();
    let mut textures: HashMap<u64, StreamId> = HashMap::new();
    let (dead, graveyard) = mpsc::channel::<Vec<PoolBox<Enemy>>>();
    let cleanup = std::thread::spawn(move || {
        graveyard
            .into_iter()
            .map(|batch| batch.len())
            .sum::<usize>()
    });

    let (mut checksum, mut refused, mut peak_frame) = (0u64, 0u64, 0usize);
    let mut frame_times = Vec::new();
    let mut calls_before = 0;
    println!(
        "{:>5} | {:>7} | {:>7} | {:>9} | {:>9} | {:>14} | {:>10} | {:>9} | {:>8}",
        "frame",
        "enemies",
        "visible",
        "tiles hit",
        "particles",
        "refused so far",
        "frame peak",
        "frame net",
        "textures"
    );
    for n in 0..FRAMES {
        if n == WARM_UP {
            calls_before = counting::calls();
        }
        let started = Instant::now();

        // Enemies move; the oldest die on the cleanup thread; new ones are born.
        for enemy in &mut enemies {
            step(enemy);
        }
        let batch: Vec<_> = enemies.drain(..BORN_PER_FRAME).collect();
        dead.send(batch).expect("the cleanup thread runs");
        for _ in 0..BORN_PER_FRAME {
            enemies.push_back(alloc.pool_box(rng.enemy()).expect("an enemy fits"));
        }

        let mut frame = alloc.begin_frame();
        // Cull and sort, one scope per camera: the first camera's scratch is
        // given back before the second one's.
        let mut visible = 0;
        for (eye, radius) in cameras(n) {
            let scope = frame.scope();
            let mut seen: FrameVec<u64, &Frame<'_>> = FrameVec::new_in(&scope);
            for (index, enemy) in enemies.iter().enumerate() {
                let k = key(enemy, eye, index);
                if (k >> 32) as f32 <= radius * radius {
                    seen.push(k);
                }
            }
            let keys = scope.alloc_slice_copy(&seen);
            let mut keys = keys;
            keys.sort_unstable();
            visible += keys.len();
            checksum = keys
                .iter()
                .take(8)
                .fold(checksum, |sum, k| sum.rotate_left(5) ^ k);
        }
        // Two workers, each with its own frame on its own thread.
        let (left, right) = enemies.as_slices();
        let tiles_hit: usize = std::thread::scope(|s| {
            let workers = [left, right].map(|half| {
                let (alloc, level) = (&alloc, &level);
                s.spawn(move || {
                    let frame = alloc.begin_frame();
                    let hit = frame.alloc_slice_fill_iter(
                        half.iter().map(|e| tile_at(e)).filter(|&t| level[t] == 0),
                    );
                    hit.len()
                })
            });
            workers
                .into_iter()
                .map(|w| w.join().expect("a worker ends"))
                .sum()
        });
        // HUD lines, formatted into frame memory.
        let hud = [
            frame_format!(frame, "enemies {} visible {visible}", enemies.len()),
            frame_format!(frame, "tiles hit {tiles_hit}"),
            frame_format!(frame, "particles {}", bursts.len() * 8),
        ];
        checksum ^= hud.iter().map(|line| line.len() as u64).sum::<u64>() + tiles_hit as u64;
        let report = frame.end();
        peak_frame = peak_frame.max(report.peak_bytes);

        // Particles under their tag's budget; a refusal skips the burst.
        bursts.retain(|(born, _)| n - born < BURST_LIFE);
        for _ in 0..BURSTS_PER_FRAME {
            match alloc.with_tag(particles, || alloc.pool_box([[rng.unit(); 5]; 8])) {
                Ok(burst) => bursts.push_back((n, burst)),
                Err(_) => refused += 1,
            }
        }
        // Textures of the camera's zone; missing ones stream in (synchronously here).
        let zone = n / ZONE_FRAMES % ZONES;
        let streaming = alloc.streaming();
        for texture in zone * TEXTURES_PER_ZONE..(zone + 1) * TEXTURES_PER_ZONE {
            if let Some(id) = textures.get(&texture)
                && let Some(texels) = streaming.access(*id)
            {
                checksum = checksum.wrapping_add(u64::from(texels[4096]));
                continue;
            }
            if let Some(old) = textures.remove(&texture) {
                streaming
                    .release(old)
                    .expect("an evicted texture is released");
            }
            let id = streaming
                .reserve(TEXTURE_BYTES, StreamPriority::High)
                .expect("a zone fits the budget");
            let mut writer = streaming.begin_load(id).expect("just reserved");
            for (offset, byte) in writer.bytes_mut().iter_mut().enumerate() {
                *byte = texel(texture, offset);
            }
            writer.finish();
            textures.insert(texture, id);
        }

        if n >= WARM_UP {
            frame_times.push(started.elapsed());
        }
        if n % 60 == 59 {
            let stats = alloc.stats();
            println!(
                "{n:>5} | {:>7} | {visible:>7} | {tiles_hit:>9} | {:>9} | {refused:>14} | {:>10} | {:>9} | {:>8}",
                enemies.len(),
                bursts.len() * 8,
                report.peak_bytes,
                report.bytes_used,
                stats.streaming.ready_assets,
            );
        }
    }
    let calls = counting::calls() - calls_before;
    let stats = alloc.stats();
    let streaming = alloc.streaming().stats();
    let tag = alloc.budgets().usage(particles);
    drop(dead);
    let buried = cleanup.join().expect("the cleanup thread ends");
    alloc.collect_remote_frees();
    println!();
    println!("framealloc's memory at the end, by intent:");
    println!();
    println!("| intent | bytes | what |");
    println!("|---|---:|---|");
    println!(
        "| frame | {peak_frame} peak per frame | the largest frame (main thread, scopes included); {} bytes of chunks held by {} arenas, reused every frame |",
        stats.frame.reserved_bytes, stats.frame.arenas
    );
    println!(
        "| pool | {} live | {} enemies and {} particle bursts; {} enemies were freed on the cleanup thread |",
        stats.pool.live_bytes,
        enemies.len(),
        bursts.len(),
        buried
    );
    println!(
        "| heap | {} live | the level: {} tiles of 2 bytes |",
        stats.heap.live_bytes,
        level.len()
    );
    println!(
        "| streaming | {} used of {} | {} textures resident, {} evictions |",
        streaming.used, streaming.budget, streaming.ready_assets, streaming.evictions
    );
    println!(
        "| particles tag | {} used of {} | {refused} bursts refused by the budget and skipped |",
        tag.used, PARTICLE_BUDGET
    );
    Run {
        frame_times,
        calls_per_frame: calls as f64 / (FRAMES - WARM_UP) as f64,
        checksum,
        refused,
        evictions: streaming.evictions,
    }
}

// ---------------------------------------------------------------- Vec / Box

fn std_game() -> Run {
    let mut rng = Rng(7);
    let level: Vec<u16> = (0..LEVEL_SIDE * LEVEL_SIDE)
        .map(|i| (i * 7 % 13) as u16)
        .collect();
    let mut enemies: VecDeque<Box<Enemy>> = (0..ENEMIES).map(|_| Box::new(rng.enemy())).collect();
    let mut bursts: VecDeque<(u64, Box<Burst>)> = VecDeque::new();
    // Texture id -> (texels, frame last loaded); the same budget, oldest zone out.
    let mut textures: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut load_order: VecDeque<u64> = VecDeque::new();
    let (dead, graveyard) = mpsc::channel::<Vec<Box<Enemy>>>();
    let cleanup = std::thread::spawn(move || {
        graveyard
            .into_iter()
            .map(|batch| batch.len())
            .sum::<usize>()
    });

    let (mut checksum, mut refused, mut evictions) = (0u64, 0u64, 0u64);
    let mut frame_times = Vec::new();
    let mut calls_before = 0;
    for n in 0..FRAMES {
        if n == WARM_UP {
            calls_before = counting::calls();
        }
        let started = Instant::now();

        for enemy in &mut enemies {
            step(enemy);
        }
        let batch: Vec<_> = enemies.drain(..BORN_PER_FRAME).collect();
        dead.send(batch).expect("the cleanup thread runs");
        for _ in 0..BORN_PER_FRAME {
            enemies.push_back(Box::new(rng.enemy()));
        }

        let mut visible = 0;
        for (eye, radius) in cameras(n) {
            let mut seen = Vec::new();
            for (index, enemy) in enemies.iter().enumerate() {
                let k = key(enemy, eye, index);
                if (k >> 32) as f32 <= radius * radius {
                    seen.push(k);
                }
            }
            let mut keys = seen.clone();
            keys.sort_unstable();
            visible += keys.len();
            checksum = keys
                .iter()
                .take(8)
                .fold(checksum, |sum, k| sum.rotate_left(5) ^ k);
        }
        let (left, right) = enemies.as_slices();
        let tiles_hit: usize = std::thread::scope(|s| {
            let workers = [left, right].map(|half| {
                let level = &level;
                s.spawn(move || {
                    let hit: Vec<usize> = half
                        .iter()
                        .map(|e| tile_at(e))
                        .filter(|&t| level[t] == 0)
                        .collect();
                    hit.len()
                })
            });
            workers
                .into_iter()
                .map(|w| w.join().expect("a worker ends"))
                .sum()
        });
        let hud = [
            format!("enemies {} visible {visible}", enemies.len()),
            format!("tiles hit {tiles_hit}"),
            format!("particles {}", bursts.len() * 8),
        ];
        checksum ^= hud.iter().map(|line| line.len() as u64).sum::<u64>() + tiles_hit as u64;

        // The same budget by hand: 160 bytes a burst, refused past the limit.
        bursts.retain(|(born, _)| n - born < BURST_LIFE);
        for _ in 0..BURSTS_PER_FRAME {
            let value = rng.unit();
            if (bursts.len() + 1) * size_of::<Burst>() > PARTICLE_BUDGET {
                refused += 1;
            } else {
                bursts.push_back((n, Box::new([[value; 5]; 8])));
            }
        }
        let zone = n / ZONE_FRAMES % ZONES;
        for texture in zone * TEXTURES_PER_ZONE..(zone + 1) * TEXTURES_PER_ZONE {
            if let Some(texels) = textures.get(&texture) {
                checksum = checksum.wrapping_add(u64::from(texels[4096]));
                continue;
            }
            while textures.len() * TEXTURE_BYTES + TEXTURE_BYTES > STREAM_BUDGET {
                let oldest = load_order.pop_front().expect("something is resident");
                textures.remove(&oldest);
                evictions += 1;
            }
            let texels: Vec<u8> = (0..TEXTURE_BYTES)
                .map(|offset| texel(texture, offset))
                .collect();
            textures.insert(texture, texels);
            load_order.push_back(texture);
        }

        if n >= WARM_UP {
            frame_times.push(started.elapsed());
        }
    }
    let calls = counting::calls() - calls_before;
    drop(dead);
    cleanup.join().expect("the cleanup thread ends");
    Run {
        frame_times,
        calls_per_frame: calls as f64 / (FRAMES - WARM_UP) as f64,
        checksum,
        refused,
        evictions,
    }
}

fn main() {
    println!("framealloc version, every 60th of {FRAMES} frames:");
    println!();
    let mut fast = framealloc_game();
    let mut plain = std_game();
    assert_eq!(
        fast.checksum, plain.checksum,
        "both versions did the same work"
    );
    assert_eq!(
        (fast.refused, fast.evictions),
        (plain.refused, plain.evictions),
        "both versions refused and evicted the same"
    );
    let (fast_median, plain_median) = (
        median(&mut fast.frame_times),
        median(&mut plain.frame_times),
    );
    println!();
    println!(
        "Both versions over frames {WARM_UP}..{FRAMES} (same checksum {:#018x}):",
        fast.checksum
    );
    println!();
    println!("| version | median frame time | global-allocator calls per frame |");
    println!("|---|---:|---:|");
    println!(
        "| framealloc | {:>8.1} µs | {:>8.1} |",
        fast_median.as_secs_f64() * 1e6,
        fast.calls_per_frame
    );
    println!(
        "| Vec / Box | {:>8.1} µs | {:>8.1} |",
        plain_median.as_secs_f64() * 1e6,
        plain.calls_per_frame
    );
    println!();
    println!(
        "framealloc's frame time is {:.2}x the Vec / Box version's.",
        fast_median.as_secs_f64() / plain_median.as_secs_f64()
    );
}
