//! `Diagnostic`, the value every emission produces, and its severity.

use std::borrow::Cow;
use std::fmt;

use super::codes::CodeInfo;
use super::context::DiagContext;

/// How serious a diagnostic is. Ordered: `Note < Warning < Error`.
///
/// Strict mode panics on [`Error`](Self::Error)s
/// ([`StrictMode::PanicOnError`](crate::StrictMode::PanicOnError)) or on
/// warnings too ([`StrictMode::PanicOnWarning`](crate::StrictMode::PanicOnWarning));
/// notes never panic.
///
/// ```
/// use framealloc::DiagnosticKind;
///
/// assert!(DiagnosticKind::Warning < DiagnosticKind::Error);
/// assert_eq!(DiagnosticKind::Error.to_string(), "error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiagnosticKind {
    /// Information only.
    Note,
    /// Something is probably wrong, but the call still did its job.
    Warning,
    /// The call could not do what was asked.
    Error,
}

impl DiagnosticKind {
    /// The word printed before the message: `"note"`, `"warning"`, `"error"`.
    ///
    /// ```
    /// assert_eq!(framealloc::DiagnosticKind::Warning.label(), "warning");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            DiagnosticKind::Note => "note",
            DiagnosticKind::Warning => "warning",
            DiagnosticKind::Error => "error",
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One diagnostic, as delivered to a [`Capture`](super::Capture) or a
/// [sink](super::set_sink), and as printed to stderr.
///
/// Its [`Display`](fmt::Display) is the printed form:
///
/// ```text
/// [framealloc][FA003] error: frame arena exhausted
///   note: 8192 more bytes requested, but this thread's arena already holds 0 of its 4096-byte limit
///   help: raise the per-thread limit with `AllocConfig::with_frame_arena_size`, …
///   context: thread "main" (ThreadId(1)), main thread, frame 0 (active), bevy: no
/// ```
///
/// # Example
///
/// ```
/// use framealloc::DiagnosticKind;
/// use framealloc::diagnostics::Diagnostic;
///
/// let diagnostic = Diagnostic::new(DiagnosticKind::Warning, "FA102", "frame hooks did not run")
///     .with_help("keep the plugin's systems in their schedules");
/// assert_eq!(
///     diagnostic.to_string(),
///     "[framealloc][FA102] warning: frame hooks did not run\n  help: keep the plugin's systems in their schedules"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// How serious it is.
    pub kind: DiagnosticKind,
    /// The code, such as `"FA003"`.
    pub code: &'static str,
    /// What happened.
    pub message: Cow<'static, str>,
    /// The `note:` line, if any: details or the rule behind the message.
    pub note: Option<Cow<'static, str>>,
    /// The `help:` line, if any: what to change.
    pub help: Option<Cow<'static, str>>,
    /// Where it happened, when captured (`fa_emit_ctx!`, and every diagnostic
    /// framealloc's own allocation paths report).
    pub context: Option<DiagContext>,
}

impl Diagnostic {
    /// A diagnostic with no note, help or context.
    ///
    /// ```
    /// use framealloc::{DiagnosticKind, diagnostics::Diagnostic};
    ///
    /// let d = Diagnostic::new(DiagnosticKind::Note, "FA999", "game-specific");
    /// assert_eq!(d.to_string(), "[framealloc][FA999] note: game-specific");
    /// ```
    pub fn new(
        kind: DiagnosticKind,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Diagnostic {
        Diagnostic {
            kind,
            code,
            message: message.into(),
            note: None,
            help: None,
            context: None,
        }
    }

    /// The standard diagnostic of a table row: its kind, message, note and
    /// help.
    ///
    /// ```
    /// use framealloc::diagnostics::{self, Diagnostic};
    ///
    /// let d = Diagnostic::from_code(diagnostics::lookup("FA001").unwrap());
    /// assert!(d.to_string().starts_with("[framealloc][FA001] error: frame allocation used outside"));
    /// ```
    pub fn from_code(info: &'static CodeInfo) -> Diagnostic {
        Diagnostic::new(info.kind, info.code, info.message)
            .with_note(info.note)
            .with_help(info.help)
    }

    /// Sets the `note:` line.
    ///
    /// ```
    /// # use framealloc::{DiagnosticKind, diagnostics::Diagnostic};
    /// let d = Diagnostic::new(DiagnosticKind::Error, "FA001", "m").with_note(format!("frame {}", 3));
    /// assert_eq!(d.note.as_deref(), Some("frame 3"));
    /// ```
    pub fn with_note(mut self, note: impl Into<Cow<'static, str>>) -> Diagnostic {
        self.note = Some(note.into());
        self
    }

    /// Sets the `help:` line.
    ///
    /// ```
    /// # use framealloc::{DiagnosticKind, diagnostics::Diagnostic};
    /// let d = Diagnostic::new(DiagnosticKind::Error, "FA001", "m").with_help("open a frame");
    /// assert_eq!(d.help.as_deref(), Some("open a frame"));
    /// ```
    pub fn with_help(mut self, help: impl Into<Cow<'static, str>>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Attaches where it happened.
    ///
    /// ```
    /// use framealloc::diagnostics::{DiagContext, Diagnostic};
    ///
    /// let d = Diagnostic::from_code(framealloc::diagnostics::lookup("FA003").unwrap())
    ///     .with_context(DiagContext::capture());
    /// assert!(d.to_string().contains("\n  context: thread"));
    /// ```
    pub fn with_context(mut self, context: DiagContext) -> Diagnostic {
        self.context = Some(context);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The templates are the macro crate's, which renders compile-time
        // diagnostics with them too.
        write!(
            f,
            framealloc_macros::__diagnostic_format!(header),
            code = self.code,
            kind = self.kind,
            message = self.message
        )?;
        let lines = [
            ("note", self.note.as_deref().map(str::to_owned)),
            ("help", self.help.as_deref().map(str::to_owned)),
            ("context", self.context.as_ref().map(ToString::to_string)),
        ];
        for (label, text) in lines {
            if let Some(text) = text {
                write!(
                    f,
                    framealloc_macros::__diagnostic_format!(line),
                    label = label,
                    text = text
                )?;
            }
        }
        Ok(())
    }
}
