//! Where diagnostics go: this thread's `Capture`, else the global sink, else
//! stderr.

use core::cell::Cell;

use crate::guard_stack::GuardStack;
use core::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::diagnostic::Diagnostic;

type Sink = Arc<dyn Fn(&Diagnostic) + Send + Sync>;

/// The global sink; `None` means stderr.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Buffers of the live `Capture`s on this thread, innermost last.
    static CAPTURES: GuardStack<Vec<Diagnostic>> = const { GuardStack::new() };
    /// Whether this thread is inside the sink. `const` and without a
    /// destructor, so it works during thread teardown too.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sends every diagnostic that no [`Capture`] takes to `sink` instead of
/// stderr, process-wide, until [`reset_sink`] or the next `set_sink`. An
/// in-game console installs one at start-up.
///
/// The sink runs on the thread that raised the diagnostic, possibly while
/// that thread tears down its thread-locals. It may allocate, open frames or
/// take its own locks: a diagnostic raised while the sink runs on the same
/// thread goes to stderr instead of back into the sink, so a sink never
/// re-enters itself. A sink that panics has its panic caught and printed
/// to stderr with the diagnostic it was handling.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use framealloc::{DiagnosticKind, diagnostics::{self, Diagnostic}};
///
/// let console = Arc::new(Mutex::new(Vec::new()));
/// let lines = console.clone();
/// diagnostics::set_sink(move |d: &Diagnostic| lines.lock().unwrap().push(d.to_string()));
/// Diagnostic::new(DiagnosticKind::Note, "FA999", "level loaded").emit();
/// diagnostics::reset_sink();
/// assert_eq!(console.lock().unwrap()[0], "[framealloc][FA999] note: level loaded");
/// ```
pub fn set_sink(sink: impl Fn(&Diagnostic) + Send + Sync + 'static) {
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(sink));
}

/// Puts back the default sink: stderr in debug builds or with the
/// `diagnostics` feature, nothing otherwise.
///
/// ```
/// framealloc::diagnostics::set_sink(|_| {});
/// framealloc::diagnostics::reset_sink();
/// ```
pub fn reset_sink() {
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = None;
}

/// Collects the diagnostics raised on the calling thread while it is alive,
/// instead of sending them on; for tests and tools.
///
/// Captures nest: the innermost one alive receives. Other threads are not
/// affected, so tests running in parallel each see their own diagnostics.
/// A capture does not see diagnostics raised while its thread tears down its
/// thread-locals (they go to the [sink](set_sink)).
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, SmartAlloc};
/// use framealloc::diagnostics::Capture;
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(4096));
/// let frame = alloc.begin_frame();
/// let capture = Capture::start();
/// assert!(frame.try_alloc([0u8; 8192]).is_err());
/// let seen = capture.finish();
/// assert_eq!(seen.len(), 1);
/// assert_eq!(seen[0].code, "FA003");
/// ```
#[must_use = "the capture ends when this value is dropped"]
pub struct Capture {
    /// This capture's buffer's entry in `CAPTURES`.
    id: u64,
    /// The buffer lives in this thread's `CAPTURES`.
    _not_send: PhantomData<*const ()>,
}

impl Capture {
    /// Starts capturing on the calling thread.
    ///
    /// # Panics
    ///
    /// When called while the thread tears down its thread-locals.
    ///
    /// ```
    /// let capture = framealloc::diagnostics::Capture::start();
    /// framealloc::fa_emit!(FA102);
    /// assert_eq!(capture.finish()[0].code, "FA102");
    /// ```
    pub fn start() -> Capture {
        let id = CAPTURES.with(|captures| captures.push(Vec::new()));
        Capture {
            id,
            _not_send: PhantomData,
        }
    }

    /// Takes the diagnostics captured so far; capturing goes on.
    ///
    /// ```
    /// let capture = framealloc::diagnostics::Capture::start();
    /// framealloc::fa_emit!(FA102);
    /// assert_eq!(capture.take().len(), 1);
    /// assert!(capture.take().is_empty());
    /// ```
    pub fn take(&self) -> Vec<Diagnostic> {
        CAPTURES
            .try_with(|captures| {
                captures.with_entry(self.id, |buffer| {
                    buffer.map(core::mem::take).unwrap_or_default()
                })
            })
            .unwrap_or_default()
    }

    /// Ends the capture and returns what it collected.
    ///
    /// ```
    /// let capture = framealloc::diagnostics::Capture::start();
    /// assert!(capture.finish().is_empty());
    /// ```
    pub fn finish(self) -> Vec<Diagnostic> {
        self.take()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Only this capture ends, in whatever order captures are dropped;
        // diagnostics go to the newest live one.
        let _ = CAPTURES.try_with(|captures| captures.remove(self.id));
    }
}

impl core::fmt::Debug for Capture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Capture").field("id", &self.id).finish()
    }
}

/// Runs `f` under a [`Capture`] and returns its value with the diagnostics
/// it raised on this thread.
///
/// ```
/// let ((), seen) = framealloc::diagnostics::capture(|| framealloc::fa_emit!(FA102));
/// assert_eq!(seen[0].code, "FA102");
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Diagnostic>) {
    let capture = Capture::start();
    let value = f();
    (value, capture.finish())
}

/// Whether a diagnostic emitted now would reach anyone: a capture on this
/// thread, the sink, or stderr (debug builds, or the `diagnostics` feature).
pub(super) fn anyone_hears() -> bool {
    cfg!(any(debug_assertions, feature = "diagnostics"))
        || CAPTURES
            .try_with(|captures| !captures.is_empty())
            .unwrap_or(false)
        || SINK
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
}

/// Delivers `diagnostic`: to the innermost capture of this thread, else to
/// the sink, else to stderr.
pub(super) fn deliver(diagnostic: Diagnostic) {
    let mut pending = Some(diagnostic);
    // Fails only while the thread tears down its thread-locals.
    let _ = CAPTURES.try_with(|captures| {
        captures.with_newest(|buffer| {
            if let Some(buffer) = buffer {
                buffer.extend(pending.take());
            }
        });
    });
    let Some(diagnostic) = pending else { return };
    let sink = SINK.read().unwrap_or_else(PoisonError::into_inner).clone();
    let Some(sink) = sink else {
        to_stderr(&diagnostic);
        return;
    };
    // A diagnostic raised by the sink itself (say it allocates while its
    // thread tears down, which raises FA202) must not call the sink again:
    // that recursion never ends, or deadlocks on the sink's own lock.
    if IN_SINK.replace(true) {
        to_stderr(&diagnostic);
        return;
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_SINK.set(false);
        }
    }
    let _leave = Leave;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&diagnostic)));
    if let Err(payload) = outcome {
        eprintln!(
            "{diagnostic}\n  (the diagnostics sink panicked on this diagnostic: {})",
            panic_message(payload.as_ref())
        );
    }
}

/// Per-code counts of what reached stderr, process-wide.
static STDERR_SEEN: Mutex<StderrThrottle> = Mutex::new(StderrThrottle::new());

/// The default sink, throttled per code (see [`StderrThrottle`]).
fn to_stderr(diagnostic: &Diagnostic) {
    if cfg!(any(debug_assertions, feature = "diagnostics")) {
        let print = STDERR_SEEN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next(diagnostic.code);
        // `eprintln!` (not a raw `io::stderr()` write) so test harnesses
        // capture it like any other output. Printed after the lock is let
        // go: a slow terminal does not hold up other threads' counting.
        match print {
            Print::Full => eprintln!("{diagnostic}"),
            Print::Count { total, hidden } => eprintln!(
                "[framealloc][{}] {}: {hidden} more not shown, {total} in all",
                diagnostic.code, diagnostic.message
            ),
            Print::Nothing => {}
        }
    }
}

/// How many of each code's first occurrences stderr shows in full.
pub(super) const STDERR_FULL: u64 = 3;

/// What stderr shows of one occurrence of a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Print {
    /// The whole diagnostic.
    Full,
    /// One line: `total` occurrences of the code so far, `hidden` of them
    /// not printed since the last line about it.
    Count { total: u64, hidden: u64 },
    /// Nothing: it is counted only.
    Nothing,
}

/// The stderr rule: each code's first [`STDERR_FULL`] occurrences in full,
/// then one count line when its total reaches 10, 100, 1000, … A handled
/// error in a loop (a budget refusing every frame) thus costs a few lines,
/// not a block per frame, and the count still says how often it happened.
/// Captures, sinks and hooks are not throttled; neither is strict mode.
#[derive(Debug)]
pub(super) struct StderrThrottle {
    /// `(code, occurrences)`; a few dozen codes at most, so a list.
    seen: Vec<(&'static str, u64)>,
}

impl StderrThrottle {
    pub(super) const fn new() -> StderrThrottle {
        StderrThrottle { seen: Vec::new() }
    }

    /// Counts one occurrence of `code` and says what to print of it.
    pub(super) fn next(&mut self, code: &'static str) -> Print {
        let index = match self.seen.iter().position(|(seen, _)| *seen == code) {
            Some(index) => index,
            None => {
                self.seen.push((code, 0));
                self.seen.len() - 1
            }
        };
        let count = &mut self.seen[index].1;
        *count = count.saturating_add(1);
        let total = *count;
        if total <= STDERR_FULL {
            return Print::Full;
        }
        if !is_power_of_ten(total) {
            return Print::Nothing;
        }
        // The previous line about this code was printed at total / 10, or
        // at the last full print for the first count line.
        let previous = if total == 10 { STDERR_FULL } else { total / 10 };
        Print::Count {
            total,
            hidden: total - previous,
        }
    }
}

fn is_power_of_ten(mut value: u64) -> bool {
    while value >= 10 && value.is_multiple_of(10) {
        value /= 10;
    }
    value == 1
}

/// The text of a caught panic's payload (`&str` or `String`), or a
/// placeholder.
pub(crate) fn panic_message(payload: &(dyn core::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic payload that is not a string)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prints(throttle: &mut StderrThrottle, code: &'static str, n: u64) -> Vec<(u64, Print)> {
        (1..=n)
            .map(|total| (total, throttle.next(code)))
            .filter(|(_, print)| *print != Print::Nothing)
            .collect()
    }

    #[test]
    fn first_three_in_full_then_a_count_at_each_power_of_ten() {
        let mut throttle = StderrThrottle::new();
        assert_eq!(
            prints(&mut throttle, "FA301", 1000),
            [
                (1, Print::Full),
                (2, Print::Full),
                (3, Print::Full),
                (
                    10,
                    Print::Count {
                        total: 10,
                        hidden: 7
                    }
                ),
                (
                    100,
                    Print::Count {
                        total: 100,
                        hidden: 90
                    }
                ),
                (
                    1000,
                    Print::Count {
                        total: 1000,
                        hidden: 900
                    }
                ),
            ]
        );
    }

    #[test]
    fn codes_are_counted_apart() {
        let mut throttle = StderrThrottle::new();
        assert_eq!(prints(&mut throttle, "FA301", 5).len(), 3);
        // FA302 starts from its own first occurrence.
        assert_eq!(throttle.next("FA302"), Print::Full);
        assert_eq!(throttle.next("FA301"), Print::Nothing);
    }

    #[test]
    fn powers_of_ten() {
        let found: Vec<u64> = (0..=100_000).filter(|v| is_power_of_ten(*v)).collect();
        assert_eq!(found, [1, 10, 100, 1000, 10_000, 100_000]);
    }
}
