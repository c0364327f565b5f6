//! `#[frame_system]` in a crate whose framealloc lacks the `bevy` feature:
//! a well-formed use is an FA101 compile error at the attribute
//! (`ui/*.rs`, with the compiler's output in the `.stderr` files).

#[rustversion::attr(not(stable(1.95)), ignore = "UI snapshots are recorded with Rust 1.95 stable")]
#[test]
fn frame_system_without_the_bevy_feature_is_fa101() {
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}
