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
