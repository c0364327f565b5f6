//! Streaming textures: a camera moves along a row of 64 texture tiles; the
//! tiles near it are requested each frame, loaded on a worker thread into a
//! 6 MiB budget (room for 24 of the 64 tiles of 256 KiB), and the ones it
//! left behind are evicted, least recently used first, to make room. It
//! prints, every 20 frames, what is resident, loading and evicted, and the
//! hit rate of the frame's texture lookups.
//!
//! Run it with `cargo run --release --example streaming_textures`.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use framealloc::{AllocConfig, LoadWriter, SmartAlloc, StreamId, StreamPriority, StreamState};

const TILES: usize = 64;
const TILE_BYTES: usize = 256 << 10;
const BUDGET: usize = 24 * TILE_BYTES;

/// The texel at `offset` of tile `tile` (what the "decoder" produces).
fn texel(tile: usize, offset: usize) -> u8 {
    (tile * 13 + offset / 1024) as u8
}

fn main() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_streaming_budget(BUDGET));
    let streaming = alloc.streaming();
    // The game's side of eviction: forget the GPU copy of an evicted tile.
    let evicted_log = Arc::new(Mutex::new(Vec::new()));
    let log = evicted_log.clone();
    streaming.on_evict(move |eviction| log.lock().unwrap().push(eviction.id));

    // One loader thread decodes tiles into the writers it is sent.
    let (jobs, queue) = mpsc::channel::<(usize, LoadWriter)>();
    let (done_send, done) = mpsc::channel::<usize>();
    let loader = std::thread::spawn(move || {
        for (tile, mut writer) in queue {
            for (offset, byte) in writer.bytes_mut().iter_mut().enumerate() {
                *byte = texel(tile, offset);
            }
            writer.finish();
            done_send.send(tile).unwrap();
        }
    });

    let mut ids: HashMap<usize, StreamId> = HashMap::new();
    let (mut hits, mut misses, mut refused) = (0u64, 0u64, 0u64);
    println!(
        "{:>5} {:>6} {:>9} {:>8} {:>8} {:>10} {:>9}",
        "frame", "camera", "resident", "loading", "evicted", "MiB used", "hits"
    );
    for frame in 0..240 {
        // The camera sweeps right, then back left.
        let camera = if frame < 120 {
            frame * TILES / 120
        } else {
            (239 - frame) * TILES / 120
        };
        let wanted = camera.saturating_sub(4)..(camera + 8).min(TILES);
        for tile in wanted.clone() {
            // The tile under the camera matters most.
            let priority = if tile == camera {
                StreamPriority::Critical
            } else {
                StreamPriority::Normal
            };
            let id = ids.get(&tile).copied();
            // Draw it if it is resident: the guard pins it for the draw.
            let drawn = id.and_then(|id| streaming.access(id)).map(|texels| {
                assert_eq!(
                    texels[5000],
                    texel(tile, 5000),
                    "tile {tile} has the wrong texels"
                );
            });
            if drawn.is_some() {
                hits += 1;
                continue;
            }
            misses += 1;
            // Not resident: request it unless it is on its way.
            let state = id.and_then(|id| streaming.state(id));
            if matches!(
                state,
                Some(StreamState::Reserved | StreamState::Loading { .. })
            ) {
                continue;
            }
            if let Some(old) = id {
                streaming
                    .release(old)
                    .expect("an evicted tile's id is released");
            }
            match streaming.reserve(TILE_BYTES, priority) {
                Ok(new) => {
                    ids.insert(tile, new);
                    jobs.send((tile, streaming.begin_load(new).unwrap()))
                        .unwrap();
                }
                Err(_) => {
                    // FA402: everything resident is loading or pinned; try
                    // again next frame.
                    ids.remove(&tile);
                    refused += 1;
                }
            }
        }
        while done.try_recv().is_ok() {}
        if frame % 20 == 19 {
            let stats = streaming.stats();
            let loading = ids
                .values()
                .filter(|id| matches!(streaming.state(**id), Some(StreamState::Loading { .. })))
                .count();
            println!(
                "{:>5} {:>6} {:>9} {:>8} {:>8} {:>10.2} {:>8.1}%",
                frame,
                camera,
                stats.ready_assets,
                loading,
                stats.evictions,
                stats.used as f64 / (1 << 20) as f64,
                100.0 * hits as f64 / (hits + misses) as f64,
            );
        }
        // Give the loader a moment per frame, as a frame's time would.
        std::thread::sleep(std::time::Duration::from_micros(300));
    }
    drop(jobs);
    loader.join().unwrap();
    let stats = streaming.stats();
    println!();
    println!(
        "{} lookups, {} hits ({:.1}%); {} evictions ({:.1} MiB), {} reservations refused (FA402); listener saw {}",
        hits + misses,
        hits,
        100.0 * hits as f64 / (hits + misses) as f64,
        stats.evictions,
        stats.bytes_evicted as f64 / (1 << 20) as f64,
        refused,
        evicted_log.lock().unwrap().len(),
    );
    assert_eq!(stats.evictions as usize, evicted_log.lock().unwrap().len());
    assert!(stats.used <= BUDGET);
    println!(
        "columns: resident = tiles ready; loading = tiles on the loader thread; evicted = evictions so far;"
    );
    println!(
        "MiB used = reserved + loading + ready bytes (budget {} MiB); hits = the share of lookups so far that found the tile resident.",
        BUDGET >> 20
    );
}
