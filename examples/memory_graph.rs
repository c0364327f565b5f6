//! A memory graph per intent from the snapshot history of
//! `DiagnosticsHooks`: a game simulated for 400 frames (a menu, a level
//! load into a group and heap blocks, a burst of streamed textures that
//! fills the streaming budget and evicts, steady play with frame scratch and
//! pool boxes churned, an unload, the menu again), one
//! `SmartAlloc::advance_frame` per frame; then an SVG with one panel per
//! intent, drawn from `get_memory_graph_data`, is written to the path given
//! as the first argument (`target/memory_graph.svg` by default).
//!
//! Run it with `cargo run --release --example memory_graph -- target/memory_graph.svg`.
//! The picture in the README (`docs/memory_graph.svg`) is its output.

use std::fmt::Write as _;

use framealloc::diagnostics::{DiagnosticsEvent, MemoryGraphData};
use framealloc::{AllocConfig, AllocationTag, PoolBox, SmartAlloc, StreamId, StreamPriority};

const FRAMES: u64 = 400;
const TEXTURE: usize = 512 << 10;
const STREAMING_BUDGET: usize = 8 << 20;

/// The phases of the simulated session: (first frame, end, name).
const PHASES: [(u64, u64, &str); 6] = [
    (0, 40, "menu"),
    (40, 80, "level load"),
    (80, 140, "streaming burst"),
    (140, 320, "steady play"),
    (320, 350, "unload"),
    (350, FRAMES, "menu"),
];

/// An enemy: what the pool serves (a 64-byte slot).
#[derive(Clone, Copy)]
struct Enemy {
    position: [f32; 3],
    velocity: [f32; 3],
    health: u32,
    target: u32,
    _state: [u64; 4],
}

/// A seeded xorshift, so every run draws the same picture.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/memory_graph.svg".to_owned());
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_streaming_budget(STREAMING_BUDGET)
            .with_snapshot_history(FRAMES as usize),
    );
    // A debug UI would draw these; here they are counted.
    let pressure = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = pressure.clone();
    alloc.diagnostics_hooks().add_listener(move |event| {
        if let DiagnosticsEvent::MemoryPressure { .. } = event {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    alloc
        .budgets()
        .set_global_limits(Some(24 << 20), Some(64 << 20))
        .unwrap();

    let ai = AllocationTag::new("ai");
    let level_tag = AllocationTag::new("level");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut enemies: Vec<PoolBox<Enemy>> = Vec::new();
    let mut level = None;
    let mut geometry = Vec::new();
    let mut textures: Vec<StreamId> = Vec::new();

    for frame_number in 0..FRAMES {
        let phase = PHASES
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&frame_number))
            .map_or("", |phase| phase.2);
        match phase {
            "level load" => {
                // The level's data arrives over 40 frames: a group of
                // entity data and nav mesh, and heap blocks of geometry.
                let group = level.get_or_insert_with(|| alloc.groups().create_group("level_1"));
                group.alloc_slice_fill_with(40_000, |i| (i as u32, frame_number as u32));
                if frame_number % 4 == 0 {
                    let block = alloc.with_tag(level_tag, || {
                        alloc.heap_box_with(|| [frame_number as u8; 256 << 10])
                    });
                    geometry.push(block.expect("geometry block"));
                }
            }
            "streaming burst" | "steady play" => {
                // Textures come in as the camera moves: four a frame in the
                // burst, one every fourth frame later; the budget evicts
                // the least recently used.
                let wanted = if phase == "streaming burst" {
                    4
                } else {
                    u64::from(frame_number % 4 == 0)
                };
                let streaming = alloc.streaming();
                for _ in 0..wanted {
                    let id = streaming
                        .reserve(TEXTURE, StreamPriority::Normal)
                        .expect("a texture fits the budget");
                    streaming.begin_load(id).expect("reserved").finish();
                    textures.push(id);
                }
            }
            "unload" => {
                if let Some(group) = level.take() {
                    alloc.groups().free_group(group);
                }
                geometry.clear();
                // Released over the unload's frames, newest (resident)
                // first; the evicted ones' ids are released too.
                let streaming = alloc.streaming();
                for id in textures.drain(textures.len().saturating_sub(12)..) {
                    streaming.release(id).ok();
                }
            }
            _ => {
                if frame_number == PHASES[5].0 {
                    // Back in the menu: spare frame chunks and empty pool
                    // pages go back to the system.
                    alloc.trim();
                }
            }
        }
        if phase == "steady play" || phase == "streaming burst" {
            // Enemies spawn and die: the pool churns around a moving count.
            let wave = 600.0 + 500.0 * ((frame_number as f32) / 23.0).sin();
            let target = wave as usize + rng.below(100) as usize;
            while enemies.len() < target {
                let enemy = alloc.with_tag(ai, || {
                    alloc.pool_box(Enemy {
                        position: [0.0; 3],
                        velocity: [1.0, 0.0, 0.0],
                        health: 100,
                        target: 0,
                        _state: [0; 4],
                    })
                });
                enemies.push(enemy.expect("pool slot"));
            }
            while enemies.len() > target {
                enemies.swap_remove(rng.below(enemies.len() as u64) as usize);
            }
        } else if phase == "unload" {
            enemies.truncate(enemies.len() / 2);
        }

        // Frame scratch: per-frame work proportional to what is alive.
        let frame = alloc.begin_frame();
        let visible = 2_000 + enemies.len() * 40 + rng.below(4_000) as usize;
        let positions = frame.alloc_slice_fill_with(visible, |i| i as f32);
        for enemy in &mut enemies {
            enemy.position[0] += enemy.velocity[0];
            enemy.health = enemy.health.saturating_sub(enemy.target);
        }
        std::hint::black_box(positions.iter().step_by(64).sum::<f32>());
        drop(positions);
        frame.end();

        alloc.advance_frame();
    }

    let graph = alloc
        .diagnostics_hooks()
        .get_memory_graph_data(FRAMES as usize);
    let svg = render(&graph);
    if let Some(parent) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(parent).expect("the output directory");
    }
    std::fs::write(&path, &svg).expect("the SVG file");
    let stats = alloc.stats();
    println!("{} frames, {} snapshots", FRAMES, graph.len());
    for (name, values) in &graph.series {
        let peak = values.iter().copied().fold(0.0, f32::max);
        println!("  {name:<10} peak {}", human(f64::from(peak)));
    }
    println!(
        "  streaming evictions {}, memory-pressure events {}",
        stats.streaming.evictions,
        pressure.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("wrote {path} ({} bytes)", svg.len());
}

/// The panels: (series name, title, colour).
const PANELS: [(&str, &str, &str); 6] = [
    (
        "frame",
        "frame: bytes used by the frames of each engine frame",
        "#d1495b",
    ),
    ("pool", "pool: live pool slots", "#00798c"),
    ("heap", "heap: live heap blocks", "#edae49"),
    ("group", "group: bytes in live groups", "#30638e"),
    ("streaming", "streaming: streamed asset bytes", "#66a182"),
    ("reserved", "reserved: held from the system", "#555555"),
];

const WIDTH: f64 = 960.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 84.0;
const PANEL: f64 = 96.0;
const GAP: f64 = 30.0;

/// The graph as SVG: one panel per intent (and one for the bytes reserved
/// from the system), each scaled to its own peak, over the session's phases.
fn render(graph: &MemoryGraphData) -> String {
    let frames = graph.len().max(2);
    let plot_width = WIDTH - LEFT - RIGHT;
    let height = TOP + PANELS.len() as f64 * (PANEL + GAP) + 24.0;
    let x_of = |index: usize| LEFT + plot_width * index as f64 / (frames - 1) as f64;
    let first = graph.frame_numbers.first().copied().unwrap_or(0);
    let x_of_frame = |frame: u64| x_of(frame.saturating_sub(first) as usize);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="24" font-size="16" font-weight="bold" fill="#222">framealloc: memory per intent over 400 simulated frames</text><text x="{LEFT}" y="42" fill="#666">one MemorySnapshot per SmartAlloc::advance_frame, from DiagnosticsHooks::get_memory_graph_data; each panel to its own scale</text>"##
    );

    // The phases, shaded across every panel, named above the first.
    let bottom = TOP + PANELS.len() as f64 * (PANEL + GAP) - GAP;
    for (n, (start, end, name)) in PHASES.iter().enumerate() {
        let (x0, x1) = (x_of_frame(*start), x_of_frame(end.saturating_sub(1)));
        if n % 2 == 1 {
            let _ = writeln!(
                svg,
                r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#f2f2f2"/>"##,
                TOP - 34.0,
                x1 - x0,
                bottom - TOP + 34.0
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#666">{name}</text>"##,
            (x0 + x1) / 2.0,
            TOP - 21.0
        );
    }

    for (panel, (series, title, colour)) in PANELS.iter().enumerate() {
        let top = TOP + panel as f64 * (PANEL + GAP);
        let values: Vec<f64> = if *series == "reserved" {
            graph.reserved.iter().map(|&v| v as f64).collect()
        } else {
            graph
                .series
                .iter()
                .find(|(name, _)| name == series)
                .map(|(_, values)| values.iter().map(|&v| f64::from(v)).collect())
                .unwrap_or_default()
        };
        let peak = values.iter().copied().fold(0.0, f64::max);
        let scale = nice_ceiling(peak.max(1.0));
        let y_of = |bytes: f64| top + PANEL - PANEL * bytes / scale;
        // Frame, grid lines and their labels.
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{plot_width:.1}" height="{PANEL}" fill="none" stroke="#bbbbbb"/>"##
        );
        for step in 0..=2 {
            let bytes = scale * f64::from(step) / 2.0;
            let y = y_of(bytes);
            if step == 1 {
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd" stroke-dasharray="4 3"/>"##,
                    LEFT + plot_width
                );
            }
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
                LEFT - 6.0,
                y + 4.0,
                human(bytes)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="{colour}" font-weight="bold">{title}</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">peak {}</text>"##,
            LEFT + 4.0,
            top - 5.0,
            LEFT + plot_width,
            top - 5.0,
            human(peak)
        );
        // The series.
        let mut points = String::new();
        for (index, bytes) in values.iter().enumerate() {
            let _ = write!(points, "{:.1},{:.1} ", x_of(index), y_of(*bytes));
        }
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-linejoin="round"/>"#,
            points.trim_end()
        );
    }

    // The frame axis under the last panel.
    let axis = bottom + 16.0;
    let last = first + frames as u64 - 1;
    let mut tick = first.div_ceil(50) * 50;
    while tick <= last {
        let x = x_of_frame(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#888"/><text x="{x:.1}" y="{axis:.1}" text-anchor="middle" fill="#444">{tick}</text>"##,
            bottom + 4.0
        );
        tick += 50;
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">engine frame</text>"##,
        LEFT + plot_width / 2.0,
        axis + 18.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// A round number of B, KiB or MiB at or above `bytes`, for the top of a
/// panel's axis.
fn nice_ceiling(bytes: f64) -> f64 {
    let unit = if bytes >= f64::from(1 << 20) {
        f64::from(1 << 20)
    } else if bytes >= 1024.0 {
        1024.0
    } else {
        1.0
    };
    let value = bytes / unit;
    let mut power = 1.0;
    while power * 10.0 <= value {
        power *= 10.0;
    }
    let step = [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|step| step * power >= value)
        .unwrap_or(10.0);
    step * power * unit
}

/// `bytes` in B, KiB or MiB, as a label.
fn human(bytes: f64) -> String {
    if bytes >= f64::from(1 << 20) {
        format!("{:.1} MiB", bytes / f64::from(1 << 20))
    } else if bytes >= 1024.0 {
        format!("{:.0} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}
