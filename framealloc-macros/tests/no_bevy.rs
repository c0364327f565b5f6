//! `#[frame_system]` with framealloc's `bevy` feature off: a well-formed use
//! is an FA101 compile error at the attribute (`tests/no-bevy/*.rs`, with
//! the compiler's output in the `.stderr` files).
//!
//! `cargo test --workspace` turns the feature on (the suite's Bevy tests
//! need it, and cargo unifies features across the workspace), so this test
//! runs only when this crate is tested alone, as CI does:
//! `cargo test -p framealloc-macros --test no_bevy`.

#[rustversion::attr(not(stable(1.95)), ignore = "UI snapshots are recorded with Rust 1.95 stable")]
#[test]
fn frame_system_without_the_bevy_feature_is_fa101() {
    if cfg!(feature = "bevy") {
        println!(
            "skipped: the `bevy` feature is on in this build; run `cargo test -p framealloc-macros --test no_bevy`"
        );
        return;
    }
    trybuild::TestCases::new().compile_fail("tests/no-bevy/*.rs");
}
