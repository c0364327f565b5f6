//! What each group has allocated, and the registry of an allocator's live
//! groups that `stats()` reads.

use std::sync::Arc;

use crate::allocators::counter::Counter;
use crate::allocators::sync::{Mutex, lock};
use crate::budget::BudgetManager;

/// One group's counters. Only the thread holding the group writes them
/// (the group moves between threads only whole, which orders the writes);
/// `stats()` reads them from any thread.
pub(crate) struct GroupFigures {
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    allocations: Counter,
    bytes: Counter,
    reserved: Counter,
    chunks: Counter,
    drop_runs: Counter,
}

impl GroupFigures {
    fn new(id: u64, name: Arc<str>) -> GroupFigures {
        GroupFigures {
            id,
            name,
            allocations: Counter::new(),
            bytes: Counter::new(),
            reserved: Counter::new(),
            chunks: Counter::new(),
            drop_runs: Counter::new(),
        }
    }

    #[inline(always)]
    pub(crate) fn count_alloc(&self, bytes: usize) {
        self.allocations.add(1);
        self.bytes.add(bytes as u64);
    }

    pub(crate) fn count_resize(&self, old: usize, new: usize) {
        self.bytes.set(
            self.bytes
                .get()
                .wrapping_sub(old as u64)
                .wrapping_add(new as u64),
        );
    }

    /// Bytes handed out so far (`GroupStats::bytes`).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    pub(crate) fn count_chunk(&self, capacity: usize) {
        self.chunks.add(1);
        self.reserved.add(capacity as u64);
    }

    pub(crate) fn count_drop_run(&self) {
        self.drop_runs.add(1);
    }

    pub(crate) fn snapshot(&self) -> GroupStats {
        GroupStats {
            id: self.id,
            name: self.name.to_string(),
            allocations: self.allocations.get(),
            bytes: self.bytes.get(),
            reserved_bytes: self.reserved.get(),
            chunks: self.chunks.get(),
            drop_runs: self.drop_runs.get(),
        }
    }
}

/// One group's figures, from [`Group::stats`](super::Group::stats) and
/// [`GroupsStats::per_group`].
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let level = alloc.groups().create_group("level 1");
/// level.alloc_slice_fill_with(1000, |i| i as u32);
/// let stats = level.stats();
/// assert_eq!((stats.name.as_str(), stats.allocations, stats.bytes), ("level 1", 1, 4000));
/// assert_eq!(stats.reserved_bytes, 64 << 10); // its first chunk
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupStats {
    /// The group's id, unique within its allocator.
    pub id: u64,
    /// The name given to [`create_group`](super::Groups::create_group).
    pub name: String,
    /// Values, slices, strings and collection blocks allocated in it.
    pub allocations: u64,
    /// Bytes handed out (alignment padding excluded; a collection's block
    /// counts at its current capacity when it was the group's most recent
    /// allocation, and at every size it had otherwise).
    pub bytes: u64,
    /// Bytes of the chunks it holds: what it takes from the system and from
    /// budgets.
    pub reserved_bytes: u64,
    /// Chunks it took from the system.
    pub chunks: u64,
    /// Destructor records it keeps: one per run of same-typed values with
    /// `Drop` allocated side by side (types without `Drop` need none), so
    /// 100,000 values of one type cost one record per chunk they span.
    pub drop_runs: u64,
}

/// The groups intent's figures inside
/// [`AllocStats::groups`](crate::AllocStats::groups).
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let groups = alloc.groups();
/// let level = groups.create_group("level");
/// level.alloc(String::from("castle"));
/// assert_eq!(alloc.stats().groups.live_groups, 1);
/// groups.free_group(level);
/// let stats = alloc.stats().groups;
/// assert_eq!((stats.live_groups, stats.groups_freed, stats.allocations), (0, 1, 1));
/// assert_eq!((stats.bytes, stats.reserved_bytes), (0, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupsStats {
    /// Groups alive now.
    pub live_groups: usize,
    /// Groups freed since the allocator was made.
    pub groups_freed: u64,
    /// Allocations made in every group, live or freed.
    pub allocations: u64,
    /// Allocations that went with their group when it was freed.
    pub deallocations: u64,
    /// Bytes handed out by the live groups.
    pub bytes: u64,
    /// Bytes of chunks the live groups hold.
    pub reserved_bytes: u64,
    /// The live groups, oldest first.
    pub per_group: Vec<GroupStats>,
}

/// Figures of the groups freed so far.
#[derive(Default)]
struct Freed {
    groups: u64,
    allocations: u64,
}

/// An allocator's live groups.
pub(crate) struct GroupRegistry {
    /// The allocator the groups belong to (never reused).
    pub(crate) allocator_id: u64,
    pub(crate) budgets: Arc<BudgetManager>,
    /// Hears of group chunks and frees.
    pub(crate) observer: Arc<crate::diagnostics::Observer>,
    state: Mutex<(Vec<Arc<GroupFigures>>, Freed, u64)>,
}

impl GroupRegistry {
    pub(crate) fn new(
        allocator_id: u64,
        budgets: Arc<BudgetManager>,
        observer: Arc<crate::diagnostics::Observer>,
    ) -> GroupRegistry {
        GroupRegistry {
            allocator_id,
            budgets,
            observer,
            state: Mutex::new((Vec::new(), Freed::default(), 0)),
        }
    }

    /// Registers a new group named `name`.
    pub(crate) fn open(&self, name: &str) -> Arc<GroupFigures> {
        let mut state = lock(&self.state);
        state.2 += 1;
        let figures = Arc::new(GroupFigures::new(state.2, Arc::from(name)));
        state.0.push(figures.clone());
        figures
    }

    /// The group with `figures` was freed.
    pub(crate) fn close(&self, figures: &Arc<GroupFigures>) {
        let mut state = lock(&self.state);
        if let Some(index) = state.0.iter().position(|live| Arc::ptr_eq(live, figures)) {
            state.0.remove(index);
        }
        state.1.groups += 1;
        state.1.allocations += figures.allocations.get();
    }

    pub(crate) fn stats(&self) -> GroupsStats {
        let state = lock(&self.state);
        let per_group: Vec<GroupStats> = state.0.iter().map(|group| group.snapshot()).collect();
        let live_allocations: u64 = per_group.iter().map(|group| group.allocations).sum();
        GroupsStats {
            live_groups: per_group.len(),
            groups_freed: state.1.groups,
            allocations: live_allocations + state.1.allocations,
            deallocations: state.1.allocations,
            bytes: per_group.iter().map(|group| group.bytes).sum(),
            reserved_bytes: per_group.iter().map(|group| group.reserved_bytes).sum(),
            per_group,
        }
    }

    /// [`stats`](Self::stats) without `per_group`, and without allocating
    /// (diagnostics read it at every engine frame's end).
    pub(crate) fn totals(&self) -> GroupsStats {
        let state = lock(&self.state);
        let mut totals = GroupsStats {
            live_groups: state.0.len(),
            groups_freed: state.1.groups,
            allocations: state.1.allocations,
            deallocations: state.1.allocations,
            ..GroupsStats::default()
        };
        for group in &state.0 {
            totals.allocations += group.allocations.get();
            totals.bytes += group.bytes.get();
            totals.reserved_bytes += group.reserved.get();
        }
        totals
    }
}
