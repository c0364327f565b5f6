//! The handles intent: values named by 8-byte [`Handle`]s instead of
//! addresses, so the allocator can move them together
//! ([`HandleAllocator::defragment`]) to undo fragmentation.
//!
//! The borrow checker keeps reads and moves apart: `get` borrows the
//! allocator shared, `defragment` needs it exclusively. Raw pointers from
//! [`HandleAllocator::resolve`] are for code that must hold an address
//! across calls (a GPU upload, an FFI call): dereferencing one is the
//! caller's `unsafe`, valid until the value is freed or, unless it is
//! pinned, until the next defragmentation.

mod defrag;
mod heap;
mod key;
mod slots;

use std::sync::Arc;

pub use key::{Handle, RawHandle};

use crate::budget::BudgetManager;
use crate::error::AllocError;
use heap::HandleHeap;

/// Values of any `Send + Sync + 'static` type, named by [`Handle`]s, kept
/// in chunks the allocator can compact.
///
/// - [`alloc`](Self::alloc) moves a value in and returns its handle;
///   [`free`](Self::free) moves it out.
/// - [`get`](Self::get) and [`get_mut`](Self::get_mut) borrow the value;
///   a stale handle (its value was freed) or one from another allocator
///   gives `None` and reports FA401.
/// - [`defragment`](Self::defragment) slides the values together over the
///   holes that frees left, and gives empty chunks back; handles stay
///   valid. [`defragment_step`](Self::defragment_step) does it a few
///   bytes at a time.
/// - [`pin`](Self::pin) keeps a value in place across defragmentation,
///   for code that holds its address ([`resolve`](Self::resolve)).
///
/// A freed value's bytes are reused at once when it was the newest in its
/// chunk, and otherwise after the next defragmentation: call it between
/// frames when [`stats`](Self::stats) shows enough holes.
///
/// # Example
///
/// ```
/// use framealloc::{Handle, HandleAllocator};
///
/// let mut meshes = HandleAllocator::new();
/// let handles: Vec<Handle<[f32; 64]>> =
///     (0..100).map(|i| meshes.alloc([i as f32; 64])).collect::<Result<_, _>>()?;
/// for h in handles.iter().step_by(2) {
///     meshes.free(*h); // every other mesh unloads: holes
/// }
/// let before = meshes.stats().bytes_in_use;
/// let report = meshes.defragment();
/// assert_eq!(report.relocations.len(), 50); // every survivor slid down
/// assert_eq!(meshes.stats().bytes_in_use, before / 2);
/// assert_eq!(meshes.get(handles[99]), Some(&[99.0; 64])); // handles still resolve
/// # Ok::<(), framealloc::AllocError>(())
/// ```
///
/// # Profiling
///
/// An allocator from [`SmartAlloc::handle_allocator`](crate::SmartAlloc::handle_allocator)
/// reports to that allocator's [`ProfilerHooks`](crate::diagnostics::ProfilerHooks):
/// an `Alloc` and a `Free` per value (zero-sized values take no memory and
/// are not reported; values alive when the allocator drops are freed
/// then), and a `Relocated` per value a defragmentation moves.
///
/// ```
/// use framealloc::diagnostics::{MemoryEvent, ProfilerHooks};
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
///
/// let hooks = ProfilerHooks::new();
/// let moves = Arc::new(AtomicUsize::new(0));
/// let seen = moves.clone();
/// hooks.set_callback(move |event| {
///     if let MemoryEvent::Relocated { .. } = event {
///         seen.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// let alloc = framealloc::SmartAlloc::new(framealloc::AllocConfig::default().with_profiler_hooks(hooks));
/// let mut handles = alloc.handle_allocator();
/// let (a, b) = (handles.alloc(1u64)?, handles.alloc(2u64)?);
/// handles.free(a);
/// handles.defragment(); // b slides down
/// assert_eq!(moves.load(Ordering::Relaxed), 1);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
///
/// # Foreign handles
///
/// A handle carries a 20-bit id of the allocator that made it. Ids are
/// never reused among the first 1,048,575 `HandleAllocator`s a process
/// creates, so within that a handle from another allocator never
/// resolves; past it, ids wrap and two allocators far apart in creation
/// order may share one.
pub struct HandleAllocator {
    heap: HandleHeap,
}

/// Where a value was or is: the chunk (by an id never reused within the
/// allocator) and the offset from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Place {
    /// The chunk's id.
    pub region: u64,
    /// Bytes from the chunk's start.
    pub offset: usize,
}

/// One value moved by a defragmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    /// The value's handle (unchanged by the move).
    pub handle: RawHandle,
    /// The value's size in bytes.
    pub size: usize,
    /// Where it was.
    pub from: Place,
    /// Where it is now.
    pub to: Place,
}

/// What a defragmentation did, from [`HandleAllocator::defragment`].
///
/// ```
/// let mut handles = framealloc::HandleAllocator::new();
/// let a = handles.alloc([1u64; 8])?;
/// let b = handles.alloc([2u64; 8])?;
/// handles.free(a);
/// let report = handles.defragment();
/// assert_eq!((report.bytes_moved, report.bytes_in_use_before, report.bytes_in_use_after), (64, 128, 64));
/// assert_eq!(report.relocations[0].handle, b.erase());
/// assert_eq!((report.relocations[0].from.offset, report.relocations[0].to.offset), (64, 0));
/// assert!(report.complete);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Defragmentation {
    /// Every value moved, in the order it was moved.
    pub relocations: Vec<Relocation>,
    /// Bytes of values moved.
    pub bytes_moved: usize,
    /// Bytes in use (values, holes and padding up to each chunk's top)
    /// before.
    pub bytes_in_use_before: usize,
    /// The same after: the live bytes, plus the holes that pinned values
    /// (or, for a step, values not reached) keep, plus alignment padding.
    pub bytes_in_use_after: usize,
    /// Bytes of chunks held before.
    pub reserved_before: usize,
    /// Bytes of chunks held after (empty chunks went back to the system).
    pub reserved_after: usize,
    /// Whether every value that could move did (false when a
    /// [`defragment_step`](HandleAllocator::defragment_step) ran out of
    /// budget).
    pub complete: bool,
}

/// A handle allocator's figures, from [`HandleAllocator::stats`].
///
/// ```
/// let mut handles = framealloc::HandleAllocator::new();
/// let a = handles.alloc([0u8; 100])?;
/// let stats = handles.stats();
/// assert_eq!((stats.live, stats.live_bytes, stats.bytes_in_use), (1, 100, 100));
/// assert_eq!(stats.reserved_bytes, 64 << 10);
/// # drop(a);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandleStats {
    /// Values alive.
    pub live: usize,
    /// Their bytes.
    pub live_bytes: usize,
    /// Bytes from each chunk's start to its top: values, holes, padding.
    pub bytes_in_use: usize,
    /// Bytes of the chunks held.
    pub reserved_bytes: usize,
    /// Chunks held.
    pub chunks: usize,
    /// Values pinned now.
    pub pinned: usize,
    /// Slots waiting for reuse.
    pub free_slots: usize,
    /// Slots retired because their generation would wrap.
    pub retired_slots: usize,
    /// Values allocated since the allocator was made.
    pub allocations: u64,
    /// Values freed since then.
    pub frees: u64,
    /// Defragmentations (and steps) run.
    pub defragmentations: u64,
    /// Bytes moved by them.
    pub bytes_moved: u64,
}

impl Default for HandleAllocator {
    fn default() -> HandleAllocator {
        HandleAllocator::new()
    }
}

impl HandleAllocator {
    /// An empty allocator with no budget. No memory is taken until the
    /// first value. [`SmartAlloc::handle_allocator`](crate::SmartAlloc::handle_allocator)
    /// makes one whose chunks count against that allocator's budgets.
    ///
    /// ```
    /// let handles = framealloc::HandleAllocator::new();
    /// assert_eq!(handles.stats().reserved_bytes, 0);
    /// ```
    pub fn new() -> HandleAllocator {
        HandleAllocator {
            heap: HandleHeap::new(
                key::next_allocator_id(),
                None,
                0,
                crate::diagnostics::Observer::detached(),
            ),
        }
    }

    pub(crate) fn with_budget(
        budget: Option<Arc<BudgetManager>>,
        tag: u32,
        observer: Arc<crate::diagnostics::Observer>,
    ) -> HandleAllocator {
        HandleAllocator {
            heap: HandleHeap::new(key::next_allocator_id(), budget, tag, observer),
        }
    }

    /// Moves `value` in and returns its handle. Existing values do not
    /// move (a new chunk is taken when the newest is full).
    ///
    /// # Errors
    ///
    /// [`AllocError::OutOfMemory`] (FA005) when the system refuses a chunk;
    /// FA301/FA302 when a budget refuses it (for an allocator made by
    /// [`SmartAlloc::handle_allocator`](crate::SmartAlloc::handle_allocator));
    /// [`AllocError::HandleSlotsExhausted`] (FA404) past 2^24 live or
    /// retired slots.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(String::from("sword"))?;
    /// assert_eq!(handles.get(h).unwrap(), "sword");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[cfg_attr(feature = "debug", track_caller)]
    pub fn alloc<T: Send + Sync + 'static>(&mut self, value: T) -> Result<Handle<T>, AllocError> {
        self.heap
            .alloc(value, crate::diagnostics::site())
            .map_err(crate::error::reported)
    }

    /// The value `handle` names, or `None` (and FA401) when it was freed or
    /// another allocator made the handle.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(42u32)?;
    /// assert_eq!(handles.get(h), Some(&42));
    /// handles.free(h);
    /// assert_eq!(handles.get(h), None); // stale: FA401
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    ///
    /// A borrow from `get` and a defragmentation cannot overlap:
    ///
    /// ```compile_fail
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(42u32).unwrap();
    /// let value = handles.get(h).unwrap();
    /// handles.defragment(); // error[E0502]: cannot borrow `handles` as mutable
    /// println!("{value}");
    /// ```
    #[inline]
    pub fn get<T>(&self, handle: Handle<T>) -> Option<&T> {
        let value = self.heap.get(handle);
        if value.is_none() {
            self.invalid(handle.erase());
        }
        value
    }

    /// The value `handle` names, mutably; `None` and FA401 as for
    /// [`get`](Self::get).
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(vec![1, 2])?;
    /// handles.get_mut(h).unwrap().push(3);
    /// assert_eq!(handles.get(h).unwrap(), &[1, 2, 3]);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    #[inline]
    pub fn get_mut<T>(&mut self, handle: Handle<T>) -> Option<&mut T> {
        if self.heap.get(handle).is_none() {
            self.invalid(handle.erase());
            return None;
        }
        self.heap.get_mut(handle)
    }

    /// Whether `handle` names a live value of this allocator (no
    /// diagnostic: for code that expects stale handles).
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(1u8)?;
    /// assert!(handles.contains(h));
    /// handles.free(h);
    /// assert!(!handles.contains(h));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn contains<T>(&self, handle: Handle<T>) -> bool {
        self.heap.address(handle).is_some()
    }

    /// The address of the value `handle` names (`None` and FA401 as for
    /// [`get`](Self::get)).
    ///
    /// The pointer stays valid until the value is freed or moved: an
    /// unpinned value may move at the next
    /// [`defragment`](Self::defragment). Reading through it is the
    /// caller's `unsafe`, under the usual aliasing rules (no `&mut` from
    /// [`get_mut`](Self::get_mut) at the same time). For writing, take it
    /// from [`resolve_mut`](Self::resolve_mut).
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc([7u8; 16])?;
    /// handles.pin(h)?; // the value may not move while we hold its address
    /// let ptr = handles.resolve(h).unwrap();
    /// handles.defragment();
    /// // SAFETY: the value is live and pinned, so it is still at `ptr`.
    /// assert_eq!(unsafe { ptr.as_ref() }, &[7; 16]);
    /// handles.unpin(h)?;
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn resolve<T>(&self, handle: Handle<T>) -> Option<core::ptr::NonNull<T>> {
        let ptr = self.heap.address(handle);
        if ptr.is_none() {
            self.invalid(handle.erase());
        }
        ptr
    }

    /// [`resolve`](Self::resolve) for writing: the pointer may be written
    /// through (by the caller's `unsafe`) until the value is freed or
    /// moved, and while no reference from [`get`](Self::get) is alive.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(0u64)?;
    /// let ptr = handles.resolve_mut(h).unwrap();
    /// // SAFETY: the value is live and nothing else refers to it.
    /// unsafe { *ptr.as_ptr() = 9 };
    /// assert_eq!(handles.get(h), Some(&9));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn resolve_mut<T>(&mut self, handle: Handle<T>) -> Option<core::ptr::NonNull<T>> {
        self.resolve(handle)
    }

    /// Moves the value `handle` names out and frees its slot (the handle,
    /// and every copy of it, stops resolving). `None` and FA401 when the
    /// handle is stale or foreign. A pinned value can be freed; its pins go
    /// with it.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(String::from("shield"))?;
    /// assert_eq!(handles.free(h).as_deref(), Some("shield"));
    /// assert_eq!(handles.free(h), None);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn free<T>(&mut self, handle: Handle<T>) -> Option<T> {
        let value = self.heap.take(handle);
        if value.is_none() {
            self.invalid(handle.erase());
        }
        value
    }

    /// Pins the value: it will not move until it is unpinned as many times
    /// as it was pinned. Returns the new pin count.
    ///
    /// # Errors
    ///
    /// [`AllocError::InvalidHandle`] (FA401) for a stale or foreign handle.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(1u32)?;
    /// assert_eq!(handles.pin(h)?, 1);
    /// assert_eq!(handles.pin(h)?, 2); // pins nest
    /// assert_eq!(handles.unpin(h)?, 1);
    /// assert_eq!(handles.unpin(h)?, 0);
    /// assert_eq!(handles.unpin(h).unwrap_err().code(), "FA403");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn pin<T>(&mut self, handle: Handle<T>) -> Result<u32, AllocError> {
        let index = self.live_index(handle.erase())?;
        let pins = &mut self.heap.slots.cold[index].pins;
        *pins = pins.saturating_add(1);
        Ok(*pins)
    }

    /// Undoes one [`pin`](Self::pin); returns the pins left.
    ///
    /// # Errors
    ///
    /// [`AllocError::NotPinned`] (FA403) when the value is not pinned, and
    /// FA401 for a stale or foreign handle.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(1u32)?;
    /// assert_eq!(handles.unpin(h).unwrap_err().code(), "FA403");
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn unpin<T>(&mut self, handle: Handle<T>) -> Result<u32, AllocError> {
        let index = self.live_index(handle.erase())?;
        let pins = &mut self.heap.slots.cold[index].pins;
        if *pins == 0 {
            return Err(crate::error::reported(AllocError::NotPinned {
                index: handle.index(),
            }));
        }
        *pins -= 1;
        Ok(*pins)
    }

    /// How many times the value is pinned (`None` for a stale or foreign
    /// handle, with no diagnostic).
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(1u32)?;
    /// handles.pin(h)?;
    /// assert_eq!(handles.pin_count(h), Some(1));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn pin_count<T>(&self, handle: Handle<T>) -> Option<u32> {
        let index = self.heap.slots.find(handle.erase())?;
        Some(self.heap.slots.cold[index].pins)
    }

    /// Slides every unpinned value down over the holes, across chunks in
    /// order, and gives chunks left empty back to the system. Afterwards
    /// the bytes in use are the live bytes plus the holes below pinned
    /// values plus alignment padding. Every handle still resolves to its
    /// value; references cannot be alive across it (it takes `&mut self`).
    ///
    /// Values move by a bitwise copy (a `memmove` per run of neighbours
    /// moving the same distance). That is sound for every Rust value: a
    /// move is a bitwise copy, and nothing safe can hold a value's address
    /// across this call.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let hs: Vec<_> = (0..4u64).map(|i| handles.alloc([i; 4]).unwrap()).collect();
    /// handles.free(hs[1]);
    /// handles.pin(hs[3])?;
    /// let report = handles.defragment();
    /// assert_eq!(report.relocations.len(), 1); // hs[2] slid down; hs[3] is pinned
    /// assert_eq!(report.bytes_in_use_after, 4 * 32); // a 32-byte hole stays below the pin
    /// assert_eq!(handles.get(hs[2]), Some(&[2; 4]));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn defragment(&mut self) -> Defragmentation {
        self.heap.compact(usize::MAX)
    }

    /// A budgeted [`defragment`](Self::defragment): moves at most
    /// `max_bytes` of values, in address order, and stops, so a game can
    /// spread the work over frames. Repeated steps finish the job (check
    /// [`Defragmentation::complete`]). Each step walks the block lists
    /// from the start (no copying where they are already compact).
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let hs: Vec<_> = (0..100u64).map(|i| handles.alloc([i; 8]).unwrap()).collect();
    /// for h in &hs[..50] {
    ///     handles.free(*h);
    /// }
    /// let mut steps = 0;
    /// while !handles.defragment_step(1024).complete {
    ///     steps += 1;
    /// }
    /// assert_eq!(steps, 3); // 50 values of 64 bytes, 16 per step
    /// assert_eq!(handles.stats().bytes_in_use, 50 * 64);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn defragment_step(&mut self, max_bytes: usize) -> Defragmentation {
        self.heap.compact(max_bytes)
    }

    /// This allocator's figures.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(1u64)?;
    /// handles.free(h);
    /// let stats = handles.stats();
    /// assert_eq!((stats.allocations, stats.frees, stats.live, stats.free_slots), (1, 1, 0, 1));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn stats(&self) -> HandleStats {
        let heap = &self.heap;
        HandleStats {
            live: heap.slots.live,
            live_bytes: heap.figures.live_bytes,
            bytes_in_use: heap.bytes_in_use(),
            reserved_bytes: heap.reserved_bytes(),
            chunks: heap.regions.len(),
            pinned: heap
                .slots
                .hot
                .iter()
                .zip(&heap.slots.cold)
                .filter(|(hot, cold)| hot.stamp != 0 && cold.pins > 0)
                .count(),
            free_slots: heap.slots.free_slots(),
            retired_slots: heap.slots.retired,
            allocations: heap.figures.allocations,
            frees: heap.figures.frees,
            defragmentations: heap.figures.defragmentations,
            bytes_moved: heap.figures.bytes_moved,
        }
    }

    /// Values alive.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// handles.alloc(1u8)?;
    /// assert_eq!(handles.len(), 1);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.heap.slots.live
    }

    /// Whether no value is alive.
    ///
    /// ```
    /// assert!(framealloc::HandleAllocator::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Test support (not public API): makes free slot `index`'s next
    /// generation `generation`, so that retirement at the generation limit
    /// can be tested without 2^20 frees. Returns whether the slot was free.
    #[doc(hidden)]
    pub fn __set_free_generation(&mut self, index: u32, generation: u32) -> bool {
        self.heap
            .slots
            .set_free_generation(index as usize, generation)
    }

    fn live_index(&self, handle: RawHandle) -> Result<usize, AllocError> {
        self.heap.slots.find(handle).ok_or_else(|| {
            crate::error::reported(AllocError::InvalidHandle {
                index: handle.index(),
                reason: slots::why_invalid(&self.heap.slots, handle),
            })
        })
    }

    #[cold]
    #[inline(never)]
    fn invalid(&self, handle: RawHandle) {
        crate::error::reported(AllocError::InvalidHandle {
            index: handle.index(),
            reason: slots::why_invalid(&self.heap.slots, handle),
        });
    }
}

impl core::fmt::Debug for HandleAllocator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HandleAllocator")
            .field("stats", &self.stats())
            .finish()
    }
}
