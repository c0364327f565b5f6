//! Memory budgets: global and per-tag soft and hard limits on the pool and
//! heap intents (and on frame chunk growth), with events for monitoring.

mod tag;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

pub(crate) use tag::current_index as current_tag_index;
pub use tag::{AllocationTag, MAX_TAGS, TagGuard};

use crate::error::AllocError;

/// Something a [`BudgetManager`] reports to its listeners.
///
/// Byte figures are exact: `used` is the metered total right after (for
/// soft limits and peaks) or right before (for refusals) the allocation.
///
/// ```
/// use framealloc::{AllocConfig, BudgetEvent, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
/// alloc.budgets().set_global_limits(Some(10), None);
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
    /// Usage reached a new high-water mark.
    NewPeak {
        /// `None` for the global budget.
        tag: Option<AllocationTag>,
        /// The new peak in bytes.
        peak: usize,
    },
}

/// Usage and limits of one budget, from [`BudgetManager::usage`].
///
/// ```
/// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
/// alloc.budgets().set_global_limits(None, Some(1 << 20));
/// let usage = alloc.budgets().global_usage();
/// assert_eq!((usage.used, usage.soft_limit, usage.hard_limit), (0, None, Some(1 << 20)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetUsage {
    /// Bytes in use.
    pub used: usize,
    /// The most bytes ever in use.
    pub peak: usize,
    /// Soft limit, if set.
    pub soft_limit: Option<usize>,
    /// Hard limit, if set.
    pub hard_limit: Option<usize>,
}

const NO_LIMIT: usize = usize::MAX;

#[derive(Default)]
struct Meter {
    used: AtomicUsize,
    peak: AtomicUsize,
    soft: AtomicUsize,
    hard: AtomicUsize,
    soft_reported: AtomicBool,
}

impl Meter {
    fn unlimited() -> Meter {
        Meter {
            soft: AtomicUsize::new(NO_LIMIT),
            hard: AtomicUsize::new(NO_LIMIT),
            ..Meter::default()
        }
    }

    fn usage(&self) -> BudgetUsage {
        let limit = |value: usize| (value != NO_LIMIT).then_some(value);
        BudgetUsage {
            used: self.used.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            soft_limit: limit(self.soft.load(Ordering::Relaxed)),
            hard_limit: limit(self.hard.load(Ordering::Relaxed)),
        }
    }
}

type Listener = Arc<dyn Fn(&BudgetEvent) + Send + Sync>;

/// Global and per-tag memory budgets of one allocator.
///
/// Reach it with [`SmartAlloc::budgets`](crate::SmartAlloc::budgets). It
/// meters only when the allocator was built with
/// [`AllocConfig::with_budgets(true)`](crate::AllocConfig::with_budgets);
/// otherwise limits are ignored and the allocation paths skip it entirely.
///
/// What is metered: pool slots and heap blocks (charged to the global budget
/// and to the thread's current [`AllocationTag`], released when the box
/// drops), and frame chunks taken from the system (global budget only,
/// released when the chunk is freed). Past a hard limit the allocation is
/// refused with FA301 (global) or FA302 (tag).
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, AllocationTag, BudgetEvent, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
/// let particles = AllocationTag::new("particles");
/// alloc.budgets().set_tag_limits(particles, None, Some(1024));
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// alloc.budgets().on_event(move |event| sink.lock().unwrap().push(*event));
///
/// let err = alloc.with_tag(particles, || alloc.heap_box([0u8; 2048]).unwrap_err());
/// assert_eq!(err.code(), "FA302");
/// assert!(matches!(seen.lock().unwrap()[0], BudgetEvent::HardLimitExceeded { requested: 2048, .. }));
/// ```
pub struct BudgetManager {
    enabled: bool,
    global: Meter,
    /// Indexed by tag id (0 unused); empty when disabled.
    tags: Box<[Meter]>,
    listeners: RwLock<Vec<Listener>>,
    has_listeners: AtomicBool,
}

impl BudgetManager {
    pub(crate) fn new(enabled: bool) -> BudgetManager {
        let tags = if enabled {
            (0..=MAX_TAGS).map(|_| Meter::unlimited()).collect()
        } else {
            Box::default()
        };
        BudgetManager {
            enabled,
            global: Meter::unlimited(),
            tags,
            listeners: RwLock::default(),
            has_listeners: AtomicBool::new(false),
        }
    }

    /// Whether budgets are metered (`AllocConfig::with_budgets(true)`).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert!(!alloc.budgets().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Sets the global soft and hard limits in bytes (`None` for no limit).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// alloc.budgets().set_global_limits(Some(1 << 20), Some(2 << 20));
    /// assert_eq!(alloc.budgets().global_usage().hard_limit, Some(2 << 20));
    /// ```
    pub fn set_global_limits(&self, soft: Option<usize>, hard: Option<usize>) {
        set_limits(&self.global, soft, hard);
    }

    /// Sets `tag`'s soft and hard limits in bytes (`None` for no limit).
    /// Ignored when budgets are disabled.
    ///
    /// ```
    /// use framealloc::AllocationTag;
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let audio = AllocationTag::new("audio");
    /// alloc.budgets().set_tag_limits(audio, Some(512), None);
    /// assert_eq!(alloc.budgets().usage(audio).soft_limit, Some(512));
    /// ```
    pub fn set_tag_limits(&self, tag: AllocationTag, soft: Option<usize>, hard: Option<usize>) {
        if let Some(meter) = self.tags.get(tag.index()) {
            set_limits(meter, soft, hard);
        }
    }

    /// Usage and limits of the global budget.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let boxed = alloc.pool_box(0u64)?;
    /// assert_eq!(alloc.budgets().global_usage().used, 8);
    /// # drop(boxed);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn global_usage(&self) -> BudgetUsage {
        self.global.usage()
    }

    /// Usage and limits of `tag`'s budget (all zero when disabled).
    ///
    /// ```
    /// use framealloc::AllocationTag;
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let ai = AllocationTag::new("ai");
    /// let plan = alloc.with_tag(ai, || alloc.pool_box([0u8; 48]))?;
    /// assert_eq!(alloc.budgets().usage(ai).used, 48);
    /// # drop(plan);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn usage(&self, tag: AllocationTag) -> BudgetUsage {
        self.tags
            .get(tag.index())
            .map(Meter::usage)
            .unwrap_or_default()
    }

    /// Registers a listener for [`BudgetEvent`]s. It runs on the thread
    /// that allocated, inside the allocation call, so keep it short.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// alloc.budgets().on_event(|event| eprintln!("budget: {event:?}"));
    /// ```
    pub fn on_event(&self, listener: impl Fn(&BudgetEvent) + Send + Sync + 'static) {
        let mut listeners = self
            .listeners
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        listeners.push(Arc::new(listener));
        self.has_listeners.store(true, Ordering::Release);
    }

    fn emit(&self, event: BudgetEvent) {
        if !self.has_listeners.load(Ordering::Acquire) {
            return;
        }
        // Clone the list so a listener may register another without
        // deadlocking.
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for listener in listeners {
            listener(&event);
        }
    }

    /// Charges `bytes` to the global budget and to the tag with id
    /// `tag_index` (0 = none). Both are reserved first and checked second,
    /// so a refusal by either leaves nothing charged and no peak or soft
    /// event is reported for the refused bytes. The caller reports the
    /// error as a diagnostic.
    pub(crate) fn charge(&self, tag_index: u32, bytes: usize) -> Result<(), AllocError> {
        let tag = AllocationTag::from_index(tag_index).zip(self.tags.get(tag_index as usize));
        let global_before = self.global.used.fetch_add(bytes, Ordering::AcqRel);
        let tag_before = tag.map(|(_, meter)| meter.used.fetch_add(bytes, Ordering::AcqRel));
        let refused = self
            .over_hard_limit(&self.global, None, global_before, bytes)
            .or_else(|| {
                tag.zip(tag_before).and_then(|((tag, meter), before)| {
                    self.over_hard_limit(meter, Some(tag), before, bytes)
                })
            });
        if let Some(error) = refused {
            self.global.used.fetch_sub(bytes, Ordering::AcqRel);
            if let Some((_, meter)) = tag {
                meter.used.fetch_sub(bytes, Ordering::AcqRel);
            }
            return Err(error);
        }
        self.after_charge(&self.global, None, global_before + bytes);
        if let Some(((tag, meter), before)) = tag.zip(tag_before) {
            self.after_charge(meter, Some(tag), before + bytes);
        }
        Ok(())
    }

    /// Gives back what `charge` took.
    pub(crate) fn release(&self, tag_index: u32, bytes: usize) {
        self.release_meter(&self.global, bytes);
        if let Some(meter) = self.tags.get(tag_index as usize).filter(|_| tag_index != 0) {
            self.release_meter(meter, bytes);
        }
    }

    /// The refusal (reported to listeners) if `before + bytes` passes the
    /// meter's hard limit.
    fn over_hard_limit(
        &self,
        meter: &Meter,
        tag: Option<AllocationTag>,
        before: usize,
        bytes: usize,
    ) -> Option<AllocError> {
        let limit = meter.hard.load(Ordering::Relaxed);
        if before.saturating_add(bytes) <= limit {
            return None;
        }
        self.emit(BudgetEvent::HardLimitExceeded {
            tag,
            requested: bytes,
            used: before,
            limit,
        });
        Some(match tag {
            None => AllocError::GlobalBudgetExceeded {
                requested: bytes,
                used: before,
                limit,
            },
            Some(tag) => AllocError::TagBudgetExceeded {
                tag,
                requested: bytes,
                used: before,
                limit,
            },
        })
    }

    /// Soft-limit and peak events once a charge has stuck.
    fn after_charge(&self, meter: &Meter, tag: Option<AllocationTag>, after: usize) {
        let soft = meter.soft.load(Ordering::Relaxed);
        if after > soft && !meter.soft_reported.swap(true, Ordering::AcqRel) {
            self.emit(BudgetEvent::SoftLimitExceeded {
                tag,
                used: after,
                limit: soft,
            });
        }
        if after > meter.peak.fetch_max(after, Ordering::AcqRel) {
            self.emit(BudgetEvent::NewPeak { tag, peak: after });
        }
    }

    fn release_meter(&self, meter: &Meter, bytes: usize) {
        let after = meter.used.fetch_sub(bytes, Ordering::AcqRel) - bytes;
        if after <= meter.soft.load(Ordering::Relaxed) {
            meter.soft_reported.store(false, Ordering::Release);
        }
    }
}

fn set_limits(meter: &Meter, soft: Option<usize>, hard: Option<usize>) {
    meter
        .soft
        .store(soft.unwrap_or(NO_LIMIT), Ordering::Relaxed);
    meter
        .hard
        .store(hard.unwrap_or(NO_LIMIT), Ordering::Relaxed);
    meter.soft_reported.store(false, Ordering::Relaxed);
}

impl fmt::Debug for BudgetManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetManager")
            .field("enabled", &self.enabled)
            .field("global", &self.global_usage())
            .finish_non_exhaustive()
    }
}
