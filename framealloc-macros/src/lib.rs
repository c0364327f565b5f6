//! Procedural macros for [`framealloc`](https://docs.rs/framealloc).
//!
//! Users never depend on this crate directly: `framealloc` re-exports every
//! macro it defines. Generated code refers to `::framealloc::__private`, so the
//! expansion keeps working when the user renames nothing but imports only
//! `framealloc`.
//!
//! This crate is small on purpose: it holds no runtime logic and no `unsafe`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

/// Placeholder entry point kept so the crate builds as a proc-macro crate while
/// `#[frame_system]` and `fa_compile_error!` are written (see the diagnostics
/// and Bevy issues). It expands to nothing and is hidden from the docs.
#[doc(hidden)]
#[proc_macro]
pub fn __framealloc_macros_ready(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
