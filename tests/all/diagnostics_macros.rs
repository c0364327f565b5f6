//! The emission macros and the capture, as a user sees them.

use framealloc::diagnostics::{self, Capture};
use framealloc::{DiagnosticKind, fa_assert, fa_diagnostic, fa_emit, fa_emit_ctx};

#[test]
fn fa_diagnostic_prints_the_spec_format() {
    let capture = Capture::start();
    fa_diagnostic!(
        Error,
        code = "FA001",
        message = "frame allocation used outside an active frame",
        note = "this allocation was requested when no frame was active",
        help = "call alloc.begin_frame() before allocating",
    );
    fa_diagnostic!(
        Warning,
        code = "GAME7",
        message = format!("{} late frames", 3)
    );
    let seen = capture.finish();
    assert_eq!(
        seen[0].to_string(),
        "[framealloc][FA001] error: frame allocation used outside an active frame\n  \
         note: this allocation was requested when no frame was active\n  \
         help: call alloc.begin_frame() before allocating"
    );
    assert_eq!(
        seen[1].to_string(),
        "[framealloc][GAME7] warning: 3 late frames"
    );
}

#[test]
fn fa_emit_uses_the_table() {
    let capture = Capture::start();
    fa_emit!(FA003);
    fa_emit!(FA003, "{} bytes over", 12);
    fa_emit_ctx!(FA202);
    let seen = capture.finish();
    let row = diagnostics::lookup("FA003").unwrap();
    assert_eq!(seen[0].message, row.message);
    assert_eq!(seen[0].note.as_deref(), Some(row.note));
    assert_eq!(seen[0].help.as_deref(), Some(row.help));
    assert_eq!(seen[1].note.as_deref(), Some("12 bytes over"));
    assert_eq!(seen[2].kind, DiagnosticKind::Warning);
    assert!(seen[2].context.is_some() && seen[0].context.is_none());
}

#[test]
fn fa_assert_emits_only_when_false() {
    let capture = Capture::start();
    let frame_active = false;
    fa_assert!(frame_active, FA001);
    fa_assert!(frame_active, FA001, ctx);
    fa_assert!(1 + 1 == 2, FA001);
    fa_assert!(!frame_active, FA001, ctx);
    let seen = capture.finish();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|d| d.code == "FA001"));
    assert!(seen[0].context.is_none());
    assert!(seen[1].context.is_some());
}

#[test]
fn captures_nest_and_stay_on_their_thread() {
    let outer = Capture::start();
    fa_emit!(FA001);
    {
        let inner = Capture::start();
        fa_emit!(FA002);
        std::thread::spawn(|| {
            let theirs = Capture::start();
            fa_emit!(FA901);
            assert_eq!(theirs.finish().len(), 1);
        })
        .join()
        .unwrap();
        assert_eq!(
            inner.finish().iter().map(|d| d.code).collect::<Vec<_>>(),
            ["FA002"]
        );
    }
    fa_emit!(FA003);
    let codes: Vec<_> = outer.finish().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["FA001", "FA003"]);
}

#[test]
fn every_table_code_can_be_emitted_with_its_own_text() {
    let ((), seen) = diagnostics::capture(|| {
        fa_emit!(FA001);
        fa_emit!(FA002);
        fa_emit!(FA003);
        fa_emit!(FA004);
        fa_emit!(FA005);
        fa_emit!(FA101);
        fa_emit!(FA102);
        fa_emit!(FA103);
        fa_emit!(FA201);
        fa_emit!(FA202);
        fa_emit!(FA203);
        fa_emit!(FA301);
        fa_emit!(FA302);
        fa_emit!(FA303);
        fa_emit!(FA304);
        fa_emit!(FA305);
        fa_emit!(FA401);
        fa_emit!(FA402);
        fa_emit!(FA403);
        fa_emit!(FA404);
        fa_emit!(FA405);
        fa_emit!(FA501);
        fa_emit!(FA901);
    });
    assert_eq!(seen.len(), diagnostics::CODES.len());
    for (diagnostic, row) in seen.iter().zip(diagnostics::CODES) {
        assert_eq!(diagnostic.code, row.code);
        assert_eq!(
            diagnostic.to_string(),
            format!(
                "[framealloc][{}] {}: {}\n  note: {}\n  help: {}",
                row.code, row.kind, row.message, row.note, row.help
            )
        );
    }
}
