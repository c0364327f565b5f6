//! Helpers shared by the test modules.

use std::cell::Cell;

/// Counts its drops through a borrowed cell, so forgetting one leaks no heap
/// memory (Miri checks for leaks).
pub struct CountedRef<'a>(pub &'a Cell<usize>);

impl Drop for CountedRef<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[path = "../shared/panic_text.rs"]
mod panic_text;
pub use panic_text::panic_text;

/// `normal` natively, `miri` under Miri (which runs about 1,000 times
/// slower).
pub fn count(normal: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { normal }
}

/// A seeded xorshift64* generator: the same walk on every run.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `bound` (which must not be 0).
    pub fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound
    }
}

/// Cases for a model-based property test: `native` (at least 1,000 for
/// the groups and handles models), 4 under Miri, or the number in
/// `FRAMEALLOC_MODEL_CASES` (CI's valgrind step runs fewer, since it
/// looks for leaks and invalid accesses, not for rare sequences).
pub fn model_cases(native: u32) -> u32 {
    if cfg!(miri) {
        return 4;
    }
    std::env::var("FRAMEALLOC_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(native)
}
