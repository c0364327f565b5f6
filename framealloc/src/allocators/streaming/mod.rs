//! The streaming intent: asset bytes (textures, meshes, audio) loaded on
//! worker threads into a fixed budget, with the least useful assets
//! evicted when a new one needs room.
//!
//! An asset goes `reserved` → `loading` → `ready`, and from `ready` to
//! `evicted` when the budget needs its bytes (lowest priority first, then
//! least recently accessed), never while it is loading or an
//! [`AccessGuard`] holds it. `slot.rs` has the state machine.

mod inner;
#[cfg(all(test, loom))]
mod loom_model;
mod memory;
mod slot;
mod store;

use core::sync::atomic::Ordering;
use std::sync::Arc;

pub use memory::AccessGuard;

use crate::budget::BudgetManager;
use crate::error::AllocError;
use inner::Inner;
use memory::LoadBytes;

/// How much an asset matters when room is needed: lower priorities are
/// evicted first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum StreamPriority {
    /// Evicted first (distant scenery, prefetches).
    Low,
    /// The default.
    #[default]
    Normal,
    /// Evicted only after every `Low` and `Normal` asset.
    High,
    /// Evicted last (what the camera looks at).
    Critical,
}

/// An asset's name in its [`StreamingAllocator`]: slot and generation, so
/// an id of a released asset never names its slot's next asset.
///
/// ```
/// let streaming = framealloc::StreamingAllocator::new(1 << 20);
/// let id = streaming.reserve(1024, framealloc::StreamPriority::Normal)?;
/// assert_eq!(size_of_val(&id), 8);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    index: u32,
    generation: u32,
}

impl StreamId {
    /// The id as one number, for the observer (`evicted`): the generation
    /// in the high 32 bits, the slot in the low ones.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }
}

/// Where an asset is in its life, from [`StreamingAllocator::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Its bytes are reserved (and zeroed); no loader yet.
    Reserved,
    /// A [`LoadWriter`] is filling it; `loaded` of its bytes were
    /// reported.
    Loading {
        /// Bytes written or reported so far.
        loaded: usize,
    },
    /// Loaded: [`StreamingAllocator::access`] reads it.
    Ready,
    /// Its bytes were evicted to make room; reserve it again to reload.
    Evicted,
}

/// One eviction, as listeners of [`StreamingAllocator::on_evict`] see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The evicted asset (its id now reads [`StreamState::Evicted`]).
    pub id: StreamId,
    /// Bytes given back.
    pub size: usize,
}

/// The streaming allocator's figures, from [`StreamingAllocator::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamingStats {
    /// The budget in bytes.
    pub budget: usize,
    /// Bytes held by reserved, loading and ready assets.
    pub used: usize,
    /// Bytes of ready assets.
    pub resident: usize,
    /// Bytes of assets being loaded.
    pub loading: usize,
    /// Assets ready now.
    pub ready_assets: usize,
    /// Evictions since the allocator was made.
    pub evictions: u64,
    /// Bytes they gave back.
    pub bytes_evicted: u64,
}

/// A budgeted home for streamed asset bytes. Cheap to clone (one reference
/// count); every clone is the same allocator, `Send + Sync`.
///
/// # Example
///
/// ```
/// use framealloc::{StreamPriority, StreamState, StreamingAllocator};
///
/// let streaming = StreamingAllocator::new(1 << 20); // 1 MiB budget
/// let texture = streaming.reserve(256 << 10, StreamPriority::High)?;
/// let mut loader = streaming.begin_load(texture)?;
/// std::thread::spawn(move || {
///     loader.bytes_mut().fill(0x7f); // decode into the reserved bytes
///     loader.finish();
/// })
/// .join()
/// .unwrap();
/// assert_eq!(streaming.state(texture), Some(StreamState::Ready));
/// let texels = streaming.access(texture).expect("resident"); // pinned while held
/// assert!(texels.iter().all(|&b| b == 0x7f));
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone)]
pub struct StreamingAllocator {
    inner: Arc<Inner>,
}

impl StreamingAllocator {
    /// An allocator that holds at most `budget_bytes` of assets. No memory
    /// is taken until assets are reserved.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(64 << 20);
    /// assert_eq!(streaming.stats().budget, 64 << 20);
    /// ```
    pub fn new(budget_bytes: usize) -> StreamingAllocator {
        StreamingAllocator {
            inner: Arc::new(Inner::new(
                budget_bytes,
                None,
                crate::diagnostics::Observer::detached(),
            )),
        }
    }

    pub(crate) fn with_budgets(
        budget_bytes: usize,
        budgets: Option<Arc<BudgetManager>>,
        observer: Arc<crate::diagnostics::Observer>,
    ) -> StreamingAllocator {
        StreamingAllocator {
            inner: Arc::new(Inner::new(budget_bytes, budgets, observer)),
        }
    }

    /// Reserves `size` zeroed bytes for an asset at `priority`. When they
    /// do not fit in the budget, ready assets that no guard holds are
    /// evicted, lowest priority first and least recently accessed first
    /// within a priority, until they do; listeners of
    /// [`on_evict`](Self::on_evict) hear of each. An allocator's
    /// [`ProfilerHooks`](crate::diagnostics::ProfilerHooks) see a `Free`
    /// for each eviction, then an `Alloc` for the new asset (and a `Free`
    /// at [`evict`](Self::evict) and [`release`](Self::release)), once the
    /// allocator's lock is released: a callback may call back into it.
    ///
    /// # Errors
    ///
    /// [`AllocError::StreamingBudgetExhausted`] (FA402) when evicting
    /// everything evictable would not make room (what is loading or held
    /// by a guard stays); FA301/FA302 from the allocator's budgets;
    /// FA005 when the system refuses.
    ///
    /// ```
    /// use framealloc::{StreamPriority::*, StreamingAllocator};
    /// let streaming = StreamingAllocator::new(300);
    /// let sky = streaming.reserve(200, Low)?;
    /// streaming.begin_load(sky)?.finish();
    /// let _hero = streaming.reserve(200, High)?; // evicts the sky
    /// assert_eq!(streaming.access(sky).map(|b| b.len()), None);
    /// let err = streaming.reserve(200, High).unwrap_err(); // the hero is reserved, not evictable
    /// assert_eq!(err.code(), "FA402");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn reserve(&self, size: usize, priority: StreamPriority) -> Result<StreamId, AllocError> {
        self.inner
            .reserve(size, priority, crate::diagnostics::site())
    }

    /// Starts loading a reserved asset: returns the one [`LoadWriter`]
    /// for its bytes, which can be sent to a loader thread.
    ///
    /// # Errors
    ///
    /// FA401 for a released id; [`AllocError::StreamBusy`] (FA405) when
    /// the asset is not reserved (already loading, ready or evicted).
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1024);
    /// let id = streaming.reserve(16, framealloc::StreamPriority::Normal)?;
    /// let writer = streaming.begin_load(id)?;
    /// assert_eq!(streaming.begin_load(id).unwrap_err().code(), "FA405");
    /// # drop(writer);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn begin_load(&self, id: StreamId) -> Result<LoadWriter, AllocError> {
        let _table = crate::allocators::sync::lock(&self.inner.table);
        let (slot, word) = self.inner.find(id).ok_or_else(|| inner::unknown(id))?;
        let bytes =
            memory::start_load(slot, word).ok_or_else(|| inner::busy(id, word, "loaded"))?;
        slot.progress.store(0, Ordering::Relaxed);
        Ok(LoadWriter {
            inner: self.inner.clone(),
            id,
            bytes,
            cursor: 0,
            finished: false,
        })
    }

    /// Records that `bytes` of a loading asset have arrived (for progress
    /// bars; a [`LoadWriter`] reports its own writes). Returns whether the
    /// asset is loading.
    ///
    /// ```
    /// use framealloc::{StreamPriority, StreamState, StreamingAllocator};
    /// let streaming = StreamingAllocator::new(1024);
    /// let id = streaming.reserve(100, StreamPriority::Normal)?;
    /// let writer = streaming.begin_load(id)?;
    /// assert!(streaming.report_progress(id, 40));
    /// assert_eq!(streaming.state(id), Some(StreamState::Loading { loaded: 40 }));
    /// # drop(writer);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn report_progress(&self, id: StreamId, bytes: usize) -> bool {
        match self.inner.find(id) {
            Some((slot, word)) if slot::state_of(word) == slot::LOADING => {
                slot.progress.store(bytes, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Marks the load of `writer`'s asset finished: it becomes ready. The
    /// spec's spelling of [`LoadWriter::finish`].
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1024);
    /// let id = streaming.reserve(8, framealloc::StreamPriority::Normal)?;
    /// let writer = streaming.begin_load(id)?;
    /// streaming.finish_load(writer);
    /// assert!(streaming.access(id).is_some());
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn finish_load(&self, writer: LoadWriter) {
        writer.finish();
    }

    /// The bytes of a ready asset, pinned (it cannot be evicted or
    /// released) until the guard drops. `None` for an asset that is not
    /// ready (reserved, loading, evicted) or released: never stale bytes.
    /// Each access counts as a use for least-recently-used eviction.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1024);
    /// let id = streaming.reserve(4, framealloc::StreamPriority::Normal)?;
    /// assert!(streaming.access(id).is_none()); // not loaded yet
    /// let mut writer = streaming.begin_load(id)?;
    /// writer.bytes_mut().copy_from_slice(b"RGBA");
    /// writer.finish();
    /// assert_eq!(&*streaming.access(id).unwrap(), b"RGBA");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    pub fn access(&self, id: StreamId) -> Option<AccessGuard<'_>> {
        let slot = self.inner.slots.get(id.index as usize)?;
        let guard = memory::access(slot, id.generation)?;
        slot.last_access.store(
            self.inner.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some(guard)
    }

    /// The asset's state, or `None` for a released id.
    ///
    /// ```
    /// use framealloc::{StreamPriority, StreamState, StreamingAllocator};
    /// let streaming = StreamingAllocator::new(1024);
    /// let id = streaming.reserve(8, StreamPriority::Low)?;
    /// assert_eq!(streaming.state(id), Some(StreamState::Reserved));
    /// streaming.release(id)?;
    /// assert_eq!(streaming.state(id), None);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn state(&self, id: StreamId) -> Option<StreamState> {
        let (slot, word) = self.inner.find(id)?;
        Some(match slot::state_of(word) {
            slot::RESERVED => StreamState::Reserved,
            slot::LOADING => StreamState::Loading {
                loaded: slot.progress.load(Ordering::Relaxed),
            },
            slot::READY => StreamState::Ready,
            _ => StreamState::Evicted,
        })
    }

    /// Evicts a ready asset now (its bytes go back; its id reads
    /// [`StreamState::Evicted`]). Listeners hear of it.
    ///
    /// # Errors
    ///
    /// FA401 for a released id; FA405 when the asset is not ready or a
    /// guard holds it.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1024);
    /// let id = streaming.reserve(64, framealloc::StreamPriority::Normal)?;
    /// streaming.begin_load(id)?.finish();
    /// let guard = streaming.access(id).unwrap();
    /// assert_eq!(streaming.evict(id).unwrap_err().code(), "FA405"); // held
    /// drop(guard);
    /// streaming.evict(id)?;
    /// assert_eq!(streaming.state(id), Some(framealloc::StreamState::Evicted));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn evict(&self, id: StreamId) -> Result<(), AllocError> {
        self.inner.evict(id).map(drop)
    }

    /// Forgets the asset: its bytes (if any) go back and its id stops
    /// naming anything.
    ///
    /// # Errors
    ///
    /// FA401 for an id already released; FA405 while it is loading or a
    /// guard holds it.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1024);
    /// let id = streaming.reserve(64, framealloc::StreamPriority::Normal)?;
    /// streaming.release(id)?;
    /// assert_eq!(streaming.stats().used, 0);
    /// assert_eq!(streaming.release(id).unwrap_err().code(), "FA401");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn release(&self, id: StreamId) -> Result<(), AllocError> {
        self.inner.release(id)
    }

    /// Calls `listener` after each eviction (with no lock held), so the
    /// game can drop its GPU copy of the asset.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use framealloc::{StreamPriority, StreamingAllocator};
    /// let streaming = StreamingAllocator::new(100);
    /// let gone = Arc::new(Mutex::new(Vec::new()));
    /// let seen = gone.clone();
    /// streaming.on_evict(move |eviction| seen.lock().unwrap().push(eviction.id));
    /// let old = streaming.reserve(100, StreamPriority::Normal)?;
    /// streaming.begin_load(old)?.finish();
    /// streaming.reserve(100, StreamPriority::Normal)?;
    /// assert_eq!(*gone.lock().unwrap(), [old]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn on_evict(&self, listener: impl Fn(&Eviction) + Send + Sync + 'static) {
        self.inner.add_listener(Arc::new(listener));
    }

    /// The allocator's figures.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(1000);
    /// let id = streaming.reserve(300, framealloc::StreamPriority::Normal)?;
    /// streaming.begin_load(id)?.finish();
    /// let stats = streaming.stats();
    /// assert_eq!((stats.used, stats.resident, stats.ready_assets), (300, 300, 1));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn stats(&self) -> StreamingStats {
        let table = crate::allocators::sync::lock(&self.inner.table);
        let mut stats = StreamingStats {
            budget: self.inner.budget,
            used: table.used,
            evictions: table.evictions,
            bytes_evicted: table.bytes_evicted,
            ..StreamingStats::default()
        };
        for (_, slot) in self.inner.slots.made() {
            let word = slot.load();
            let size = slot.size.load(Ordering::Relaxed);
            match slot::state_of(word) {
                slot::READY => {
                    stats.resident += size;
                    stats.ready_assets += 1;
                }
                slot::LOADING => stats.loading += size,
                _ => {}
            }
        }
        stats
    }
}

impl core::fmt::Debug for StreamingAllocator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamingAllocator")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The one writer of a loading asset's bytes, from
/// [`StreamingAllocator::begin_load`]. It is `Send`: hand it to a loader
/// thread. Write through [`bytes_mut`](Self::bytes_mut) in any order, or
/// append through `std::io::Write`; then [`finish`](Self::finish). Dropped
/// unfinished, it puts the asset back to reserved (a failed load).
///
/// ```
/// use std::io::Write;
/// let streaming = framealloc::StreamingAllocator::new(1024);
/// let id = streaming.reserve(6, framealloc::StreamPriority::Normal)?;
/// let mut writer = streaming.begin_load(id)?;
/// writer.write_all(b"mesh")?;
/// writer.write_all(b"!!")?;
/// writer.finish();
/// assert_eq!(&*streaming.access(id).unwrap(), b"mesh!!");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LoadWriter {
    inner: Arc<Inner>,
    id: StreamId,
    bytes: LoadBytes,
    cursor: usize,
    finished: bool,
}

impl LoadWriter {
    /// The asset being loaded.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(64);
    /// let id = streaming.reserve(8, framealloc::StreamPriority::Normal)?;
    /// assert_eq!(streaming.begin_load(id)?.id(), id);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The asset's bytes (zeroed at first), to fill in any order.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(64);
    /// let id = streaming.reserve(8, framealloc::StreamPriority::Normal)?;
    /// let mut writer = streaming.begin_load(id)?;
    /// writer.bytes_mut()[4..].copy_from_slice(&[1, 2, 3, 4]);
    /// writer.finish();
    /// assert_eq!(&*streaming.access(id).unwrap(), &[0, 0, 0, 0, 1, 2, 3, 4]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Reports progress for the asset's [`StreamState::Loading`] figure.
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(64);
    /// let id = streaming.reserve(8, framealloc::StreamPriority::Normal)?;
    /// let writer = streaming.begin_load(id)?;
    /// writer.report_progress(5);
    /// assert_eq!(streaming.state(id), Some(framealloc::StreamState::Loading { loaded: 5 }));
    /// # drop(writer);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn report_progress(&self, bytes: usize) {
        if let Some((slot, _)) = self.inner.find(self.id) {
            slot.progress.store(bytes, Ordering::Relaxed);
        }
    }

    /// Ends the load: the asset becomes ready for
    /// [`access`](StreamingAllocator::access).
    ///
    /// ```
    /// let streaming = framealloc::StreamingAllocator::new(64);
    /// let id = streaming.reserve(8, framealloc::StreamPriority::Normal)?;
    /// streaming.begin_load(id)?.finish();
    /// assert_eq!(streaming.state(id), Some(framealloc::StreamState::Ready));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn finish(mut self) {
        self.end(slot::READY);
        self.finished = true;
    }

    /// Moves the asset out of loading, to `state`.
    fn end(&self, state: u64) {
        if let Some((slot, word)) = self.inner.find(self.id) {
            let generation = slot::generation_of(word);
            slot.progress.store(
                if state == slot::READY {
                    self.bytes.len()
                } else {
                    0
                },
                Ordering::Relaxed,
            );
            // Release (in `transition`): the bytes written happen before
            // any access that pins the ready asset.
            slot.transition(word, slot::word(state, generation, 0));
        }
    }
}

impl std::io::Write for LoadWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.bytes.len() - self.cursor;
        let count = data.len().min(room);
        if count == 0 && !data.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "the asset's reserved bytes are full",
            ));
        }
        self.bytes[self.cursor..self.cursor + count].copy_from_slice(&data[..count]);
        self.cursor += count;
        self.report_progress(self.cursor);
        Ok(count)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LoadWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.end(slot::RESERVED);
        }
    }
}

impl core::fmt::Debug for LoadWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadWriter")
            .field("id", &self.id)
            .field("len", &self.bytes.len())
            .finish()
    }
}
