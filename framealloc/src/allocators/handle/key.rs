//! `Handle<T>` and its untyped form: 8 bytes naming a slot, the slot's
//! generation and the allocator that made it.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicU64, Ordering};

/// Bits of a handle that name its slot: 2^24 slots per allocator.
pub(crate) const INDEX_BITS: u32 = 24;
/// Bits of the slot's generation: a slot retires after 2^20 values.
pub(crate) const GENERATION_BITS: u32 = 20;
/// Bits of the allocator's id: ids are never reused among the first 2^20
/// allocators of a process.
const ALLOCATOR_BITS: u32 = 64 - INDEX_BITS - GENERATION_BITS;

pub(crate) const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
pub(crate) const MAX_GENERATION: u32 = (1 << GENERATION_BITS) - 1;
pub(crate) const MAX_SLOTS: usize = 1 << INDEX_BITS;

/// A new allocator id, in `1..2^20` (wrapping past the end; see
/// [`HandleAllocator`](super::HandleAllocator)'s notes on foreign handles).
pub(crate) fn next_allocator_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % ((1 << ALLOCATOR_BITS) - 1) + 1
}

/// The part of a handle a live slot must match: generation and allocator
/// (never 0, so an empty slot's stamp 0 matches no handle).
pub(crate) fn stamp(allocator: u64, generation: u32) -> u64 {
    (allocator << (INDEX_BITS + GENERATION_BITS)) | (u64::from(generation) << INDEX_BITS)
}

/// A handle without its type: what [`Relocation`](super::Relocation)s
/// report. It names the same slot, generation and allocator as the
/// `Handle<T>` it came from, and resolves nothing by itself.
///
/// ```
/// let mut handles = framealloc::HandleAllocator::new();
/// let texture = handles.alloc([0u8; 256])?;
/// let raw = texture.erase();
/// assert_eq!((raw.index(), raw.generation()), (texture.index(), texture.generation()));
/// assert_eq!(raw, texture.erase());
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawHandle(NonZeroU64);

impl RawHandle {
    pub(crate) fn new(index: u32, stamp: u64) -> RawHandle {
        // A stamp is never 0 (allocator ids start at 1).
        RawHandle(NonZeroU64::new(stamp | u64::from(index)).unwrap_or(NonZeroU64::MIN))
    }

    /// The slot the handle names.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// assert_eq!(handles.alloc(1u8)?.erase().index(), 0);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn index(self) -> u32 {
        (self.0.get() & INDEX_MASK) as u32
    }

    /// How many values the slot held before this one.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let first = handles.alloc(1u8)?;
    /// handles.free(first);
    /// let second = handles.alloc(2u8)?; // the same slot, reused
    /// assert_eq!((second.index(), second.erase().generation()), (first.index(), 1));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn generation(self) -> u32 {
        ((self.0.get() >> INDEX_BITS) & u64::from(MAX_GENERATION)) as u32
    }

    /// The id of the allocator that made it.
    pub(crate) fn allocator(self) -> u64 {
        self.0.get() >> (INDEX_BITS + GENERATION_BITS)
    }

    pub(crate) fn stamp(self) -> u64 {
        self.0.get() & !INDEX_MASK
    }
}

impl fmt::Debug for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({}v{})", self.index(), self.generation())
    }
}

/// A stable name for a `T` in a [`HandleAllocator`](super::HandleAllocator):
/// 8 bytes, `Copy`, valid across defragmentation (which moves the value,
/// not the handle).
///
/// A handle resolves only through the allocator that made it and only as
/// `T`; once its value is freed it resolves to nothing, even after its slot
/// holds a new value (the slot's generation changed). `Option<Handle<T>>`
/// is 8 bytes too.
///
/// ```
/// use framealloc::{Handle, HandleAllocator};
/// assert_eq!(size_of::<Handle<[u8; 4096]>>(), 8);
/// assert_eq!(size_of::<Option<Handle<String>>>(), 8);
///
/// let mut handles = HandleAllocator::new();
/// let name: Handle<String> = handles.alloc(String::from("player"))?;
/// let copy = name; // `Copy`
/// assert_eq!(handles.get(copy).map(String::as_str), Some("player"));
/// # Ok::<(), framealloc::AllocError>(())
/// ```
pub struct Handle<T> {
    raw: RawHandle,
    _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(crate) fn from_raw(raw: RawHandle) -> Handle<T> {
        Handle {
            raw,
            _type: PhantomData,
        }
    }

    /// The handle without its type, as relocations report it.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let h = handles.alloc(5u32)?;
    /// assert_eq!(h.erase().index(), h.index());
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn erase(self) -> RawHandle {
        self.raw
    }

    /// The slot the handle names.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// let (a, b) = (handles.alloc(1u8)?, handles.alloc(2u8)?);
    /// assert_eq!((a.index(), b.index()), (0, 1));
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn index(self) -> u32 {
        self.raw.index()
    }

    /// How many values the slot held before this one.
    ///
    /// ```
    /// let mut handles = framealloc::HandleAllocator::new();
    /// assert_eq!(handles.alloc(1u8)?.generation(), 0);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn generation(self) -> u32 {
        self.raw.generation()
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Handle<T> {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Handle<T>) -> bool {
        self.raw == other.raw
    }
}

impl<T> Eq for Handle<T> {}

impl<T> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}
