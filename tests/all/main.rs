//! framealloc's integration tests: one binary, one link step.

mod frame_basics;
