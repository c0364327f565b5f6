//! Relocatable handles: a particle-effect cache churns (effects of mixed
//! sizes spawn and expire every frame), holes pile up, and the game
//! defragments between frames, either at once or a few hundred KiB per
//! frame. It prints the footprint before and after and the time it took.
//!
//! Run it with `cargo run --release --example handles_defrag`.

use std::time::Instant;

use framealloc::{Handle, HandleAllocator};

/// Effects come in three sizes; each stores its id in every word, so a
/// check after each defragmentation shows nothing was corrupted.
enum Effect {
    Spark(Handle<[u64; 8]>),
    Smoke(Handle<[u64; 64]>),
    Explosion(Handle<[u64; 512]>),
}

struct Live {
    id: u64,
    effect: Effect,
    expires: u64,
}

/// A seeded xorshift: the same run every time.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn spawn(handles: &mut HandleAllocator, rng: &mut Rng, id: u64, now: u64) -> Live {
    let effect = match rng.below(10) {
        0..=5 => Effect::Spark(handles.alloc([id; 8]).expect("memory")),
        6..=8 => Effect::Smoke(handles.alloc([id; 64]).expect("memory")),
        _ => Effect::Explosion(handles.alloc([id; 512]).expect("memory")),
    };
    Live {
        id,
        effect,
        expires: now + 1 + rng.below(120),
    }
}

fn check(handles: &HandleAllocator, live: &[Live]) {
    for effect in live {
        let ok = match effect.effect {
            Effect::Spark(h) => handles
                .get(h)
                .is_some_and(|v| v.iter().all(|x| *x == effect.id)),
            Effect::Smoke(h) => handles
                .get(h)
                .is_some_and(|v| v.iter().all(|x| *x == effect.id)),
            Effect::Explosion(h) => handles
                .get(h)
                .is_some_and(|v| v.iter().all(|x| *x == effect.id)),
        };
        assert!(ok, "effect {} lost its contents", effect.id);
    }
}

fn free(handles: &mut HandleAllocator, effect: &Effect) {
    let freed = match *effect {
        Effect::Spark(h) => handles.free(h).is_some(),
        Effect::Smoke(h) => handles.free(h).is_some(),
        Effect::Explosion(h) => handles.free(h).is_some(),
    };
    assert!(freed);
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

fn main() {
    let mut handles = HandleAllocator::new();
    let mut rng = Rng(0x5eed);
    let mut live: Vec<Live> = Vec::new();
    let mut next_id = 0;
    println!(
        "{:>5} {:>6} {:>10} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "frame", "live", "live KiB", "in use KiB", "after KiB", "reserved KiB", "moved KiB", "time"
    );
    for now in 0..600u64 {
        // Play: spawn effects, expire old ones.
        for _ in 0..40 {
            live.push(spawn(&mut handles, &mut rng, next_id, now));
            next_id += 1;
        }
        let mut index = 0;
        while index < live.len() {
            if live[index].expires <= now {
                let gone = live.swap_remove(index);
                free(&mut handles, &gone.effect);
            } else {
                index += 1;
            }
        }
        // Between frames: every 100 frames a full defragmentation; in the
        // frames between, a budgeted step of 256 KiB.
        let before = handles.stats();
        let started = Instant::now();
        let report = if now % 100 == 99 {
            handles.defragment()
        } else {
            handles.defragment_step(256 << 10)
        };
        let took = started.elapsed();
        if now % 100 == 99 || now < 3 {
            check(&handles, &live);
            println!(
                "{:>5} {:>6} {:>10.1} {:>12.1} {:>12.1} {:>12.1} {:>9.1} {:>6.0} µs{}",
                now,
                live.len(),
                kib(before.live_bytes),
                kib(report.bytes_in_use_before),
                kib(report.bytes_in_use_after),
                kib(report.reserved_after),
                kib(report.bytes_moved),
                took.as_secs_f64() * 1e6,
                if now % 100 == 99 {
                    "  (full)"
                } else {
                    "  (step)"
                },
            );
        }
    }
    let stats = handles.stats();
    println!();
    println!(
        "{} effects spawned, {} live; {} defragmentations moved {:.1} MiB in total",
        stats.allocations,
        stats.live,
        stats.defragmentations,
        stats.bytes_moved as f64 / (1 << 20) as f64
    );
    println!(
        "columns: live KiB = the live effects' bytes; in use KiB = from each chunk's start to its"
    );
    println!(
        "top before (live values + holes); after KiB = the same after; reserved = chunks held after;"
    );
    println!("moved = bytes copied; time = the defragmentation's wall time.");
}
