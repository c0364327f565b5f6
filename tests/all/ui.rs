//! Compile-fail UI tests (trybuild) for the lifetime-typed frame API:
//! `ui-tests/fail/*.rs` must not compile, with the diagnostics recorded in
//! their `.stderr` files (the programs of `ui-tests/*/pass/`, which must
//! compile and run, are modules of the test binaries: `ui_pass.rs`).
//! `ui-tests/macros/` does the same for `fa_compile_error!`,
//! `#[frame_system]` and the runtime emission macros, and `ui-tests/bevy/`
//! for the Bevy integration (frame memory cannot be kept in a resource, a
//! component, a `Local`, a message or a command; `AllocResource` is
//! immutable), and `ui-tests/groups/` for groups (nothing a group made
//! outlives its free; what it drops is `Send + 'static`; a `Group` is not
//! `Sync`), and `ui-tests/handles/` for handles (a `get` borrow cannot
//! span a defragmentation or a free; a handle resolves only as its type).
//! The FA101 of `#[frame_system]` without the `bevy` feature is
//! checked by `tests/no-bevy`, a crate outside the workspace.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p framealloc-suite --test all ui`.

// `rustversion::attr` must come before `#[test]`: the built-in `#[test]`
// reads `#[ignore]` when it expands, and attributes expand in order.
#[rustversion::attr(not(stable(1.95)), ignore = "UI snapshots are recorded with Rust 1.95 stable")]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/fail/*.rs");
    cases.compile_fail("ui-tests/macros/fail/*.rs");
    cases.compile_fail("ui-tests/bevy/fail/*.rs");
    cases.compile_fail("ui-tests/groups/fail/*.rs");
    cases.compile_fail("ui-tests/handles/fail/*.rs");
}
