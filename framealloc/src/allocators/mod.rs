//! Raw memory: every `unsafe` block of the crate lives below this module
//! (DESIGN.md rule 8). The layers above it (`frame`, `alloc`, …) are safe
//! code that calls the safe functions exported here.
//!
//! - `chunk`: blocks from the global allocator and the shared chunk pool;
//! - `arena`: the per-thread bump arena over a chunk list;
//! - `frame_memory`: ownership of all arenas of one `SmartAlloc`;
//! - `thread_arena`: which arena the calling thread uses;
//! - `frame_box`: `FrameBox` and the routines that write into fresh memory;
//! - `frame_allocator`: `Frame` as a collections allocator.

pub(crate) mod arena;
pub(crate) mod chunk;
pub(crate) mod frame_allocator;
pub(crate) mod frame_box;
pub(crate) mod frame_memory;
pub(crate) mod thread_arena;
