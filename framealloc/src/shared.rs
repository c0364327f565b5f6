//! The state every clone of one `SmartAlloc` shares.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::allocators::frame_memory::FrameMemory;
use crate::config::AllocConfig;

pub(crate) struct Shared {
    /// Unique for the life of the process (thread leases match on it).
    pub(crate) id: u64,
    pub(crate) config: AllocConfig,
    pub(crate) frames: FrameMemory,
}

impl Shared {
    pub(crate) fn new(config: AllocConfig) -> Shared {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let frames = FrameMemory::new(config.frame_arena_size(), config.frame_chunk_size());
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            frames,
        }
    }
}
