//! Empty: this package exists for its test (`tests/fa101.rs`).
