//! Build-time hints, printed only when asked for.
//!
//! `FRAMEALLOC_BUILD_HINTS=1 cargo build` prints which framealloc features
//! are on, what the build profile means for diagnostics, and a quick
//! reference of the API, as `cargo:warning=` lines. Cargo shows build-script
//! warnings for workspace and path dependencies; for a crates.io dependency
//! add `-vv`. Without the variable the build is silent.

//!
//! One check is not optional: the `nightly` feature on a compiler that
//! refuses `#![feature]` (stable, beta) stops the build here with a message
//! that says so, instead of rustc's E0554 about the stable release channel.

use std::env;
use std::process::Command;

const HINTS_VAR: &str = "FRAMEALLOC_BUILD_HINTS";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={HINTS_VAR}");
    // RUSTC_BOOTSTRAP decides whether a stable compiler accepts `#![feature]`.
    println!("cargo:rerun-if-env-changed=RUSTC_BOOTSTRAP");
    if env::var_os("CARGO_FEATURE_NIGHTLY").is_some() {
        check_nightly_compiler();
    }
    if env::var(HINTS_VAR).as_deref() != Ok("1") {
        return;
    }
    let feature =
        |name: &str| env::var_os(format!("CARGO_FEATURE_{}", name.to_uppercase())).is_some();
    let release = env::var("PROFILE").as_deref() == Ok("release");
    for line in hints(feature("nightly"), feature("diagnostics"), release) {
        println!("cargo:warning=[framealloc] {line}");
    }
    for line in observability_hints(
        feature("debug"),
        feature("tracy"),
        feature("tracing"),
        feature("parking_lot"),
    ) {
        println!("cargo:warning=[framealloc] {line}");
    }
}

/// Fails the build when the `nightly` feature meets a compiler that will
/// refuse `#![feature(allocator_api)]`. Cargo rebuilds build scripts when the
/// compiler changes, so switching to `+nightly` reruns this.
fn check_nightly_compiler() {
    // Cargo gives build scripts the compiler it builds with (not the
    // RUSTC_WRAPPER, which only forwards to it).
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Some(version) = Command::new(&rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
    else {
        // Unknown compiler: let rustc itself accept or refuse the feature.
        return;
    };
    let Some((number, channel)) = parse_version(&version) else {
        return;
    };
    let bootstrap = env::var("RUSTC_BOOTSTRAP").ok();
    if feature_gates_allowed(channel, bootstrap.as_deref()) {
        return;
    }
    let why = if bootstrap.as_deref() == Some("-1") {
        format!("RUSTC_BOOTSTRAP=-1 makes rustc {number} ({channel}) act as a stable one")
    } else {
        format!("rustc {number} is {channel}")
    };
    println!(
        "cargo:warning=framealloc: the `nightly` feature implements core::alloc::Allocator, \
         which only a nightly compiler has; on stable, `&Frame` implements \
         allocator_api2::alloc::Allocator without any feature"
    );
    println!(
        "cargo::error=framealloc: the `nightly` feature needs a nightly compiler \
         (`cargo +nightly build`); {why}"
    );
}

/// `"rustc 1.95.0 (59807616e 2026-04-14)"` gives `("1.95.0", "stable")`;
/// `"rustc 1.97.0-nightly (…)"` gives `("1.97.0", "nightly")`, and
/// `-beta.3` or `-dev` give `"beta"` or `"dev"`.
fn parse_version(version: &str) -> Option<(&str, &str)> {
    let full = version.strip_prefix("rustc ")?.split_whitespace().next()?;
    Some(match full.split_once('-') {
        Some((number, pre)) => (number, pre.split('.').next().unwrap_or(pre)),
        None => (full, "stable"),
    })
}

/// Whether rustc accepts `#![feature]` in this crate: nightly and
/// locally built (`dev`) compilers do unless RUSTC_BOOTSTRAP is `-1`; any
/// compiler does with RUSTC_BOOTSTRAP=1 or a list naming this crate.
fn feature_gates_allowed(channel: &str, bootstrap: Option<&str>) -> bool {
    match bootstrap {
        Some("-1") => false,
        Some(value) if value == "1" || value.split(',').any(|name| name == "framealloc") => true,
        _ => matches!(channel, "nightly" | "dev"),
    }
}

/// The hint lines for the observability features that are on.
fn observability_hints(
    debug: bool,
    tracy: bool,
    tracing: bool,
    parking_lot: bool,
) -> Vec<&'static str> {
    let mut lines = Vec::new();
    if debug {
        lines.extend([
            "ℹ️  Feature `debug` enabled",
            "   Freed memory is filled with 0xDD, fresh `*_uninit` memory with 0xCD",
            "   Live allocations record their call site: alloc.leak_report() lists them",
            "   Frees are checked (FA203); every pool and heap allocation takes the slow path",
        ]);
    }
    if tracy {
        lines.extend([
            "ℹ️  Feature `tracy` enabled",
            "   Frame marks, plots per intent and named memory events go to a running Tracy client",
            "   framealloc never starts a client: turn on `tracy-client/enable` and start one yourself",
        ]);
    }
    if tracing {
        lines.push("ℹ️  Feature `tracing`: events at engine-frame boundaries and on slow paths");
    }
    if parking_lot {
        lines.push("ℹ️  Feature `parking_lot`: the slow-path locks are parking_lot mutexes");
    }
    lines
}

/// The hint lines for one build; only features that exist are mentioned.
fn hints(nightly: bool, diagnostics: bool, release: bool) -> Vec<&'static str> {
    let mut lines = Vec::new();
    if nightly {
        lines.extend([
            "ℹ️  Feature `nightly` enabled",
            "   `&Frame` implements core::alloc::Allocator: std `Vec<T, &Frame>`, `Box<T, &Frame>`",
            "   Your crate needs #![feature(allocator_api)] and a nightly compiler",
        ]);
    }
    if diagnostics {
        lines.extend([
            "ℹ️  Feature `diagnostics` enabled",
            "   Runtime diagnostics (FA003, FA202, …) print to stderr in release builds too",
        ]);
    }
    if release {
        lines.extend([
            "ℹ️  Building in release mode",
            "   Runtime diagnostics still reach captures and sinks (framealloc::diagnostics::set_sink)",
        ]);
        if !diagnostics {
            lines.push("   Tip: enable the `diagnostics` feature to also print them to stderr");
        }
    } else {
        lines.extend([
            "ℹ️  Building in debug mode",
            "   Runtime diagnostics print to stderr as [framealloc][FAxxx] lines",
            "   FRAMEALLOC_STRICT=error (or =warning) turns them into panics, for CI",
        ]);
    }
    lines.extend([
        "────────────────────────────────────────",
        "ℹ️  framealloc Quick Reference",
        "────────────────────────────────────────",
        "   Frame allocation (fastest, reset per frame):",
        "     let frame = alloc.begin_frame();",
        "     let data = frame.alloc(value);        // FrameBox<'_, T>",
        "     let list = frame.alloc_slice_copy(&items);",
        "     drop(frame);                          // or frame.end(): O(1) reset",
        "   Fallible: frame.try_alloc(value)? returns AllocError (FA003 when the arena is full)",
        "   Guide to every FAxxx code: docs/diagnostics.md",
    ]);
    lines
}
