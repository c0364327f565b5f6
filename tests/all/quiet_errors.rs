//! Quiet errors: handled refusals do not flood stderr (each code's first 3
//! in full, then a count line at 10, 100, …), while captures and strict mode
//! still see every one. Stderr is checked in a child process, which has its
//! own process-wide counts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;

use framealloc::diagnostics::Capture;
use framealloc::{AllocConfig, SmartAlloc, StrictModeGuard};

/// An allocator whose global budget refuses any second pool box.
fn refusing() -> (SmartAlloc, framealloc::PoolBox<[u8; 64]>) {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc.budgets().set_global_limits(None, Some(100)).unwrap();
    let kept = alloc.pool_box([0u8; 64]).unwrap();
    (alloc, kept)
}

/// Run by `stderr_shows_three_blocks_then_counts`: 50 handled FA301
/// refusals, then 50 more under strict mode (each a caught panic).
#[test]
#[ignore = "run as a child process by quiet_errors tests"]
fn quiet_child_refuses_a_hundred_times() {
    let (alloc, _kept) = refusing();
    let refused = (0..50)
        .filter(|_| alloc.pool_box([0u8; 48]).is_err())
        .count();
    eprintln!("refused: {refused}");
    // Strict-mode panics are counted, not printed by the panic hook.
    std::panic::set_hook(Box::new(|_| {}));
    let _strict = StrictModeGuard::panic_on_error();
    let panics = (0..50)
        .filter(|_| catch_unwind(AssertUnwindSafe(|| alloc.pool_box([0u8; 48]))).is_err())
        .count();
    let _ = std::panic::take_hook();
    eprintln!("strict panics: {panics}");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn stderr_shows_three_blocks_then_counts() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "quiet_errors::quiet_child_refuses_a_hundred_times",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("FRAMEALLOC_STRICT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("refused: 50\n"), "{stderr}");
    assert!(stderr.contains("strict panics: 50\n"), "{stderr}");
    let fa301: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("[framealloc][FA301]"))
        .collect();
    let full = "[framealloc][FA301] error: global memory budget exceeded";
    assert_eq!(
        fa301,
        [
            full,
            full,
            full,
            "[framealloc][FA301] global memory budget exceeded: 7 more not shown, 10 in all",
            "[framealloc][FA301] global memory budget exceeded: 90 more not shown, 100 in all",
        ],
        "{stderr}"
    );
    // The three full blocks are the only ones with note and help lines.
    let notes = stderr.lines().filter(|l| l.starts_with("  note: ")).count();
    let helps = stderr.lines().filter(|l| l.starts_with("  help: ")).count();
    assert_eq!((notes, helps), (3, 3), "{stderr}");
}

#[test]
fn a_capture_still_receives_every_refusal() {
    let (alloc, _kept) = refusing();
    let capture = Capture::start();
    for _ in 0..50 {
        assert!(alloc.pool_box([0u8; 48]).is_err());
    }
    let seen = capture.finish();
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|d| d.code == "FA301"));
}

/// Runs the strict-mode child of `diagnostics_strict` with
/// `FRAMEALLOC_STRICT=value`; returns whether it succeeded and its stderr.
fn strict_child(value: &str) -> (bool, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "diagnostics_strict::strict_child_emits_a_warning_then_an_error",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FRAMEALLOC_STRICT", value)
        .env_remove("STRICT_CHILD_SET_MODE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn unknown_strict_values_are_reported_once_and_read_as_warn() {
    for value in ["1", "true", "panic", "errror"] {
        let (success, stderr) = strict_child(value);
        assert!(success, "{value}: {stderr}");
        assert!(stderr.contains("mode: Warn"), "{value}: {stderr}");
        let fa501: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("[framealloc][FA501]"))
            .collect();
        assert_eq!(
            fa501,
            [format!(
                "[framealloc][FA501] warning: unknown `FRAMEALLOC_STRICT` value {value:?}: the accepted values are `warn` (report only), `error` (errors panic) and `warning` (warnings and errors panic); read as `warn`"
            )],
            "{stderr}"
        );
    }
    // Accepted values and an empty one say nothing.
    for value in ["warn", " Warn ", ""] {
        let (success, stderr) = strict_child(value);
        assert!(success, "{value:?}: {stderr}");
        assert!(!stderr.contains("FA501"), "{value:?}: {stderr}");
    }
}
