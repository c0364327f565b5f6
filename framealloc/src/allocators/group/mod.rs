//! The groups intent: memory that lives until its group is freed, all at
//! once (a level's assets, a loaded scene, a save file's parsed data).
//!
//! [`Groups::create_group`] returns a [`Group`]: an owning token. What the
//! group hands out (`&mut T`, slices, strings, collections whose allocator
//! is `&Group`) borrows the token, and [`Groups::free_group`] consumes it,
//! so the compiler rejects any use of group memory after the free.

mod allocator_api;
mod arena;
mod drops;
mod figures;

use core::alloc::Layout;
use std::sync::Arc;

pub(crate) use figures::GroupRegistry;
pub use figures::{GroupStats, GroupsStats};

use crate::error::{AllocError, fail};
use arena::GroupArena;

/// The groups of one allocator, from [`SmartAlloc::groups`](crate::SmartAlloc::groups).
///
/// # Example: level loading
///
/// ```
/// use framealloc::SmartAlloc;
///
/// struct Mesh { vertices: Vec<[f32; 3]> }
///
/// let alloc = SmartAlloc::with_defaults();
/// let groups = alloc.groups();
/// let level = groups.create_group("level_1");
/// let tiles = level.alloc_slice_fill_with(256 * 256, |i| (i % 7) as u16); // 128 KiB, in the group
/// let mesh = level.alloc(Mesh { vertices: vec![[0.0; 3]; 64] });
/// let title = level.alloc_str("The Castle");
/// assert_eq!((tiles.len(), mesh.vertices.len(), &*title), (65_536, 64, "The Castle"));
/// assert_eq!(level.stats().bytes, 131_072 + 24 + 10);
///
/// let report = groups.free_group(level); // runs `Mesh`'s destructor, returns the memory
/// assert_eq!(report.allocations, 3);
/// assert_eq!(alloc.stats().groups.reserved_bytes, 0);
/// ```
pub struct Groups {
    registry: Arc<GroupRegistry>,
}

impl Groups {
    pub(crate) fn new(registry: Arc<GroupRegistry>) -> Groups {
        Groups { registry }
    }

    /// Creates an empty group named `name` (names need not be unique).
    /// No memory is taken until the first allocation.
    ///
    /// The group's chunks are charged to the global budget and to the tag
    /// current on the calling thread now (see
    /// [`SmartAlloc::with_tag`](crate::SmartAlloc::with_tag)), when budgets
    /// are on.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("ui");
    /// assert_eq!(group.name(), "ui");
    /// ```
    pub fn create_group(&self, name: &str) -> Group {
        let figures = self.registry.open(name);
        let budgets = &self.registry.budgets;
        let (budget, tag) = if budgets.is_enabled() {
            (Some(budgets.clone()), crate::budget::current_tag_index())
        } else {
            (None, 0)
        };
        Group {
            arena: GroupArena::new(budget, tag, figures, self.registry.observer.clone()),
            registry: self.registry.clone(),
        }
    }

    /// Frees `group`: runs the destructor of every value in it, in
    /// allocation order, and gives its memory back to the system. Returns
    /// its figures as they were just before.
    ///
    /// Dropping a `Group` does the same; this form reads better at an
    /// unload and returns the figures.
    ///
    /// ```compile_fail
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let groups = alloc.groups();
    /// let level = groups.create_group("level");
    /// let name = level.alloc_str("castle");
    /// groups.free_group(level); // error[E0505]: cannot move out of `level` because it is borrowed
    /// println!("{name}");
    /// ```
    pub fn free_group(&self, group: Group) -> GroupStats {
        let stats = group.stats();
        drop(group);
        stats
    }

    /// Moves `value` into `group`: the spec's spelling of
    /// [`Group::try_alloc`], which also checks that `group` belongs to this
    /// allocator.
    ///
    /// # Errors
    ///
    /// [`AllocError::ForeignAllocation`] (FA201) when `group` was made by
    /// another allocator; otherwise as [`Group::try_alloc`].
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let groups = alloc.groups();
    /// let level = groups.create_group("level");
    /// let hp = groups.alloc_val(&level, 100u32)?;
    /// assert_eq!(*hp, 100);
    /// let other = framealloc::SmartAlloc::with_defaults();
    /// let err = other.groups().alloc_val(&level, 1u8).unwrap_err();
    /// assert_eq!(err.code(), "FA201");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn alloc_val<'g, T: Send + 'static>(
        &self,
        group: &'g Group,
        value: T,
    ) -> Result<&'g mut T, AllocError> {
        if group.registry.allocator_id != self.registry.allocator_id {
            return Err(crate::error::reported(AllocError::ForeignAllocation {
                what: "a group",
            }));
        }
        group.try_alloc(value)
    }

    /// The figures of this allocator's groups (also in
    /// [`AllocStats::groups`](crate::AllocStats::groups)).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let a = alloc.groups().create_group("a");
    /// let b = alloc.groups().create_group("b");
    /// let names: Vec<_> = alloc.groups().stats().per_group.into_iter().map(|g| g.name).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # drop((a, b));
    /// ```
    pub fn stats(&self) -> GroupsStats {
        self.registry.stats()
    }

    /// The figures of [`stats`](Self::stats) without `per_group`, read
    /// without allocating.
    pub(crate) fn totals(&self) -> GroupsStats {
        self.registry.totals()
    }
}

impl core::fmt::Debug for Groups {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Groups")
            .field("live_groups", &self.stats().live_groups)
            .finish_non_exhaustive()
    }
}

/// A group of allocations freed together: the token from
/// [`Groups::create_group`].
///
/// Everything the group hands out borrows it, so nothing it made can be
/// used after [`Groups::free_group`] (or the group's drop). The group runs
/// the destructors of the values in it when it is freed; types without
/// `Drop` cost nothing there.
///
/// A `Group` is `Send` but not `Sync`: one thread at a time allocates in
/// it (the thread holding it), with no lock or atomic operation. Move it to
/// a loader thread, fill it there, and move it back; or hand out what it
/// made (`&mut T` is `Send` when `T` is) to scoped threads.
///
/// Values must be `Send + 'static` to be moved in (they are dropped where
/// the group is freed, after every borrow of the group ended). For borrowed
/// plain data, copy it in with [`alloc_slice_copy`](Self::alloc_slice_copy)
/// or [`alloc_str`](Self::alloc_str).
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let level = alloc.groups().create_group("level");
/// let level = std::thread::spawn(move || {
///     level.alloc_slice_fill_with(1 << 16, |i| i as u8); // loaded on a worker
///     level
/// })
/// .join()
/// .unwrap();
/// assert_eq!(level.stats().bytes, 1 << 16);
/// ```
pub struct Group {
    arena: GroupArena,
    registry: Arc<GroupRegistry>,
}

impl Group {
    /// The name the group was created with.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert_eq!(alloc.groups().create_group("audio").name(), "audio");
    /// ```
    pub fn name(&self) -> &str {
        &self.arena.figures.name
    }

    /// This group's figures.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// group.alloc(7u64);
    /// assert_eq!((group.stats().allocations, group.stats().bytes), (1, 8));
    /// ```
    pub fn stats(&self) -> GroupStats {
        self.arena.figures.snapshot()
    }

    /// Moves `value` into the group; it is dropped when the group is freed.
    ///
    /// # Panics
    ///
    /// As `Box::new` would, when the system refuses memory, or with the
    /// budget's code (FA301, FA302) when a hard limit refuses; see
    /// [`try_alloc`](Self::try_alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// let names = group.alloc(vec!["a".to_string()]);
    /// names.push("b".into());
    /// assert_eq!(names.len(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn alloc<T: Send + 'static>(&self, value: T) -> &mut T {
        match self.arena.put(value) {
            Ok(value) => value,
            Err(error) => fail(crate::error::reported(error)),
        }
    }

    /// Moves `value` into the group.
    ///
    /// # Errors
    ///
    /// [`AllocError::GlobalBudgetExceeded`] (FA301) or
    /// [`AllocError::TagBudgetExceeded`] (FA302) when a new chunk would
    /// pass a hard limit; [`AllocError::OutOfMemory`] (FA005) when the
    /// system refuses. The value is dropped.
    ///
    /// ```
    /// use framealloc::{AllocConfig, SmartAlloc};
    /// let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    /// alloc.budgets().set_global_limits(None, Some(16 << 10)).unwrap();
    /// let group = alloc.groups().create_group("g");
    /// let err = group.try_alloc([0u8; 64]).unwrap_err(); // the first chunk is 64 KiB
    /// assert_eq!(err.code(), "FA301");
    /// ```
    #[inline]
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn try_alloc<T: Send + 'static>(&self, value: T) -> Result<&mut T, AllocError> {
        self.arena.put(value).map_err(crate::error::reported)
    }

    /// Fills a slice of `len` values with `make(index)`, written in place
    /// (a level's 4 MiB tile map never passes through the stack, and is
    /// counted at its full size). If `make` panics, the values made so far
    /// are dropped.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc); also when `len` values of `T` overflow
    /// `isize::MAX` bytes (FA004).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let level = alloc.groups().create_group("level");
    /// let tiles = level.alloc_slice_fill_with(1 << 20, |i| (i % 251) as u32); // 4 MiB
    /// assert_eq!(tiles[1000], 1000 % 251);
    /// assert_eq!(level.stats().bytes, 4 << 20);
    /// ```
    #[track_caller]
    pub fn alloc_slice_fill_with<T: Send + 'static>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> &mut [T] {
        match self.arena.fill(len, make) {
            Ok(values) => values,
            Err(error) => fail(crate::error::reported(error)),
        }
    }

    /// [`alloc_slice_fill_with`](Self::alloc_slice_fill_with), returning
    /// the refusal instead of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc), and
    /// [`AllocError::SizeOverflow`] (FA004) when the slice's size overflows.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// let err = group.try_alloc_slice_fill_with(usize::MAX, |_| 0u64).unwrap_err();
    /// assert_eq!(err.code(), "FA004");
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn try_alloc_slice_fill_with<T: Send + 'static>(
        &self,
        len: usize,
        make: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        self.arena.fill(len, make).map_err(crate::error::reported)
    }

    /// Moves the items of `items` into a slice in the group.
    ///
    /// # Panics
    ///
    /// As [`alloc_slice_fill_with`](Self::alloc_slice_fill_with); also when
    /// the iterator yields fewer items than its `len()` said.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// let names = group.alloc_slice_from_iter(["a", "b"].map(String::from));
    /// assert_eq!(names.join(","), "a,b");
    /// ```
    #[track_caller]
    pub fn alloc_slice_from_iter<T: Send + 'static, I>(&self, items: I) -> &mut [T]
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        let mut items = items.into_iter();
        self.alloc_slice_fill_with(items.len(), |_| {
            items
                .next()
                .expect("the iterator yielded fewer items than its `len()`")
        })
    }

    /// Copies `values` into the group. They may borrow (being `Copy`, they
    /// have no destructor to run).
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// let words = ["a", "b"]; // `&str`s borrowed from elsewhere are fine
    /// assert_eq!(group.alloc_slice_copy(&words), ["a", "b"]);
    /// ```
    #[track_caller]
    pub fn alloc_slice_copy<T: Copy>(&self, values: &[T]) -> &mut [T] {
        match self.arena.copy_slice(values) {
            Ok(values) => values,
            Err(error) => fail(crate::error::reported(error)),
        }
    }

    /// Copies `text` into the group.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let group = alloc.groups().create_group("g");
    /// let title = group.alloc_str("The Castle");
    /// title.make_ascii_uppercase();
    /// assert_eq!(title, "THE CASTLE");
    /// ```
    #[track_caller]
    pub fn alloc_str(&self, text: &str) -> &mut str {
        match self.arena.copy_str(text) {
            Ok(text) => text,
            Err(error) => fail(crate::error::reported(error)),
        }
    }

    /// Room for a collection block: the allocator-api2 path (`&Group` is an
    /// `Allocator`).
    fn allocate_block(&self, layout: Layout) -> Result<core::ptr::NonNull<u8>, AllocError> {
        self.arena.bump(layout)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // The arena (a field) drops after this: destructors run and the
        // chunks go back then. The registry forgets the group first, so
        // `stats()` never sees a half-freed one.
        self.registry.close(&self.arena.figures);
    }
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("stats", &self.stats())
            .finish()
    }
}
