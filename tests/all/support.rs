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

/// The text of a panic payload (`String` or `&str`), or empty.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
