//! Where diagnostics go: this thread's `Capture`, else the global sink, else
//! stderr.

use core::cell::{Cell, RefCell};
use core::marker::PhantomData;
use std::sync::{Arc, PoisonError, RwLock};

use super::diagnostic::Diagnostic;

type Sink = Arc<dyn Fn(&Diagnostic) + Send + Sync>;

/// The global sink; `None` means stderr.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Buffers of the live `Capture`s on this thread, innermost last.
    static CAPTURES: RefCell<Vec<Vec<Diagnostic>>> = const { RefCell::new(Vec::new()) };
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
    /// Index of this capture's buffer in `CAPTURES`.
    depth: usize,
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
        let depth = CAPTURES.with(|captures| {
            let mut captures = captures.borrow_mut();
            captures.push(Vec::new());
            captures.len() - 1
        });
        Capture {
            depth,
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
                captures
                    .borrow_mut()
                    .get_mut(self.depth)
                    .map(core::mem::take)
                    .unwrap_or_default()
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
        // Dropping an outer capture first ends the inner ones too.
        let _ = CAPTURES.try_with(|captures| captures.borrow_mut().truncate(self.depth));
    }
}

impl core::fmt::Debug for Capture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Capture")
            .field("depth", &self.depth)
            .finish()
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

/// Delivers `diagnostic`: to the innermost capture of this thread, else to
/// the sink, else to stderr.
pub(super) fn deliver(diagnostic: Diagnostic) {
    let mut pending = Some(diagnostic);
    // Fails only while the thread tears down its thread-locals.
    let _ = CAPTURES.try_with(|captures| {
        if let Ok(mut captures) = captures.try_borrow_mut()
            && let Some(buffer) = captures.last_mut()
        {
            buffer.extend(pending.take());
        }
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

/// The default sink.
fn to_stderr(diagnostic: &Diagnostic) {
    if cfg!(any(debug_assertions, feature = "diagnostics")) {
        // `eprintln!` (not a raw `io::stderr()` write) so test harnesses
        // capture it like any other output.
        eprintln!("{diagnostic}");
    }
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
