//! framealloc in an engine that owns the loop and calls you back, as winit,
//! SDL's callback API or a plug-in host do. The "engine" here is a stand-in:
//! it calls `Game::update` at a fixed rate and `Game::render` once per
//! displayed frame, then `Game::end_of_frame`.
//!
//! What it shows (docs/engine_integration.md explains each):
//!
//! - the `SmartAlloc` lives in the game state the callbacks receive;
//! - each callback that needs scratch memory opens its own frame, which ends
//!   when the callback returns (a `Frame` borrows the allocator, so it
//!   cannot be kept between callbacks);
//! - `advance_frame` is called once per engine frame;
//! - a frame ends without fighting E0505: let the scratch go out of scope,
//!   or use `alloc.frame(|frame| …)`.
//!
//! Run it with `cargo run --release --example callback_engine`.

use framealloc::{AllocConfig, SmartAlloc};

/// The callbacks an engine would call.
trait App {
    fn update(&mut self, dt: f32);
    fn render(&mut self);
    fn end_of_frame(&mut self);
}

/// A stand-in engine: two fixed updates per displayed frame.
fn run_engine(app: &mut impl App, displayed_frames: u32) {
    for _ in 0..displayed_frames {
        app.update(1.0 / 120.0);
        app.update(1.0 / 120.0);
        app.render();
        app.end_of_frame();
    }
}

struct Game {
    /// The allocator, where every callback can reach it.
    alloc: SmartAlloc,
    positions: Vec<[f32; 2]>,
    drawn: usize,
    draw_list_bytes: usize,
}

impl App for Game {
    fn update(&mut self, dt: f32) {
        // A frame for this callback only: ends when `update` returns.
        let frame = self.alloc.begin_frame();
        let moved =
            frame.alloc_slice_fill_iter(self.positions.iter().map(|p| [p[0] + dt, p[1] - dt]));
        self.positions.copy_from_slice(&moved);
    }

    fn render(&mut self) {
        // The closure form: frame memory cannot leave the closure.
        let (drawn, bytes) = self.alloc.frame(|frame| {
            let visible =
                frame.alloc_slice_fill_iter(self.positions.iter().filter(|p| p[0] < 50.0));
            let label = framealloc::frame_format!(frame, "{} sprites", visible.len());
            assert!(label.ends_with("sprites"));
            (visible.len(), frame.report().peak_bytes)
        });
        self.drawn = drawn;
        self.draw_list_bytes = bytes;
    }

    fn end_of_frame(&mut self) {
        // Once per engine frame: diagnostics, budgets' history and profilers
        // count frames from here. The arenas reset as each frame ends.
        self.alloc.advance_frame();
    }
}

fn main() {
    let mut game = Game {
        alloc: SmartAlloc::new(AllocConfig::default()),
        positions: (0..10_000).map(|i| [i as f32 / 100.0, 0.0]).collect(),
        drawn: 0,
        draw_list_bytes: 0,
    };
    run_engine(&mut game, 120);
    let stats = game.alloc.stats();
    println!("engine frames: {}", game.alloc.frame_number());
    println!(
        "frames opened by the callbacks: {} (3 per engine frame: two updates, one render)",
        stats.frame.frames_completed
    );
    println!(
        "last render: {} sprites drawn from a {}-byte frame",
        game.drawn, game.draw_list_bytes
    );
    println!(
        "chunks taken from the global allocator: {} (every later frame reused them)",
        stats.frame.chunk_allocations
    );
    assert_eq!(stats.frame.frames_completed, 3 * 120);
}
