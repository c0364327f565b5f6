//! One budget's meter: bytes used, the peak, the limits, as atomics read
//! and written by every allocating thread; and the rule for which peaks are
//! reported. The manager (`budget/mod.rs`) owns one per tag and a global one.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Usage and limits of one budget, from [`BudgetManager::usage`](crate::BudgetManager::usage).
///
/// ```
/// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
/// alloc.budgets().set_global_limits(None, Some(1 << 20)).unwrap();
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

pub(super) const NO_LIMIT: usize = usize::MAX;

#[derive(Default)]
pub(super) struct Meter {
    pub(super) used: AtomicUsize,
    pub(super) peak: AtomicUsize,
    /// The peak last reported with `BudgetEvent::NewPeak` (0: none yet).
    pub(super) reported_peak: AtomicUsize,
    pub(super) soft: AtomicUsize,
    pub(super) hard: AtomicUsize,
    pub(super) soft_reported: AtomicBool,
}

impl Meter {
    pub(super) fn unlimited() -> Meter {
        Meter {
            soft: AtomicUsize::new(NO_LIMIT),
            hard: AtomicUsize::new(NO_LIMIT),
            ..Meter::default()
        }
    }

    pub(super) fn usage(&self) -> BudgetUsage {
        let limit = |value: usize| (value != NO_LIMIT).then_some(value);
        BudgetUsage {
            used: self.used.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            soft_limit: limit(self.soft.load(Ordering::Relaxed)),
            hard_limit: limit(self.hard.load(Ordering::Relaxed)),
        }
    }
}

/// Whether a peak of `after` bytes is reported after the last reported
/// `reported` (see `BudgetEvent::NewPeak`): listeners see steps they can act
/// on, not every byte of growth (600 frames of a game raised 684 events
/// before).
pub(super) fn peak_is_reported(reported: usize, after: usize, limit: usize) -> bool {
    const STEP: usize = 64 * 1024;
    if reported == 0 {
        return after > 0;
    }
    let step = (reported / 16).max(STEP.min(limit / 16)).max(1);
    after >= reported.saturating_add(step)
}

pub(super) fn set_limits(meter: &Meter, soft: Option<usize>, hard: Option<usize>) {
    meter
        .soft
        .store(soft.unwrap_or(NO_LIMIT), Ordering::Relaxed);
    meter
        .hard
        .store(hard.unwrap_or(NO_LIMIT), Ordering::Relaxed);
    meter.soft_reported.store(false, Ordering::Relaxed);
}
