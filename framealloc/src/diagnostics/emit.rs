//! Emission: building a diagnostic from the table, delivering it, and strict
//! mode. Also the crate-internal entry points the allocation paths call.

use core::fmt;

use super::codes::{CodeInfo, lookup};
use super::context::DiagContext;
use super::diagnostic::Diagnostic;
use super::sink::deliver;
use super::strict::StrictMode;

/// Whether strict mode may panic for this emission.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Strict {
    Enforce,
    /// Raised from a thread-local destructor: a panic there aborts the
    /// process, so strict mode reports without panicking.
    ReportOnly,
}

/// Delivers `diagnostic`, then panics if strict mode says so (never while
/// the thread is already panicking: that would abort).
#[track_caller]
pub(super) fn emit(diagnostic: Diagnostic, strict: Strict) {
    let mode = StrictMode::current();
    let panics =
        strict == Strict::Enforce && mode.panics_on(diagnostic.kind) && !std::thread::panicking();
    let message = panics.then(|| {
        format!(
            "{diagnostic}\n  strict mode ({mode:?}) makes this {} a panic",
            diagnostic.kind
        )
    });
    // Debug UIs listening through `DiagnosticsHooks` see every diagnostic
    // (one atomic load when none listens).
    super::hooks::forward_diagnostic(&diagnostic);
    deliver(diagnostic);
    if let Some(message) = message {
        panic!("{message}");
    }
}

/// A table row as a diagnostic; `details`, when not empty, replace the
/// row's generic note.
fn from_row(info: &'static CodeInfo, details: Option<fmt::Arguments<'_>>) -> Diagnostic {
    let diagnostic = Diagnostic::from_code(info);
    match details.map(|details| details.to_string()) {
        Some(details) if !details.is_empty() => diagnostic.with_note(details),
        _ => diagnostic,
    }
}

/// The expansion of `fa_emit!`, `fa_emit_ctx!` and `fa_assert!`. Not public
/// API.
#[doc(hidden)]
#[cold]
#[track_caller]
pub fn __emit_code(info: &'static CodeInfo, details: Option<fmt::Arguments<'_>>, context: bool) {
    let diagnostic = from_row(info, details);
    let diagnostic = if context {
        diagnostic.with_context(DiagContext::capture())
    } else {
        diagnostic
    };
    emit(diagnostic, Strict::Enforce);
}

/// Reports diagnostic `code` from one of framealloc's own code paths, with
/// `details` (the figures involved) as its note and the calling thread's
/// context. Kind, message and help come from the table.
///
/// Strict mode applies: this may panic. Call it where the state is
/// consistent (before or after a refusal, never in the middle of an update).
#[cold]
#[inline(never)]
pub(crate) fn report(code: &'static str, details: fmt::Arguments<'_>) {
    report_with(code, details, Strict::Enforce);
}

/// [`report`] for paths that run inside thread-local destructors, where a
/// strict-mode panic would abort the process.
#[cold]
#[inline(never)]
pub(crate) fn report_during_teardown(code: &'static str, details: fmt::Arguments<'_>) {
    report_with(code, details, Strict::ReportOnly);
}

#[track_caller]
fn report_with(code: &'static str, details: fmt::Arguments<'_>, strict: Strict) {
    // A refusal the program handles, with nothing listening (no capture,
    // sink, hook or stderr, and strict mode not panicking), costs no
    // formatting and no allocation.
    if let Some(info) = lookup(code)
        && !(strict == Strict::Enforce && StrictMode::current().panics_on(info.kind))
        && !super::hooks::any_watcher()
        && !super::sink::anyone_hears()
    {
        return;
    }
    let diagnostic = match lookup(code) {
        Some(info) => from_row(info, Some(details)),
        None => {
            debug_assert!(false, "{code} is not in the diagnostic table");
            Diagnostic::new(
                super::DiagnosticKind::Error,
                "FA901",
                format!("internal allocator error: unknown diagnostic code {code}"),
            )
            .with_note(details.to_string())
        }
    };
    emit(diagnostic.with_context(DiagContext::capture()), strict);
}

impl Diagnostic {
    /// Sends it to this thread's [`Capture`](super::Capture), else to the
    /// [sink](super::set_sink), else to stderr (debug builds, or the
    /// `diagnostics` feature); then applies [strict mode](crate::StrictMode).
    ///
    /// # Panics
    ///
    /// When strict mode panics on this diagnostic's kind. The panic message
    /// is the diagnostic's text, so it starts with `[framealloc][FAxxx]`.
    ///
    /// ```
    /// use framealloc::{DiagnosticKind, diagnostics::{Capture, Diagnostic}};
    ///
    /// let capture = Capture::start();
    /// Diagnostic::new(DiagnosticKind::Warning, "FA102", "frame hooks did not run").emit();
    /// assert_eq!(capture.finish()[0].code, "FA102");
    /// ```
    #[track_caller]
    pub fn emit(self) {
        emit(self, Strict::Enforce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Capture, StrictModeGuard};

    #[test]
    fn report_uses_the_row_and_the_details() {
        let capture = Capture::start();
        report("FA301", format_args!("{} bytes over the global budget", 64));
        report("FA302", format_args!(""));
        let seen = capture.finish();
        assert_eq!(
            seen[0].note.as_deref(),
            Some("64 bytes over the global budget")
        );
        assert_eq!(seen[0].message, "global memory budget exceeded");
        assert_eq!(seen[1].note.as_deref(), Some(lookup("FA302").unwrap().note));
    }

    #[test]
    fn teardown_reports_never_panic_in_strict_mode() {
        let _strict = StrictModeGuard::panic_on_warning();
        let capture = Capture::start();
        report_during_teardown("FA202", format_args!(""));
        assert_eq!(capture.finish()[0].code, "FA202");
    }

    #[test]
    fn no_strict_panic_while_already_panicking() {
        struct EmitsOnDrop;
        impl Drop for EmitsOnDrop {
            fn drop(&mut self) {
                crate::fa_emit!(FA901);
            }
        }
        let _strict = StrictModeGuard::panic_on_error();
        let _capture = Capture::start();
        let result = std::panic::catch_unwind(|| {
            let _emits = EmitsOnDrop;
            panic!("first");
        });
        let payload = result.unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"first"),
            "no double panic"
        );
    }
}
