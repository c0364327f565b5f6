//! Strict mode: turning diagnostics into panics, for CI.
//!
//! The mode in force on a thread is, first found: the innermost live
//! `StrictModeGuard` of that thread, the process-wide mode from
//! `set_strict_mode`, the `FRAMEALLOC_STRICT` environment variable (read
//! once, the first time a mode is needed), `StrictMode::Warn`.
//!
//! `FRAMEALLOC_STRICT` takes three values, which differ by one word:
//! `warn` means report only (the default), `error` makes errors panic, and
//! `warning` makes warnings panic too. Any other value (`1`, `true`,
//! `panic`, a typo) is read as `warn`, and a single line with code FA501
//! says so on stderr when the variable is read; an empty value counts as
//! unset.

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU8, Ordering};

use super::DiagnosticKind;
use crate::guard_stack::GuardStack;

/// What a diagnostic does besides being reported.
///
/// ```
/// use framealloc::{DiagnosticKind, StrictMode};
///
/// assert!(StrictMode::PanicOnError.panics_on(DiagnosticKind::Error));
/// assert!(!StrictMode::PanicOnError.panics_on(DiagnosticKind::Warning));
/// assert_eq!(StrictMode::from_env_value("warning"), Some(StrictMode::PanicOnWarning));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StrictMode {
    /// Report only (the default; `FRAMEALLOC_STRICT=warn`, and any value
    /// that is not a mode, with an FA501 line on stderr).
    #[default]
    Warn,
    /// Panic on errors (`FRAMEALLOC_STRICT=error`).
    PanicOnError,
    /// Panic on errors and warnings (`FRAMEALLOC_STRICT=warning`; not to
    /// be confused with `warn`, which only reports).
    PanicOnWarning,
}

impl StrictMode {
    /// Parses a value of `FRAMEALLOC_STRICT`: `warn`, `error` or `warning`
    /// (ASCII case ignored, surrounding spaces too).
    ///
    /// ```
    /// use framealloc::StrictMode;
    ///
    /// assert_eq!(StrictMode::from_env_value(" Error "), Some(StrictMode::PanicOnError));
    /// assert_eq!(StrictMode::from_env_value("loud"), None);
    /// ```
    pub fn from_env_value(value: &str) -> Option<StrictMode> {
        let value = value.trim();
        [
            ("warn", StrictMode::Warn),
            ("error", StrictMode::PanicOnError),
            ("warning", StrictMode::PanicOnWarning),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, mode)| mode)
    }

    /// Whether a diagnostic of `kind` panics in this mode.
    ///
    /// ```
    /// use framealloc::{DiagnosticKind, StrictMode};
    ///
    /// assert!(StrictMode::PanicOnWarning.panics_on(DiagnosticKind::Warning));
    /// assert!(!StrictMode::PanicOnWarning.panics_on(DiagnosticKind::Note));
    /// ```
    pub fn panics_on(self, kind: DiagnosticKind) -> bool {
        match self {
            StrictMode::Warn => false,
            StrictMode::PanicOnError => kind >= DiagnosticKind::Error,
            StrictMode::PanicOnWarning => kind >= DiagnosticKind::Warning,
        }
    }

    /// The mode in force on the calling thread (see the module docs for the
    /// order of precedence).
    ///
    /// ```
    /// use framealloc::{StrictMode, StrictModeGuard};
    ///
    /// let _strict = StrictModeGuard::panic_on_warning();
    /// assert_eq!(StrictMode::current(), StrictMode::PanicOnWarning);
    /// ```
    pub fn current() -> StrictMode {
        // A `const`, destructor-free thread-local: readable even during
        // thread teardown.
        decode(THREAD.with(Cell::get)).unwrap_or_else(process_mode)
    }

    fn encode(self) -> u8 {
        match self {
            StrictMode::Warn => 1,
            StrictMode::PanicOnError => 2,
            StrictMode::PanicOnWarning => 3,
        }
    }
}

/// No mode recorded.
const UNSET: u8 = 0;

fn decode(value: u8) -> Option<StrictMode> {
    match value {
        1 => Some(StrictMode::Warn),
        2 => Some(StrictMode::PanicOnError),
        3 => Some(StrictMode::PanicOnWarning),
        _ => None,
    }
}

/// The process-wide mode; `UNSET` until set or read from the environment.
static PROCESS: AtomicU8 = AtomicU8::new(UNSET);

thread_local! {
    /// This thread's guard override, the newest live guard's mode; `UNSET`
    /// when no guard is alive. A copy of `GUARDS`' newest entry.
    static THREAD: Cell<u8> = const { Cell::new(UNSET) };
    /// The live `StrictModeGuard`s of this thread, oldest first.
    static GUARDS: GuardStack<u8> = const { GuardStack::new() };
}

/// The name of the environment variable read once for the default mode.
pub(crate) const STRICT_ENV_VAR: &str = "FRAMEALLOC_STRICT";

fn process_mode() -> StrictMode {
    if let Some(mode) = decode(PROCESS.load(Ordering::Relaxed)) {
        return mode;
    }
    // Set but empty (`FRAMEALLOC_STRICT=`) counts as unset, as CI scripts
    // clear variables that way.
    let value =
        std::env::var_os(STRICT_ENV_VAR).filter(|value| !value.to_string_lossy().trim().is_empty());
    let parsed = value
        .as_ref()
        .map(|value| value.to_str().and_then(StrictMode::from_env_value));
    let from_env = parsed.flatten().unwrap_or_default();
    // A concurrent `set_strict_mode` wins over the environment.
    match PROCESS.compare_exchange(
        UNSET,
        from_env.encode(),
        Ordering::Relaxed,
        Ordering::Relaxed,
    ) {
        Ok(_) => {
            // Only the thread that recorded the mode warns: once per process.
            if let (Some(value), Some(None)) = (&value, parsed) {
                eprintln!("{}", unknown_value_warning(&value.to_string_lossy()));
            }
            from_env
        }
        Err(current) => decode(current).unwrap_or_default(),
    }
}

/// The one line printed when `FRAMEALLOC_STRICT` holds a value that is not
/// a mode: `1`, `true` or `panic` would otherwise silently mean "report
/// only". Printed straight to stderr, not raised as a diagnostic: raising
/// one needs the strict mode, which is being decided here.
fn unknown_value_warning(value: &str) -> String {
    format!(
        "[framealloc][FA501] warning: unknown `{STRICT_ENV_VAR}` value {value:?}: the accepted values are `warn` (report only), `error` (errors panic) and `warning` (warnings and errors panic); read as `warn`"
    )
}

/// Sets the process-wide strict mode, replacing `FRAMEALLOC_STRICT` and any
/// earlier call. Threads with a live [`StrictModeGuard`] keep the guard's
/// mode until it drops.
///
/// ```should_panic
/// use framealloc::{StrictMode, set_strict_mode};
///
/// set_strict_mode(StrictMode::PanicOnError);
/// framealloc::fa_emit!(FA901); // panics: "[framealloc][FA901] error: internal allocator error…"
/// ```
pub fn set_strict_mode(mode: StrictMode) {
    PROCESS.store(mode.encode(), Ordering::Relaxed);
}

/// Strict mode for the calling thread while the guard lives; the previous
/// mode comes back when it drops. Guards nest; one dropped out of order
/// removes only its own mode, and the newest live guard's mode is in force.
///
/// ```
/// use framealloc::{StrictMode, StrictModeGuard};
///
/// {
///     let _guard = StrictModeGuard::panic_on_error();
///     assert_eq!(StrictMode::current(), StrictMode::PanicOnError);
///     {
///         let _relaxed = StrictModeGuard::new(StrictMode::Warn);
///         framealloc::fa_emit!(FA901); // reported, no panic
///     }
///     assert!(std::panic::catch_unwind(|| framealloc::fa_emit!(FA901)).is_err());
/// }
/// assert_eq!(StrictMode::current(), StrictMode::Warn);
/// ```
#[must_use = "the mode is restored as soon as the guard is dropped"]
pub struct StrictModeGuard {
    /// This guard's entry in `GUARDS`.
    id: u64,
    /// The override lives in this thread's state.
    _not_send: PhantomData<*const ()>,
}

impl StrictModeGuard {
    /// Applies `mode` to the calling thread until the guard drops.
    ///
    /// ```
    /// let _quiet = framealloc::StrictModeGuard::new(framealloc::StrictMode::Warn);
    /// ```
    pub fn new(mode: StrictMode) -> StrictModeGuard {
        let id = GUARDS.with(|guards| guards.push(mode.encode()));
        THREAD.with(|thread| thread.set(mode.encode()));
        StrictModeGuard {
            id,
            _not_send: PhantomData,
        }
    }

    /// Errors panic on this thread until the guard drops.
    ///
    /// ```
    /// let _guard = framealloc::StrictModeGuard::panic_on_error();
    /// framealloc::fa_emit!(FA102); // a warning: reported only
    /// ```
    pub fn panic_on_error() -> StrictModeGuard {
        StrictModeGuard::new(StrictMode::PanicOnError)
    }

    /// Errors and warnings panic on this thread until the guard drops.
    ///
    /// ```should_panic
    /// let _guard = framealloc::StrictModeGuard::panic_on_warning();
    /// framealloc::fa_emit!(FA102); // panics: "[framealloc][FA102] warning: …"
    /// ```
    pub fn panic_on_warning() -> StrictModeGuard {
        StrictModeGuard::new(StrictMode::PanicOnWarning)
    }
}

impl Drop for StrictModeGuard {
    fn drop(&mut self) {
        // Out of order too: only this guard's mode leaves, and the newest
        // live guard's mode (or none) is in force.
        let _ = GUARDS.try_with(|guards| {
            guards.remove(self.id);
            let newest = guards.with_newest(|mode| mode.copied()).unwrap_or(UNSET);
            let _ = THREAD.try_with(|thread| thread.set(newest));
        });
    }
}

impl core::fmt::Debug for StrictModeGuard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mode = GUARDS
            .try_with(|guards| guards.with_entry(self.id, |mode| mode.copied()))
            .ok()
            .flatten();
        f.debug_struct("StrictModeGuard")
            .field("mode", &mode.and_then(decode))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unknown_value_warning_is_one_line_naming_the_accepted_values() {
        let line = unknown_value_warning("1");
        assert_eq!(
            line,
            "[framealloc][FA501] warning: unknown `FRAMEALLOC_STRICT` value \"1\": the accepted values are `warn` (report only), `error` (errors panic) and `warning` (warnings and errors panic); read as `warn`"
        );
        assert!(!line.contains('\n'));
        assert!(crate::diagnostics::lookup("FA501").is_some());
    }
}
