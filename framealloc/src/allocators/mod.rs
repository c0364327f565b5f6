//! The memory engines, one folder per intent, and the machinery they share.
//!
//! | module | holds |
//! |---|---|
//! | `frame` | the frame intent: `Frame`, `FrameBox`, per-thread bump arenas |
//! | `pool` | the pool and heap intents: `PoolBox`, `HeapBox`, thread heaps, pages |
//! | `group` | the groups intent: `Group` tokens, their chunks and destructor runs |
//! | `handle` | the handles intent: `HandleAllocator`, slots with generations, compaction |
//! | `streaming` | the streaming intent: budgeted asset bytes, loads, pins, eviction |
//! | `lease` | per-thread leases of arenas and heaps (one mechanism for both) |
//! | `counter` | single-writer counters for statistics |
//! | `poison` | the `debug` feature's filling of freed memory |
//! | `sync` | the slow-path locks and shared atomics: std's, parking_lot's (feature `parking_lot`) or loom's (model tests) |
//!
//! Each intent's `mod.rs` is its safe face. `unsafe` code lives only in the
//! leaf files that opt in with `#![expect(unsafe_code, reason = "…")]` at
//! their top; the crate denies it everywhere else.

pub(crate) mod counter;
pub(crate) mod frame;
pub(crate) mod group;
pub(crate) mod handle;
pub(crate) mod lease;
pub(crate) mod poison;
pub(crate) mod pool;
pub(crate) mod streaming;
pub(crate) mod sync;
#[cfg(feature = "tracy")]
pub(crate) mod tracy_sys;
