//! The snapshot history behind [`DiagnosticsHooks`](super::DiagnosticsHooks):
//! one [`MemorySnapshot`] per engine frame in a ring allocated once, the
//! per-tag figures in a ring beside it, and the time series built from them
//! for a debug UI's memory graph.

use super::profiler::Intent;
use crate::{AllocationTag, MAX_TAGS};

/// An allocator's figures at the end of one engine frame
/// ([`SmartAlloc::advance_frame`](crate::SmartAlloc::advance_frame)), as
/// [`DiagnosticsEvent::FrameEnd`](super::DiagnosticsEvent::FrameEnd) carries
/// them and the snapshot history keeps them.
///
/// It holds no heap data, so recording one costs no allocation. The figures
/// are the ones [`SmartAlloc::stats`](crate::SmartAlloc::stats) would give
/// at that moment (per-tag bytes, when budgets are on, sit in the history
/// beside it: see [`MemoryGraphData::tags`]).
///
/// ```
/// use framealloc::{AllocConfig, SmartAlloc};
///
/// let alloc = SmartAlloc::new(AllocConfig::default());
/// let enemy = alloc.pool_box([0u8; 100])?; // a 112-byte slot
/// let frame = alloc.begin_frame();
/// frame.alloc_slice_fill_with(256, |i| i as u32);
/// frame.end();
/// alloc.advance_frame();
/// let snapshot = alloc.diagnostics_hooks().last_snapshot().unwrap();
/// assert_eq!(snapshot.frame_number, 0);
/// assert_eq!((snapshot.frame_bytes, snapshot.pool_bytes), (1024, 112));
/// assert_eq!(snapshot.allocation_count, alloc.stats().allocation_count);
/// # drop(enemy);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemorySnapshot {
    /// The engine frame that ended ([`SmartAlloc::frame_number`](crate::SmartAlloc::frame_number)
    /// while it ran).
    pub frame_number: u64,
    /// Frame intent: bytes handed out by the frames that ended during this
    /// engine frame, on every thread (the rise of
    /// [`FrameStats::bytes_allocated`](crate::FrameStats::bytes_allocated)
    /// since the previous snapshot). It is the frames' working set; the
    /// memory they keep is [`frame_reserved_bytes`](Self::frame_reserved_bytes).
    pub frame_bytes: u64,
    /// Bytes of chunks the frame arenas hold
    /// ([`FrameStats::reserved_bytes`](crate::FrameStats::reserved_bytes)).
    pub frame_reserved_bytes: u64,
    /// Pool intent: bytes of live pool slots.
    pub pool_bytes: u64,
    /// Heap intent: bytes of live heap blocks.
    pub heap_bytes: u64,
    /// Groups intent: bytes handed out by the live groups.
    pub group_bytes: u64,
    /// Bytes of the chunks the live groups hold.
    pub group_reserved_bytes: u64,
    /// Streaming intent: bytes held by reserved, loading and ready assets
    /// ([`StreamingStats::used`](crate::StreamingStats::used)).
    pub streaming_bytes: u64,
    /// Bytes the allocator holds from the system: frame chunks (in arenas
    /// and spare), pool pages, heap blocks, group chunks and streamed
    /// assets. Handle allocators are objects of their own and are not
    /// counted (nor in the per-intent figures).
    pub reserved_bytes: u64,
    /// [`AllocStats::allocation_count`](crate::AllocStats::allocation_count).
    pub allocation_count: u64,
    /// [`AllocStats::deallocation_count`](crate::AllocStats::deallocation_count).
    pub deallocation_count: u64,
}

impl MemorySnapshot {
    /// The intents a snapshot has a figure for, in the order of the
    /// series of [`MemoryGraphData`]. Handles are not among them (see
    /// [`reserved_bytes`](Self::reserved_bytes)).
    ///
    /// ```
    /// use framealloc::diagnostics::{Intent, MemorySnapshot};
    /// assert_eq!(MemorySnapshot::INTENTS.len(), 5);
    /// assert!(!MemorySnapshot::INTENTS.contains(&Intent::Handle));
    /// ```
    pub const INTENTS: [Intent; 5] = [
        Intent::Frame,
        Intent::Pool,
        Intent::Heap,
        Intent::Group,
        Intent::Streaming,
    ];

    /// The figure for `intent`: [`frame_bytes`](Self::frame_bytes),
    /// [`pool_bytes`](Self::pool_bytes), [`heap_bytes`](Self::heap_bytes),
    /// [`group_bytes`](Self::group_bytes) or
    /// [`streaming_bytes`](Self::streaming_bytes); `None` for handles.
    ///
    /// ```
    /// use framealloc::diagnostics::{Intent, MemorySnapshot};
    /// let snapshot = MemorySnapshot::default();
    /// assert_eq!(snapshot.bytes(Intent::Pool), Some(0));
    /// assert_eq!(snapshot.bytes(Intent::Handle), None);
    /// ```
    pub fn bytes(&self, intent: Intent) -> Option<u64> {
        match intent {
            Intent::Frame => Some(self.frame_bytes),
            Intent::Pool => Some(self.pool_bytes),
            Intent::Heap => Some(self.heap_bytes),
            Intent::Group => Some(self.group_bytes),
            Intent::Streaming => Some(self.streaming_bytes),
            Intent::Handle => None,
        }
    }
}

/// Time series of the last frames of a snapshot history, from
/// [`DiagnosticsHooks::get_memory_graph_data`](super::DiagnosticsHooks::get_memory_graph_data):
/// one value per frame, oldest first, in every series.
///
/// [`series`](Self::series) is what plot widgets take: `(name, values)`
/// with the values in bytes as `f32` (imgui's `plot_lines` takes `&[f32]`;
/// for egui_plot, pair each value with its frame number). The exact
/// figures are in [`intents`](Self::intents), [`tags`](Self::tags) and
/// [`snapshots`](Self::snapshots).
///
/// ```
/// use framealloc::{AllocConfig, SmartAlloc};
///
/// let alloc = SmartAlloc::new(AllocConfig::default());
/// let mut live = Vec::new();
/// for _ in 0..10 {
///     live.push(alloc.pool_box([0u64; 8])?); // one 64-byte slot per frame
///     alloc.advance_frame();
/// }
/// let graph = alloc.diagnostics_hooks().get_memory_graph_data(4);
/// assert_eq!(graph.frame_numbers, [6, 7, 8, 9]);
/// let (name, pool) = &graph.series[1];
/// assert_eq!((*name, pool.as_slice()), ("pool", &[448.0, 512.0, 576.0, 640.0][..]));
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MemoryGraphData {
    /// The engine frame of each value.
    pub frame_numbers: Vec<u64>,
    /// One series per intent of [`MemorySnapshot::INTENTS`] (named
    /// `"frame"`, `"pool"`, `"heap"`, `"group"`, `"streaming"`), then one
    /// per tag that had bytes in use in one of the frames (named after the
    /// tag), in bytes.
    pub series: Vec<(&'static str, Vec<f32>)>,
    /// The intents' series, exact.
    pub intents: Vec<(Intent, Vec<u64>)>,
    /// Bytes in use per tag, from the allocator's budget meters: only with
    /// budgets on ([`AllocConfig::with_budgets`](crate::AllocConfig::with_budgets)),
    /// and only tags that had bytes in use in one of the frames, in the
    /// order they first had bytes in use. The history follows the first
    /// [`TRACKED_TAGS`](Self::TRACKED_TAGS) tags that have bytes in use.
    pub tags: Vec<(AllocationTag, Vec<u64>)>,
    /// [`MemorySnapshot::reserved_bytes`] of each frame.
    pub reserved: Vec<u64>,
    /// The snapshots themselves.
    pub snapshots: Vec<MemorySnapshot>,
}

impl MemoryGraphData {
    /// How many tags a snapshot history follows: the first 32 to have
    /// bytes in use while it records (tags are meant for subsystems, so a
    /// game seldom has more).
    ///
    /// ```
    /// assert_eq!(framealloc::diagnostics::MemoryGraphData::TRACKED_TAGS, 32);
    /// ```
    pub const TRACKED_TAGS: usize = TAG_COLUMNS;

    /// How many frames the series cover.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
    /// assert_eq!(hooks.get_memory_graph_data(100).len(), 0); // not attached: no history
    /// ```
    pub fn len(&self) -> usize {
        self.frame_numbers.len()
    }

    /// Whether no frame is covered.
    ///
    /// ```
    /// let hooks = framealloc::diagnostics::DiagnosticsHooks::new();
    /// assert!(hooks.get_memory_graph_data(100).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.frame_numbers.is_empty()
    }

    /// The largest value of every intent and tag series (0 when empty): the
    /// top of a graph's vertical axis.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let boxed = alloc.heap_box([0u8; 5000])?;
    /// alloc.advance_frame();
    /// assert_eq!(alloc.diagnostics_hooks().get_memory_graph_data(1).max_bytes(), 5000);
    /// # drop(boxed);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn max_bytes(&self) -> u64 {
        let intents = self.intents.iter().flat_map(|(_, values)| values);
        let tags = self.tags.iter().flat_map(|(_, values)| values);
        intents.chain(tags).copied().max().unwrap_or(0)
    }
}

/// Tags a history follows ([`MemoryGraphData::TRACKED_TAGS`]).
const TAG_COLUMNS: usize = 32;

/// The ring of snapshots (and of per-tag figures) of one hooks object. Both
/// rings are allocated when the history is sized, never while recording.
pub(crate) struct History {
    snapshots: Box<[MemorySnapshot]>,
    /// `TAG_COLUMNS` figures per snapshot slot; empty when tags are not
    /// recorded.
    tags: Box<[u64]>,
    /// The column of each tag id, plus one (0: none yet).
    column_of: [u8; MAX_TAGS + 1],
    /// The tag of each column given out so far.
    columns: [Option<AllocationTag>; TAG_COLUMNS],
    /// The slot the next snapshot goes to.
    next: usize,
    /// Snapshots held (at most the capacity).
    len: usize,
}

impl History {
    /// A history of `capacity` frames (none at 0), with per-tag figures
    /// when `tags`.
    pub(crate) fn new(capacity: usize, tags: bool) -> History {
        History {
            snapshots: vec![MemorySnapshot::default(); capacity].into_boxed_slice(),
            tags: if tags && capacity > 0 {
                vec![0; capacity * TAG_COLUMNS].into_boxed_slice()
            } else {
                Box::default()
            },
            column_of: [0; MAX_TAGS + 1],
            columns: [None; TAG_COLUMNS],
            next: 0,
            len: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.snapshots.len()
    }

    /// Records `snapshot`, overwriting the oldest one when full, and each
    /// tag's bytes as `tag_bytes` reads them (only when tags are recorded).
    pub(crate) fn record(
        &mut self,
        snapshot: MemorySnapshot,
        tag_bytes: impl Fn(AllocationTag) -> u64,
    ) {
        let capacity = self.capacity();
        if capacity == 0 {
            return;
        }
        let slot = self.next;
        self.snapshots[slot] = snapshot;
        if let Some(row) = self
            .tags
            .get_mut(slot * TAG_COLUMNS..(slot + 1) * TAG_COLUMNS)
        {
            row.fill(0);
            for index in 1..=MAX_TAGS {
                let Some(tag) = AllocationTag::from_index(index as u32) else {
                    continue;
                };
                let bytes = tag_bytes(tag);
                let mut column = usize::from(self.column_of[index]);
                if column == 0 && bytes > 0 {
                    // A tag in use for the first time takes the next free
                    // column, if one is left.
                    if let Some(free) = self.columns.iter().position(Option::is_none) {
                        self.columns[free] = Some(tag);
                        column = free + 1;
                        self.column_of[index] = column as u8;
                    }
                }
                if column > 0 {
                    row[column - 1] = bytes;
                }
            }
        }
        self.next = (slot + 1) % capacity;
        self.len = (self.len + 1).min(capacity);
    }

    /// The newest snapshot.
    pub(crate) fn last(&self) -> Option<MemorySnapshot> {
        (self.len > 0).then(|| self.snapshots[(self.next + self.capacity() - 1) % self.capacity()])
    }

    /// Snapshots held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slots of the last `n` snapshots, oldest first.
    fn slots(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        let n = n.min(self.len);
        let capacity = self.capacity();
        (0..n).map(move |age| (self.next + capacity - n + age) % capacity)
    }

    /// The series of the last `n` frames.
    pub(crate) fn graph(&self, n: usize) -> MemoryGraphData {
        let slots: Vec<usize> = self.slots(n).collect();
        let snapshots: Vec<MemorySnapshot> = slots.iter().map(|&i| self.snapshots[i]).collect();
        let intents: Vec<(Intent, Vec<u64>)> = MemorySnapshot::INTENTS
            .iter()
            .map(|&intent| {
                let values = snapshots
                    .iter()
                    .map(|snapshot| snapshot.bytes(intent).unwrap_or(0))
                    .collect();
                (intent, values)
            })
            .collect();
        let mut tags = Vec::new();
        if !self.tags.is_empty() {
            for (column, tag) in self.columns.iter().enumerate() {
                let Some(tag) = *tag else { break };
                let values: Vec<u64> = slots
                    .iter()
                    .map(|&slot| self.tags[slot * TAG_COLUMNS + column])
                    .collect();
                if values.iter().any(|&bytes| bytes > 0) {
                    tags.push((tag, values));
                }
            }
        }
        let as_f32 = |values: &[u64]| values.iter().map(|&bytes| bytes as f32).collect();
        let series = intents
            .iter()
            .map(|(intent, values)| (intent.name(), as_f32(values)))
            .chain(
                tags.iter()
                    .map(|(tag, values)| (tag.name(), as_f32(values))),
            )
            .collect();
        MemoryGraphData {
            frame_numbers: snapshots.iter().map(|s| s.frame_number).collect(),
            series,
            intents,
            tags,
            reserved: snapshots.iter().map(|s| s.reserved_bytes).collect(),
            snapshots,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame_number: u64) -> MemorySnapshot {
        MemorySnapshot {
            frame_number,
            pool_bytes: frame_number * 10,
            ..MemorySnapshot::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_last_capacity_snapshots_oldest_first() {
        let mut history = History::new(3, false);
        assert_eq!(history.graph(10).len(), 0);
        for frame in 0..5 {
            history.record(at(frame), |_| 0);
        }
        assert_eq!(history.len(), 3);
        assert_eq!(history.last(), Some(at(4)));
        let graph = history.graph(10);
        assert_eq!(graph.frame_numbers, [2, 3, 4]);
        assert_eq!(graph.intents[1], (Intent::Pool, vec![20, 30, 40]));
        assert_eq!(history.graph(2).frame_numbers, [3, 4]);
        assert!(graph.tags.is_empty());
    }

    #[test]
    fn an_empty_history_records_nothing() {
        let mut history = History::new(0, true);
        history.record(at(1), |_| 5);
        assert_eq!((history.len(), history.last()), (0, None));
        assert!(history.graph(5).is_empty());
    }

    #[test]
    fn a_snapshot_is_88_bytes() {
        // The figure `AllocConfig::with_snapshot_history` documents.
        assert_eq!(size_of::<MemorySnapshot>(), 88);
    }

    #[test]
    fn the_first_32_tags_in_use_are_followed() {
        const NAMES: [&str; 34] = [
            "h00", "h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11",
            "h12", "h13", "h14", "h15", "h16", "h17", "h18", "h19", "h20", "h21", "h22", "h23",
            "h24", "h25", "h26", "h27", "h28", "h29", "h30", "h31", "h32", "h33",
        ];
        let tags: Vec<AllocationTag> = NAMES.iter().map(|name| AllocationTag::new(name)).collect();
        let bytes = |tag: AllocationTag| match tags.iter().position(|each| *each == tag) {
            // The first tag is idle; the others have bytes, the last one
            // only in the second frame.
            Some(0) | None => 0,
            Some(33) => 0,
            Some(n) => n as u64,
        };
        let mut history = History::new(4, true);
        history.record(at(0), bytes);
        history.record(at(1), |tag| if tag == tags[33] { 7 } else { bytes(tag) });
        let graph = history.graph(4);
        let followed: Vec<AllocationTag> = graph.tags.iter().map(|(tag, _)| *tag).collect();
        assert_eq!(followed, tags[1..33], "32 columns, the 34th tag left out");
        assert_eq!(graph.tags[0].1, [1, 1]);
        assert_eq!(graph.tags[31].1, [32, 32]);
    }

    #[test]
    fn tags_with_bytes_get_a_series() {
        let used = AllocationTag::new("history-test-used");
        let idle = AllocationTag::new("history-test-idle");
        let mut history = History::new(2, true);
        for frame in 0..3 {
            history.record(at(frame), |tag| if tag == used { frame + 1 } else { 0 });
        }
        let graph = history.graph(2);
        assert_eq!(graph.tags, [(used, vec![2, 3])]);
        assert!(!graph.tags.iter().any(|(tag, _)| *tag == idle));
        let names: Vec<&str> = graph.series.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "frame",
                "pool",
                "heap",
                "group",
                "streaming",
                "history-test-used"
            ]
        );
        assert_eq!(graph.series[5].1, [2.0, 3.0]);
        assert_eq!(graph.max_bytes(), 20);
    }
}
