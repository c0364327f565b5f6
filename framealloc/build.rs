//! Build-time hints, printed only when asked for.
//!
//! `FRAMEALLOC_BUILD_HINTS=1 cargo build` prints which framealloc features
//! are on, what the build profile means for diagnostics, and a quick
//! reference of the API, as `cargo:warning=` lines. Cargo shows build-script
//! warnings for workspace and path dependencies; for a crates.io dependency
//! add `-vv`. Without the variable the build is silent.

use std::env;

const HINTS_VAR: &str = "FRAMEALLOC_BUILD_HINTS";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={HINTS_VAR}");
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
