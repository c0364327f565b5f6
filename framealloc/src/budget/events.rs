//! What a budget reports ([`BudgetEvent`]) and to whom: the listeners
//! registered with [`BudgetManager::on_event`](crate::BudgetManager::on_event).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::allocators::sync::{RwLock, read, write};
use crate::tag::AllocationTag;

/// Something a [`BudgetManager`](crate::BudgetManager) reports to its listeners.
///
/// Byte figures are exact: `used` is the metered total right after (for
/// soft limits and peaks) or right before (for refusals) the allocation.
///
/// ```
/// use framealloc::{AllocConfig, BudgetEvent, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
/// alloc.budgets().set_global_limits(Some(10), None)?;
/// let events = Arc::new(Mutex::new(Vec::new()));
/// let sink = events.clone();
/// alloc.budgets().on_event(move |event| sink.lock().unwrap().push(*event));
/// let boxed = alloc.pool_box(0u64)?; // an 8-byte slot
/// let more = alloc.pool_box(0u64)?; // 16 bytes: past the soft limit
/// assert_eq!(
///     *events.lock().unwrap(),
///     [
///         BudgetEvent::NewPeak { tag: None, peak: 8 },
///         BudgetEvent::SoftLimitExceeded { tag: None, used: 16, limit: 10 },
///         BudgetEvent::NewPeak { tag: None, peak: 16 },
///     ]
/// );
/// # drop((boxed, more));
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetEvent {
    /// An allocation took usage past a soft limit (reported once until usage
    /// falls back under the limit).
    SoftLimitExceeded {
        /// `None` for the global budget.
        tag: Option<AllocationTag>,
        /// Bytes in use after the allocation.
        used: usize,
        /// The soft limit.
        limit: usize,
    },
    /// An allocation was refused because it would pass a hard limit.
    HardLimitExceeded {
        /// `None` for the global budget.
        tag: Option<AllocationTag>,
        /// Bytes the refused allocation asked for.
        requested: usize,
        /// Bytes in use (unchanged by the refusal).
        used: usize,
        /// The hard limit.
        limit: usize,
    },
    /// Usage reached a new high-water mark by a meaningful step, not on
    /// every byte of growth: the first charge of the budget reports its
    /// peak, and after that a peak is reported once it passes the last
    /// reported one by at least `max(last / 16, min(64 KiB, limit / 16), 1)`
    /// bytes, where `limit` is the lower of the budget's soft and hard
    /// limits (64 KiB steps without limits). So a budget growing from 1 MiB
    /// to 2 MiB reports about 11 peaks, and a small budget (a 100-byte test
    /// limit) still reports each step of a few bytes. The exact high-water
    /// mark is always [`BudgetUsage::peak`](crate::BudgetUsage::peak).
    ///
    /// ```
    /// use framealloc::{AllocConfig, BudgetEvent, SmartAlloc};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    /// let peaks = Arc::new(Mutex::new(Vec::new()));
    /// let sink = peaks.clone();
    /// alloc.budgets().on_event(move |event| {
    ///     if let BudgetEvent::NewPeak { peak, .. } = event {
    ///         sink.lock().unwrap().push(*peak);
    ///     }
    /// });
    /// // 100 blocks of 1 KiB, no limits: the first, then one per 64 KiB.
    /// let blocks: Vec<_> = (0..100).map(|_| alloc.heap_box([0u8; 1024]).unwrap()).collect();
    /// assert_eq!(*peaks.lock().unwrap(), [1024, 65 * 1024]);
    /// assert_eq!(alloc.budgets().global_usage().peak, 100 * 1024);
    /// # drop(blocks);
    /// ```
    NewPeak {
        /// `None` for the global budget.
        tag: Option<AllocationTag>,
        /// The new peak in bytes.
        peak: usize,
    },
}

type Listener = Arc<dyn Fn(&BudgetEvent) + Send + Sync>;

/// Names a listener registered with [`BudgetManager::on_event`](crate::BudgetManager::on_event), so it can
/// be removed with [`BudgetManager::remove_listener`](crate::BudgetManager::remove_listener).
///
/// ```
/// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
/// let id = alloc.budgets().on_event(|event| eprintln!("{event:?}"));
/// assert!(alloc.budgets().remove_listener(id));
/// assert!(!alloc.budgets().remove_listener(id), "already removed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// A budget's listeners. Copy-on-write: registering or removing one
/// replaces the slice, so delivering an event clones one `Arc` (no
/// allocation) and holds no lock while listeners run (they may register or
/// remove one).
pub(super) struct Listeners {
    list: RwLock<Arc<[(ListenerId, Listener)]>>,
    next: AtomicU64,
    any: AtomicBool,
}

impl Listeners {
    pub(super) fn new() -> Listeners {
        Listeners {
            list: RwLock::new(Arc::from([])),
            next: AtomicU64::new(0),
            any: AtomicBool::new(false),
        }
    }

    pub(super) fn add(&self, listener: Listener) -> ListenerId {
        let id = ListenerId(self.next.fetch_add(1, Ordering::Relaxed));
        let old = {
            let mut list = write(&self.list);
            let new: Arc<[_]> = list.iter().cloned().chain([(id, listener)]).collect();
            self.any.store(true, Ordering::Release);
            core::mem::replace(&mut *list, new)
        };
        drop(old);
        id
    }

    /// Removes listener `id`; whether it was registered. An event being
    /// delivered on another thread right now may still reach it once.
    pub(super) fn remove(&self, id: ListenerId) -> bool {
        let old = {
            let mut list = write(&self.list);
            if !list.iter().any(|(each, _)| *each == id) {
                return false;
            }
            let new: Arc<[_]> = list
                .iter()
                .filter(|(each, _)| *each != id)
                .cloned()
                .collect();
            self.any.store(!new.is_empty(), Ordering::Release);
            core::mem::replace(&mut *list, new)
        };
        // Dropped outside the lock: the listener may own allocator handles.
        drop(old);
        true
    }

    /// Hands `event` to every listener (one atomic load when there is none).
    pub(super) fn emit(&self, event: &BudgetEvent) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        // A snapshot (one `Arc` clone, no allocation) so a listener may
        // register or remove one without deadlocking.
        let listeners = Arc::clone(&read(&self.list));
        for (_, listener) in listeners.iter() {
            // Every figure is settled before events are emitted, so an
            // unwind from a listener could not corrupt them; it is caught
            // all the same, so that a telemetry bug does not take an
            // allocation (or a frame's end) down with it.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(event)));
            if let Err(payload) = outcome {
                crate::diagnostics::report(
                    "FA303",
                    format_args!(
                        "a budget listener panicked while handling {event:?}: {}",
                        crate::diagnostics::panic_message(payload.as_ref())
                    ),
                );
            }
        }
    }
}
