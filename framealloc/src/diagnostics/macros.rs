//! The emission macros: `fa_diagnostic!`, `fa_emit!`, `fa_emit_ctx!`,
//! `fa_assert!`. They expand to `$crate::` paths only.

/// Emits a diagnostic written on the spot.
///
/// `fa_diagnostic!(Kind, code = "…", message = …, note = …, help = …)`: the
/// kind is `Error`, `Warning` or `Note` ([`DiagnosticKind`](crate::DiagnosticKind));
/// `note` and `help` are optional; each value is a `&'static str` or a
/// `String`. The code need not be in framealloc's table, so a game can use
/// its own codes. Delivery and strict mode as for
/// [`Diagnostic::emit`](crate::diagnostics::Diagnostic::emit).
///
/// ```
/// use framealloc::{DiagnosticKind, fa_diagnostic};
/// # let capture = framealloc::diagnostics::Capture::start();
///
/// fa_diagnostic!(
///     Error,
///     code = "FA001",
///     message = "frame allocation used outside an active frame",
///     note = "this allocation was requested after the frame ended",
///     help = "call alloc.begin_frame() before allocating"
/// );
/// # let seen = capture.finish();
/// # assert_eq!(seen[0].kind, DiagnosticKind::Error);
/// # assert_eq!(seen[0].to_string(), "[framealloc][FA001] error: frame allocation used outside an active frame\n  note: this allocation was requested after the frame ended\n  help: call alloc.begin_frame() before allocating");
/// ```
#[macro_export]
macro_rules! fa_diagnostic {
    (
        $kind:ident,
        code = $code:expr,
        message = $message:expr
        $(, note = $note:expr)?
        $(, help = $help:expr)?
        $(,)?
    ) => {
        $crate::diagnostics::Diagnostic::new($crate::DiagnosticKind::$kind, $code, $message)
            $(.with_note($note))?
            $(.with_help($help))?
            .emit()
    };
}

/// Emits one of framealloc's predefined diagnostics by code, with its
/// standard message, note and help; extra format arguments replace the note.
///
/// The code is checked at compile time: an unknown one does not compile.
///
/// ```
/// use framealloc::fa_emit;
/// # let capture = framealloc::diagnostics::Capture::start();
///
/// fa_emit!(FA001);
/// fa_emit!(FA003, "{} bytes requested", 4096);
/// # let seen = capture.finish();
/// # assert_eq!(seen[1].note.as_deref(), Some("4096 bytes requested"));
/// ```
///
/// ```compile_fail
/// framealloc::fa_emit!(FA999); // error: unknown framealloc diagnostic code `FA999`; known codes: …
/// ```
#[macro_export]
macro_rules! fa_emit {
    ($code:ident $(,)?) => {
        $crate::diagnostics::__emit_code(
            {
                // An unknown code is an error naming it, even under `cargo check`.
                $crate::diagnostics::__check_code!($code);
                const { $crate::diagnostics::__code(::core::stringify!($code)) }
            },
            ::core::option::Option::None,
            false,
        )
    };
    ($code:ident, $($details:tt)+) => {
        $crate::diagnostics::__emit_code(
            {
                // An unknown code is an error naming it, even under `cargo check`.
                $crate::diagnostics::__check_code!($code);
                const { $crate::diagnostics::__code(::core::stringify!($code)) }
            },
            ::core::option::Option::Some(::core::format_args!($($details)+)),
            false,
        )
    };
}

/// [`fa_emit!`] with the calling thread's
/// [`DiagContext`](crate::diagnostics::DiagContext) attached (thread, frame
/// number, whether a frame is active, …).
///
/// ```
/// use framealloc::fa_emit_ctx;
/// # let capture = framealloc::diagnostics::Capture::start();
///
/// fa_emit_ctx!(FA001);
/// # let seen = capture.finish();
/// # assert_eq!(seen[0].context.as_ref().unwrap().thread_id, std::thread::current().id());
/// ```
#[macro_export]
macro_rules! fa_emit_ctx {
    ($code:ident $(,)?) => {
        $crate::diagnostics::__emit_code(
            {
                // An unknown code is an error naming it, even under `cargo check`.
                $crate::diagnostics::__check_code!($code);
                const { $crate::diagnostics::__code(::core::stringify!($code)) }
            },
            ::core::option::Option::None,
            true,
        )
    };
    ($code:ident, $($details:tt)+) => {
        $crate::diagnostics::__emit_code(
            {
                // An unknown code is an error naming it, even under `cargo check`.
                $crate::diagnostics::__check_code!($code);
                const { $crate::diagnostics::__code(::core::stringify!($code)) }
            },
            ::core::option::Option::Some(::core::format_args!($($details)+)),
            true,
        )
    };
}

/// Emits a predefined diagnostic when a condition is false:
/// `fa_assert!(cond, FA001)`, or `fa_assert!(cond, FA001, ctx)` to attach
/// the context. Unlike `assert!` it does not panic by itself; strict mode
/// decides.
///
/// ```
/// use framealloc::fa_assert;
/// # let capture = framealloc::diagnostics::Capture::start();
///
/// let frame_active = false;
/// fa_assert!(frame_active, FA001);      // emits FA001
/// fa_assert!(frame_active, FA001, ctx); // emits FA001 with context
/// fa_assert!(true, FA001);              // emits nothing
/// # let seen = capture.finish();
/// # assert_eq!(seen.len(), 2);
/// # assert!(seen[0].context.is_none() && seen[1].context.is_some());
/// ```
#[macro_export]
macro_rules! fa_assert {
    ($condition:expr, $code:ident, ctx $(,)?) => {
        if !$condition {
            $crate::fa_emit_ctx!($code)
        }
    };
    ($condition:expr, $code:ident $(,)?) => {
        if !$condition {
            $crate::fa_emit!($code)
        }
    };
}
