//! framealloc's integration tests: one binary, one link step.
//!
//! `counting` installs a `#[global_allocator]` that counts calls per thread,
//! so every test here runs under it; the counts are thread-local, so tests
//! running in parallel do not disturb each other.

mod box_slices;
mod budgets;
mod counting;
#[cfg(feature = "debug")]
mod debug_feature;
mod diagnostics_context;
mod diagnostics_hooks;
mod diagnostics_macros;
mod diagnostics_paths;
mod diagnostics_strict;
mod frame_basics;
mod frame_collections;
mod frame_drops;
mod frame_papercuts;
mod frame_random;
mod frame_scopes;
mod frame_sizes;
mod frame_threads;
mod group_basics;
mod group_model;
mod handle_basics;
mod handle_model;
mod observe_frame_group;
mod observe_handle_streaming;
mod observe_pool_heap;
mod pool_basics;
mod pool_lifecycle;
mod pool_model;
mod pool_threads;
mod quiet_errors;
mod scoped_guards;
mod streaming_model;
mod streaming_threads;
mod support;
#[cfg(any(feature = "tracy", feature = "tracing"))]
mod tracy_tracing;
mod ui;
mod ui_pass;
