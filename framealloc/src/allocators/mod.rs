//! Raw memory: every `unsafe` block of the crate lives below this module
//! (DESIGN.md rule 8). The layers above it (`frame`, `alloc`, …) are safe
//! code that calls the safe functions exported here.
//!
//! - `chunk`: blocks from the global allocator and the shared chunk pool;
//! - `counter`: single-writer counters for statistics;
//! - `arena`: the per-thread bump arena over a chunk list;
//! - `frame_memory`: ownership of all arenas of one `SmartAlloc`;
//! - `thread_arena`: which arena the calling thread uses;
//! - `frame_box`: `FrameBox` and the routines that write into fresh memory;
//! - `frame_allocator`: `Frame` as a collections allocator;
//! - `pool_page`: 64 KiB pages of equal slots with a remote-free queue;
//! - `local_heap`: one thread's pages and counters for one allocator;
//! - `pool_state`: all pages and heaps of one allocator, and when they go
//!   back to the system;
//! - `thread_heap`: which heap the calling thread uses, and its token;
//! - `sync`: the lifecycle's mutexes and atomics (loom's in model tests);
//! - `pool_box`: the allocation and free paths of the pool and heap intents;
//! - `boxes`: `PoolBox` and `HeapBox`, built on those paths.

pub(crate) mod arena;
pub(crate) mod boxes;
pub(crate) mod chunk;
pub(crate) mod counter;
pub(crate) mod frame_allocator;
pub(crate) mod frame_box;
pub(crate) mod frame_memory;
pub(crate) mod local_heap;
pub(crate) mod pool_box;
pub(crate) mod pool_page;
pub(crate) mod pool_state;
pub(crate) mod sync;
pub(crate) mod thread_arena;
pub(crate) mod thread_heap;
