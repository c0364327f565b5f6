// The runtime macros compile in user code with only `framealloc` imported.
use framealloc::diagnostics::Capture;
use framealloc::{DiagnosticKind, fa_assert, fa_diagnostic, fa_emit, fa_emit_ctx};

pub fn main() {
    let capture = Capture::start();
    fa_diagnostic!(Note, code = "GAME1", message = "level loaded");
    fa_emit!(FA102);
    fa_emit_ctx!(FA003, "{} bytes", 64);
    fa_assert!(false, FA001, ctx);
    let seen = capture.finish();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].kind, DiagnosticKind::Note);
}
