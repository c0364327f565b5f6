//! Strict mode: the thread-scoped guard in this process; the process-wide
//! setting and `FRAMEALLOC_STRICT` in child processes (this test binary run
//! again on one ignored helper test), so the once-read variable is fresh and
//! no other test runs under a panicking mode.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Output};

use framealloc::diagnostics::Capture;
use framealloc::{AllocConfig, SmartAlloc, StrictMode, StrictModeGuard, fa_emit};

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn guard_panic_on_error_turns_fa003_into_a_panic_carrying_the_code() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(4096));
    let frame = alloc.begin_frame();
    let capture = Capture::start();
    {
        let _strict = StrictModeGuard::panic_on_error();
        let payload = catch_unwind(AssertUnwindSafe(|| frame.try_alloc([0u8; 8192]))).unwrap_err();
        let message = panic_message(payload);
        assert!(
            message.starts_with("[framealloc][FA003] error: frame arena exhausted"),
            "{message}"
        );
        assert!(message.contains("strict mode (PanicOnError)"), "{message}");
        // Warnings are only reported under `panic_on_error`.
        fa_emit!(FA202);
    }
    // The guard is gone: the same refusal is an ordinary `Err` again.
    assert!(frame.try_alloc([0u8; 8192]).is_err());
    let codes: Vec<_> = capture.finish().iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        ["FA003", "FA202", "FA003"],
        "delivered before the panic"
    );
}

#[test]
fn guard_panic_on_warning_panics_on_warnings_too() {
    let _capture = Capture::start();
    let _strict = StrictModeGuard::panic_on_warning();
    let payload = catch_unwind(|| fa_emit!(FA202)).unwrap_err();
    assert!(panic_message(payload).starts_with("[framealloc][FA202] warning:"));
    let payload = catch_unwind(|| fa_emit!(FA901)).unwrap_err();
    assert!(panic_message(payload).starts_with("[framealloc][FA901] error:"));
}

#[test]
fn guards_nest_and_restore_on_drop() {
    let outside = StrictMode::current();
    {
        let _outer = StrictModeGuard::panic_on_warning();
        assert_eq!(StrictMode::current(), StrictMode::PanicOnWarning);
        {
            let _inner = StrictModeGuard::new(StrictMode::Warn);
            assert_eq!(StrictMode::current(), StrictMode::Warn);
            let _capture = Capture::start();
            fa_emit!(FA901); // reported, no panic
        }
        assert_eq!(StrictMode::current(), StrictMode::PanicOnWarning);
    }
    assert_eq!(StrictMode::current(), outside);
}

#[test]
fn a_guard_applies_to_its_own_thread_only() {
    let _strict = StrictModeGuard::panic_on_error();
    let other = std::thread::spawn(|| {
        let _capture = Capture::start();
        fa_emit!(FA901);
        StrictMode::current()
    })
    .join()
    .expect("the other thread did not panic");
    assert_ne!(other, StrictMode::PanicOnError);
}

/// The helper the child processes run: a warning, then an error, each
/// followed by a marker line, so the parent sees how far it got.
#[test]
#[ignore = "run as a child process by the strict-mode tests"]
fn strict_child_emits_a_warning_then_an_error() {
    if std::env::var_os("STRICT_CHILD_SET_MODE").is_some() {
        framealloc::set_strict_mode(StrictMode::PanicOnError);
    }
    eprintln!("mode: {:?}", StrictMode::current());
    fa_emit!(FA202);
    eprintln!("after the warning");
    fa_emit!(FA901);
    eprintln!("after the error");
}

fn run_child(vars: &[(&str, &str)]) -> (Output, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "diagnostics_strict::strict_child_emits_a_warning_then_an_error",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("FRAMEALLOC_STRICT")
        .env_remove("STRICT_CHILD_SET_MODE");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn env_warn_reports_only() {
    let (output, stderr) = run_child(&[("FRAMEALLOC_STRICT", "warn")]);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("mode: Warn"), "{stderr}");
    assert!(stderr.contains("[framealloc][FA202] warning:"), "{stderr}");
    assert!(stderr.contains("[framealloc][FA901] error:"), "{stderr}");
    assert!(stderr.contains("after the error"), "{stderr}");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn env_error_panics_on_errors_only() {
    let (output, stderr) = run_child(&[("FRAMEALLOC_STRICT", "error")]);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("mode: PanicOnError"), "{stderr}");
    assert!(stderr.contains("after the warning"), "{stderr}");
    assert!(stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("[framealloc][FA901] error: internal allocator error"),
        "{stderr}"
    );
    assert!(!stderr.contains("after the error"), "{stderr}");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn env_warning_panics_on_warnings_too() {
    let (output, stderr) = run_child(&[("FRAMEALLOC_STRICT", "warning")]);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("mode: PanicOnWarning"), "{stderr}");
    assert!(stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("after the warning"), "{stderr}");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn set_strict_mode_replaces_the_environment_process_wide() {
    let (output, stderr) = run_child(&[
        ("FRAMEALLOC_STRICT", "warning"),
        ("STRICT_CHILD_SET_MODE", "1"),
    ]);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("mode: PanicOnError"), "{stderr}");
    assert!(stderr.contains("after the warning"), "{stderr}");
    assert!(!stderr.contains("after the error"), "{stderr}");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn no_env_means_report_only() {
    let (output, stderr) = run_child(&[]);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("mode: Warn"), "{stderr}");
}
