//! Memory budgets: global and per-tag soft and hard limits on the pool and
//! heap intents (and on frame chunk growth), with events for monitoring.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use crate::tag::MAX_TAGS;
pub(crate) use crate::tag::current_index as current_tag_index;

use crate::error::AllocError;
use crate::tag::AllocationTag;

mod events;
mod meter;

use events::Listeners;
pub use events::{BudgetEvent, ListenerId};
pub use meter::BudgetUsage;
use meter::{Meter, peak_is_reported, set_limits};

/// Events decided while the allocator's state was being changed, emitted
/// afterwards by [`BudgetManager::emit_all`] at a point where listeners may
/// do anything (allocate, open a frame). At most four per charge: a soft
/// limit and a peak for the global budget and for the tag.
#[derive(Default)]
#[must_use = "decided events must be emitted with `BudgetManager::emit_all`"]
pub(crate) struct Events {
    pending: [Option<BudgetEvent>; 4],
}

impl Events {
    fn push(&mut self, event: BudgetEvent) {
        if let Some(slot) = self.pending.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(event);
        }
    }
}

/// Bytes reserved under the budgets for an allocation that has not
/// happened yet: [`commit`](BudgetManager::commit) it once the memory
/// exists (peaks and soft limits are recorded then), or
/// [`cancel`](BudgetManager::cancel) it if the memory could not be had.
#[must_use = "a reservation must be committed or cancelled"]
pub(crate) struct Reservation {
    tag_index: u32,
    bytes: usize,
    global_after: usize,
    tag_after: Option<usize>,
}

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
/// refused with FA301 (global) or FA302 (tag). Bytes count toward usage,
/// peaks and soft limits only once the global allocator has handed them
/// over: a request the system refuses (FA005) leaves no trace.
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, AllocationTag, BudgetEvent, SmartAlloc};
/// use std::sync::{Arc, Mutex};
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
/// let particles = AllocationTag::new("particles");
/// alloc.budgets().set_tag_limits(particles, None, Some(1024)).unwrap();
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
    listeners: Listeners,
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
            listeners: Listeners::new(),
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
    /// alloc.budgets().set_global_limits(Some(1 << 20), Some(2 << 20))?;
    /// assert_eq!(alloc.budgets().global_usage().hard_limit, Some(2 << 20));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Nothing is set, and the error is reported, when the limits could
    /// not be enforced or make no sense:
    ///
    /// - FA304 ([`AllocError::BudgetsDisabled`]): the allocator was built
    ///   with budgets off (the default).
    /// - FA305 ([`AllocError::LimitsInverted`]): `soft` above `hard`.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults(); // budgets off
    /// let refused = alloc.budgets().set_global_limits(None, Some(1 << 20)).unwrap_err();
    /// assert_eq!(refused.code(), "FA304");
    /// ```
    pub fn set_global_limits(
        &self,
        soft: Option<usize>,
        hard: Option<usize>,
    ) -> Result<(), AllocError> {
        self.check_limits(None, soft, hard)?;
        set_limits(&self.global, soft, hard);
        Ok(())
    }

    /// Sets `tag`'s soft and hard limits in bytes (`None` for no limit).
    ///
    /// ```
    /// use framealloc::AllocationTag;
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let audio = AllocationTag::new("audio");
    /// alloc.budgets().set_tag_limits(audio, Some(512), None)?;
    /// assert_eq!(alloc.budgets().usage(audio).soft_limit, Some(512));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`BudgetManager::set_global_limits`]: FA304 with budgets off,
    /// FA305 for a soft limit above the hard one; nothing is set.
    pub fn set_tag_limits(
        &self,
        tag: AllocationTag,
        soft: Option<usize>,
        hard: Option<usize>,
    ) -> Result<(), AllocError> {
        self.check_limits(Some(tag), soft, hard)?;
        let meter = self.tags.get(tag.index()).ok_or_else(|| {
            crate::error::reported(AllocError::Internal {
                what: "a tag id beyond the budget table",
            })
        })?;
        set_limits(meter, soft, hard);
        Ok(())
    }

    /// FA304 with budgets off, FA305 for inverted limits (both reported).
    fn check_limits(
        &self,
        tag: Option<AllocationTag>,
        soft: Option<usize>,
        hard: Option<usize>,
    ) -> Result<(), AllocError> {
        if !self.enabled {
            return Err(crate::error::reported(AllocError::BudgetsDisabled { tag }));
        }
        if let (Some(soft), Some(hard)) = (soft, hard)
            && soft > hard
        {
            return Err(crate::error::reported(AllocError::LimitsInverted {
                soft,
                hard,
            }));
        }
        Ok(())
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

    /// Registers a listener for [`BudgetEvent`]s and returns its id, for
    /// [`remove_listener`](Self::remove_listener).
    ///
    /// The listener runs on the thread that allocated, once the allocator's
    /// own state is consistent again, so it may allocate, open a frame or
    /// read statistics; keep it short all the same. If it panics, the panic
    /// is caught and reported as FA303, and the allocation goes on.
    ///
    /// The listener lives as long as the allocator (or until removed). A
    /// listener that needs the allocator should capture a
    /// [`WeakAlloc`](crate::WeakAlloc) from
    /// [`SmartAlloc::downgrade`](crate::SmartAlloc::downgrade): a captured
    /// `SmartAlloc` clone would keep the allocator alive for ever.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let weak = alloc.downgrade();
    /// alloc.budgets().on_event(move |event| {
    ///     if let Some(alloc) = weak.upgrade() {
    ///         eprintln!("budget: {event:?}, {} pool bytes live", alloc.stats().pool.live_bytes);
    ///     }
    /// });
    /// ```
    pub fn on_event(&self, listener: impl Fn(&BudgetEvent) + Send + Sync + 'static) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Removes the listener `id`; returns whether it was registered. An
    /// event being delivered on another thread right now may still reach
    /// it once.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_budgets(true));
    /// let keeps_alive = alloc.clone();
    /// let id = alloc.budgets().on_event(move |_| drop(keeps_alive.stats()));
    /// alloc.budgets().remove_listener(id); // the clone it held is dropped
    /// ```
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    /// Delivers events decided earlier. Call it where nothing of the
    /// allocator is borrowed or locked: listeners may allocate.
    pub(crate) fn emit_all(&self, events: Events) {
        for event in events.pending.into_iter().flatten() {
            self.listeners.emit(&event);
        }
    }

    /// Reserves `bytes` under the global budget and the budget of the tag
    /// with id `tag_index` (0 = none), or refuses when either would pass its
    /// hard limit: then nothing stays reserved and the refusal event is
    /// added to `events`. The caller reports the error as a diagnostic.
    pub(crate) fn reserve(
        &self,
        tag_index: u32,
        bytes: usize,
        events: &mut Events,
    ) -> Result<Reservation, AllocError> {
        let tag = AllocationTag::from_index(tag_index).zip(self.tags.get(tag_index as usize));
        let global_before = self.global.used.fetch_add(bytes, Ordering::AcqRel);
        let tag_before = tag.map(|(_, meter)| meter.used.fetch_add(bytes, Ordering::AcqRel));
        let refused = over_hard_limit(&self.global, None, global_before, bytes).or_else(|| {
            tag.zip(tag_before)
                .and_then(|((tag, meter), before)| over_hard_limit(meter, Some(tag), before, bytes))
        });
        if let Some((error, event)) = refused {
            self.global.used.fetch_sub(bytes, Ordering::AcqRel);
            if let Some((_, meter)) = tag {
                meter.used.fetch_sub(bytes, Ordering::AcqRel);
            }
            events.push(event);
            return Err(error);
        }
        Ok(Reservation {
            tag_index: if tag.is_some() { tag_index } else { 0 },
            bytes,
            global_after: global_before.saturating_add(bytes),
            tag_after: tag_before.map(|before| before.saturating_add(bytes)),
        })
    }

    /// The reserved memory exists: records peaks and soft-limit crossings
    /// (their events go to `events`).
    pub(crate) fn commit(&self, reservation: Reservation, events: &mut Events) {
        self.after_charge(&self.global, None, reservation.global_after, events);
        if let (Some(after), Some(tag), Some(meter)) = (
            reservation.tag_after,
            AllocationTag::from_index(reservation.tag_index),
            self.tags.get(reservation.tag_index as usize),
        ) {
            self.after_charge(meter, Some(tag), after, events);
        }
    }

    /// The reserved memory could not be had: gives the bytes back, with no
    /// event.
    pub(crate) fn cancel(&self, reservation: Reservation) {
        self.release(reservation.tag_index, reservation.bytes);
    }

    /// Gives back what a committed reservation took.
    pub(crate) fn release(&self, tag_index: u32, bytes: usize) {
        self.release_meter(&self.global, bytes);
        if let Some(meter) = self.tags.get(tag_index as usize).filter(|_| tag_index != 0) {
            self.release_meter(meter, bytes);
        }
    }

    /// Soft-limit and peak events once a charge has stuck.
    fn after_charge(
        &self,
        meter: &Meter,
        tag: Option<AllocationTag>,
        after: usize,
        events: &mut Events,
    ) {
        let soft = meter.soft.load(Ordering::Relaxed);
        if after > soft && !meter.soft_reported.swap(true, Ordering::AcqRel) {
            events.push(BudgetEvent::SoftLimitExceeded {
                tag,
                used: after,
                limit: soft,
            });
        }
        if after <= meter.peak.fetch_max(after, Ordering::AcqRel) {
            return;
        }
        let limit = soft.min(meter.hard.load(Ordering::Relaxed));
        // Threads racing past the same step: one of them reports it.
        let stepped =
            meter
                .reported_peak
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |reported| {
                    peak_is_reported(reported, after, limit).then_some(after)
                });
        if stepped.is_ok() {
            events.push(BudgetEvent::NewPeak { tag, peak: after });
        }
    }

    fn release_meter(&self, meter: &Meter, bytes: usize) {
        let after = meter.used.fetch_sub(bytes, Ordering::AcqRel) - bytes;
        if after <= meter.soft.load(Ordering::Relaxed) {
            meter.soft_reported.store(false, Ordering::Release);
        }
    }
}

/// The refusal, and its event, if `before + bytes` passes the meter's hard
/// limit.
fn over_hard_limit(
    meter: &Meter,
    tag: Option<AllocationTag>,
    before: usize,
    bytes: usize,
) -> Option<(AllocError, BudgetEvent)> {
    let limit = meter.hard.load(Ordering::Relaxed);
    if before.saturating_add(bytes) <= limit {
        return None;
    }
    crate::diagnostics::trace_budget_refused(tag, bytes, before, limit);
    let event = BudgetEvent::HardLimitExceeded {
        tag,
        requested: bytes,
        used: before,
        limit,
    };
    let error = match tag {
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
    };
    Some((error, event))
}

impl fmt::Debug for BudgetManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetManager")
            .field("enabled", &self.enabled)
            .field("global", &self.global_usage())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::meter::NO_LIMIT;
    use super::*;

    /// The peaks reported while usage climbs from 1 to `to` bytes, one
    /// byte at a time.
    fn reported(to: usize, limit: usize) -> Vec<usize> {
        let mut last = 0;
        (1..=to)
            .filter(|&after| {
                let report = peak_is_reported(last, after, limit);
                if report {
                    last = after;
                }
                report
            })
            .collect()
    }

    #[test]
    fn without_limits_peaks_step_by_64_kib_then_a_sixteenth() {
        const KIB: usize = 1024;
        let peaks = reported(2048 * KIB, NO_LIMIT);
        assert_eq!(peaks[..3], [1, 1 + 64 * KIB, 1 + 128 * KIB]);
        // 1 + 16 steps of 64 KiB reach 1 MiB + 1; then each step is a
        // sixteenth of the last peak: 11 more up to 2 MiB.
        assert_eq!(peaks[16], 1 + 1024 * KIB);
        assert_eq!(peaks.len(), 17 + 11);
        assert_eq!(peaks[17], peaks[16] + peaks[16] / 16);
    }

    #[test]
    fn a_small_limit_makes_small_steps() {
        // A 100-byte limit: steps of 6 bytes (100 / 16), growing with the peak.
        assert_eq!(reported(30, 100), [1, 7, 13, 19, 25]);
        // A limit under 16 bytes: every byte of growth.
        assert_eq!(reported(5, 10), [1, 2, 3, 4, 5]);
    }
}
