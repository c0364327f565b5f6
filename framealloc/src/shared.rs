//! The state every clone of one `SmartAlloc` shares.

use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::allocators::frame::FrameMemory;
use crate::allocators::group::{GroupRegistry, Groups};
use crate::allocators::pool::{CLASS_SIZES, PoolState, Pools};
use crate::allocators::streaming::StreamingAllocator;
use crate::budget::BudgetManager;
use crate::config::AllocConfig;
use crate::diagnostics::Observer;

pub(crate) struct Shared {
    pub(crate) config: AllocConfig,
    /// Frame intent: every arena. Thread leases hold `Weak`s to it.
    pub(crate) frames: Arc<FrameMemory>,
    /// Pool and heap intents. Outlives this struct while boxes are live.
    pub(crate) pools: Arc<PoolState>,
    /// `pools.fast_key`, one load closer.
    pools_fast_key: u64,
    pub(crate) budgets: Arc<BudgetManager>,
    /// Groups intent: the live groups' figures.
    pub(crate) groups: Groups,
    /// Streaming intent: one allocator, budgeted by the config.
    pub(crate) streaming: StreamingAllocator,
    /// Reports what the engines do to hooks, profilers and the leak
    /// tracker; every engine holds a clone.
    pub(crate) observer: Arc<Observer>,
    /// The engine's frame counter (`SmartAlloc::frame_number`).
    pub(crate) frame_number: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: AllocConfig) -> Shared {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let budgets = Arc::new(BudgetManager::new(config.budgets_enabled()));
        let observer = Observer::new(&config);
        if budgets.is_enabled() {
            // Budget events reach the allocator's diagnostics hooks too.
            let hooks = observer.diagnostics().hooks().clone();
            budgets.on_event(move |event| hooks.forward_budget(event));
        }
        let frames = Arc::new(FrameMemory::new(
            id,
            config.frame_arena_size(),
            config.frame_chunk_size(),
            budgets.is_enabled().then(|| budgets.clone()),
            observer.clone(),
        ));
        // Classes whose slots fit under the configured pool limit.
        let class_limit = if config.pool_max_size() == 0 {
            0
        } else {
            CLASS_SIZES
                .iter()
                .take_while(|&&size| size <= config.pool_max_size())
                .count()
        };
        let pools = Arc::new(PoolState::new(
            id,
            class_limit,
            budgets.clone(),
            observer.clone(),
        ));
        let groups = Groups::new(Arc::new(GroupRegistry::new(
            id,
            budgets.clone(),
            observer.clone(),
        )));
        let streaming = StreamingAllocator::with_budgets(
            config.streaming_budget(),
            budgets.is_enabled().then(|| budgets.clone()),
            observer.clone(),
        );
        Shared {
            config,
            groups,
            streaming,
            frames,
            pools_fast_key: pools.fast_key,
            pools,
            budgets,
            observer,
            frame_number: AtomicU64::new(0),
        }
    }

    /// The pool state and its fast key, for the allocation paths.
    #[inline(always)]
    pub(crate) fn pools(&self) -> Pools<'_> {
        Pools {
            state: &self.pools,
            fast_key: self.pools_fast_key,
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: no allocation can happen any more, so the
        // pool state frees its memory as soon as the last box is gone.
        self.pools.close();
    }
}
