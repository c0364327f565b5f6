//! The destructors a group owes: a linked list of runs, each a header in
//! the group's own memory naming `len` values of one type laid side by
//! side.
//!
//! A value of the type of the last run, placed right where that run ends,
//! only adds one to its length: 100,000 values of one type cost one header
//! per chunk they span. A value of another type starts a run: its header
//! and the value are bumped together (one bump). No side table grows, so a
//! group of mixed types costs a header per type change and nothing else.
//! While user code runs (`fill`'s closure), the last run is closed, so a
//! value the closure allocates can never be counted into it.

#![expect(unsafe_code, reason = "run headers live in raw group memory and drop values in place")]

use core::alloc::Layout;
use core::any::{Any, TypeId};
use core::cell::Cell;
use core::ptr::NonNull;

use crate::error::AllocError;

/// The header of a run of values, in group memory.
struct RunHeader {
    next: Option<NonNull<RunHeader>>,
    /// Drops `len` values of the run's type from `start`.
    drop: unsafe fn(NonNull<u8>, usize),
    start: NonNull<u8>,
    len: usize,
}

/// # Safety
///
/// - `start` points to `len` initialised `T`s laid out as a slice, which
///   nothing uses any more and which are not dropped again.
pub(super) unsafe fn drop_run<T>(start: NonNull<u8>, len: usize) {
    let slice = NonNull::slice_from_raw_parts(start.cast::<T>(), len);
    // SAFETY: forwarded from the caller: an initialised, unused `[T]`.
    unsafe { slice.drop_in_place() };
}

/// Where a run list takes memory from: the group's bump.
///
/// # Safety
///
/// Implementors guarantee:
/// - `bump_in_chunk` and `bump_raw` return fresh memory for the layout,
///   aligned, used by no one else, which stays valid until the
///   implementor is dropped;
/// - `bump_in_chunk` succeeds only at the cursor: the block starts at
///   `cursor()` rounded up to the layout's alignment, and the cursor then
///   sits at its end.
pub(super) unsafe trait Space {
    /// The address where the next block would start (before alignment).
    fn cursor(&self) -> usize;
    /// A block at the cursor in the current chunk, if it fits there
    /// (`None` for zero sizes).
    fn bump_in_chunk(&self, layout: Layout) -> Option<NonNull<u8>>;
    /// A block anywhere (a new chunk if need be), not counted.
    fn bump_raw(&self, layout: Layout) -> Result<NonNull<u8>, AllocError>;
    /// Counts one allocation of `bytes`.
    fn count_alloc(&self, bytes: usize);
    /// Counts one more run header.
    fn count_run(&self);
}

/// The runs of one group.
///
/// Invariants:
/// - `head` → … → `tail` are headers in the group's chunks, each naming
///   initialised values the group owns;
/// - while `open` is `Some(t)`, `tail` is a run of type `t` whose next
///   value would start at address `open_end`.
#[derive(Default)]
pub(super) struct RunList {
    head: Cell<Option<NonNull<RunHeader>>>,
    tail: Cell<Option<NonNull<RunHeader>>>,
    open: Cell<Option<TypeId>>,
    open_end: Cell<usize>,
}

/// The run that `fill` is filling: its header.
pub(super) struct Reserved {
    header: NonNull<RunHeader>,
}

impl RunList {
    /// Runs every destructor, in allocation order; returns the first
    /// panic, after all of them ran. Called once, by the arena's `drop`.
    pub(super) fn drop_all(&mut self) -> Option<Box<dyn Any + Send>> {
        let mut first_panic = None;
        let mut next = self.head.take();
        self.tail.set(None);
        self.open.set(None);
        while let Some(header) = next {
            // SAFETY: a header in the list (type invariant); the chunks it
            // lives in are freed only after this loop.
            let run = unsafe { header.read() };
            next = run.next;
            let outcome = std::panic::catch_unwind(|| {
                // SAFETY: the run names initialised values the group owns
                // (type invariant); the list is walked once, so each run
                // is dropped once.
                unsafe { (run.drop)(run.start, run.len) };
            });
            if let Err(payload) = outcome {
                first_panic.get_or_insert(payload);
            }
        }
        first_panic
    }

    /// Appends `header` as the new tail.
    fn link(&self, header: NonNull<RunHeader>) {
        match self.tail.get() {
            // SAFETY: the tail is a header in live group memory that only
            // this list touches.
            Some(tail) => unsafe { (*tail.as_ptr()).next = Some(header) },
            None => self.head.set(Some(header)),
        }
        self.tail.set(Some(header));
    }
}

impl RunList {
    /// Moves `value` (whose type needs `Drop`) into the group and records
    /// it: one more value in the open run when it continues it, else a new
    /// run.
    #[inline(always)]
    pub(super) fn put<T: Send + 'static>(
        &self,
        space: &impl Space,
        value: T,
    ) -> Result<NonNull<T>, AllocError> {
        let runs = self;
        if runs.open.get() == Some(TypeId::of::<T>())
            && space.cursor() == runs.open_end.get()
            && let (Some(tail), Some(slot)) =
                (runs.tail.get(), space.bump_in_chunk(Layout::new::<T>()))
        {
            let slot = slot.cast::<T>();
            // SAFETY: fresh memory for a `T` (`Space::bump_in_chunk`), used
            // by no one else.
            unsafe { slot.write(value) };
            // SAFETY: the open run's header, in live group memory; the
            // value sits right where the run ended, so the run now covers it.
            unsafe { (*tail.as_ptr()).len += 1 };
            runs.open_end.set(slot.addr().get() + size_of::<T>());
            space.count_alloc(size_of::<T>());
            return Ok(slot);
        }
        self.put_in_new_run(space, value)
    }

    /// A zero-sized `T` is placed nowhere; every one after the first of a
    /// run only counts. (`bump_in_chunk` refuses zero sizes, so they come
    /// here.)
    #[inline(never)]
    fn put_in_new_run<T: Send + 'static>(
        &self,
        space: &impl Space,
        value: T,
    ) -> Result<NonNull<T>, AllocError> {
        let runs = self;
        if size_of::<T>() == 0
            && runs.open.get() == Some(TypeId::of::<T>())
            && let Some(tail) = runs.tail.get()
        {
            let slot = NonNull::<T>::dangling();
            // SAFETY: writing a zero-sized value to an aligned pointer.
            unsafe { slot.write(value) };
            // SAFETY: the open run's header, in live group memory.
            unsafe { (*tail.as_ptr()).len += 1 };
            space.count_alloc(0);
            return Ok(slot);
        }
        let (header, slot) = self.new_run::<T>(space, Layout::new::<T>(), 1)?;
        let slot = slot.cast::<T>();
        // SAFETY: fresh memory for a `T` after the header, used by no one
        // else.
        unsafe { slot.write(value) };
        runs.link(header);
        runs.open.set(Some(TypeId::of::<T>()));
        runs.open_end.set(slot.addr().get() + size_of::<T>());
        space.count_alloc(size_of::<T>());
        Ok(slot)
    }

    /// Bumps a header and room for `values` after it; the header names a
    /// run of `len` values of `T` from that room (the caller fills them
    /// before the header is linked, or links it with `len` 0).
    fn new_run<T: 'static>(
        &self,
        space: &impl Space,
        values: Layout,
        len: usize,
    ) -> Result<(NonNull<RunHeader>, NonNull<u8>), AllocError> {
        let (layout, offset) =
            Layout::new::<RunHeader>()
                .extend(values)
                .map_err(|_| AllocError::SizeOverflow {
                    count: values.size(),
                    element_size: 1,
                })?;
        let block = space.bump_raw(layout)?;
        // SAFETY: `offset` lies inside the block (`Layout::extend`).
        let start = unsafe { block.add(offset) };
        let header = block.cast::<RunHeader>();
        // SAFETY: the block starts with room for a header, aligned for it.
        unsafe {
            header.write(RunHeader {
                next: None,
                drop: drop_run::<T>,
                start,
                len,
            });
        };
        space.count_run();
        Ok((header, start))
    }

    /// Room for `len` values of `T` (which needs `Drop`) and the run that
    /// will own them once [`commit`](Self::commit) says
    /// they are made. The open run is closed meanwhile, so what `fill`'s
    /// closure allocates starts runs of its own.
    pub(super) fn reserve<T: Send + 'static>(
        &self,
        space: &impl Space,
        len: usize,
    ) -> Result<(NonNull<T>, Reserved), AllocError> {
        let values = Layout::array::<T>(len).map_err(|_| AllocError::SizeOverflow {
            count: len,
            element_size: size_of::<T>(),
        })?;
        let runs = self;
        let continues =
            runs.open.get() == Some(TypeId::of::<T>()) && space.cursor() == runs.open_end.get();
        runs.open.set(None);
        if continues
            && let (Some(tail), Some(start)) = (runs.tail.get(), space.bump_in_chunk(values))
        {
            space.count_alloc(values.size());
            return Ok((start.cast(), Reserved { header: tail }));
        }
        let (header, start) = self.new_run::<T>(space, values, 0)?;
        runs.link(header);
        space.count_alloc(values.size());
        Ok((start.cast(), Reserved { header }))
    }

    /// The `len` values at `start` reserved for `run` are made: the run
    /// covers them, and stays open if nothing was allocated after them.
    ///
    /// # Safety
    ///
    /// - `start` is what [`reserve`](Self::reserve)
    ///   returned with `run`, for `len` values, and all of them are
    ///   initialised now.
    pub(super) unsafe fn commit<T: 'static>(
        &self,
        space: &impl Space,
        run: Reserved,
        start: NonNull<T>,
        len: usize,
    ) {
        // SAFETY: the run's header is in live group memory (it was linked
        // when reserved), and the values it now covers are initialised and
        // lie right after its previous ones (or are its first).
        unsafe { (*run.header.as_ptr()).len += len };
        let end = start.addr().get() + len * size_of::<T>();
        let runs = self;
        if runs.tail.get() == Some(run.header) && space.cursor() == end && size_of::<T>() != 0 {
            runs.open.set(Some(TypeId::of::<T>()));
            runs.open_end.set(end);
        }
    }
}
