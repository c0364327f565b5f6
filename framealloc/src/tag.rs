//! Allocation tags and the calling thread's current tag.

use std::cell::Cell;
use std::fmt;

use crate::allocators::sync::{StaticMutex, lock_static};
use crate::guard_stack::GuardStack;

/// The most distinct tag names a process may create.
///
/// ```
/// assert_eq!(framealloc::MAX_TAGS, 255);
/// ```
pub const MAX_TAGS: usize = 255;

static NAMES: StaticMutex<Vec<&'static str>> = StaticMutex::new(Vec::new());

thread_local! {
    /// 0 = untagged, otherwise a tag's id: the newest live `TagGuard`'s.
    /// A copy of `GUARDS`' newest entry, read without a borrow.
    static CURRENT: Cell<u32> = const { Cell::new(0) };
    /// The live `TagGuard`s of this thread, oldest first.
    static GUARDS: GuardStack<u32> = const { GuardStack::new() };
}

/// A named subsystem whose pool and heap allocations are metered against
/// their own budget (see [`BudgetManager`](crate::BudgetManager)).
///
/// Tags are interned: the same name always gives the same tag, on every
/// thread and for every allocator. A thread's *current* tag (set with
/// [`SmartAlloc::with_tag`](crate::SmartAlloc::with_tag) or
/// [`SmartAlloc::enter_tag`](crate::SmartAlloc::enter_tag)) is charged for
/// the pool and heap allocations it makes.
///
/// # Example
///
/// ```
/// use framealloc::AllocationTag;
///
/// let rendering = AllocationTag::new("rendering");
/// assert_eq!(rendering, AllocationTag::new("rendering"));
/// assert_eq!(rendering.name(), "rendering");
/// assert_ne!(rendering, AllocationTag::new("audio"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllocationTag {
    /// 1-based index into `NAMES`.
    id: u32,
}

impl AllocationTag {
    /// The tag named `name`, created on first use.
    ///
    /// # Panics
    ///
    /// When more than [`MAX_TAGS`] distinct names are created; use
    /// [`try_new`](Self::try_new) to handle that.
    ///
    /// ```
    /// let net = framealloc::AllocationTag::new("network");
    /// assert_eq!(net.to_string(), "network");
    /// ```
    #[track_caller]
    pub fn new(name: &'static str) -> AllocationTag {
        Self::try_new(name).unwrap_or_else(|| {
            panic!("framealloc: more than {MAX_TAGS} allocation tags\n  help: reuse tag names; tags are meant for subsystems, not objects")
        })
    }

    /// Like [`new`](Self::new), returning `None` past [`MAX_TAGS`] names.
    ///
    /// ```
    /// assert!(framealloc::AllocationTag::try_new("physics").is_some());
    /// ```
    pub fn try_new(name: &'static str) -> Option<AllocationTag> {
        let mut names = lock_static(&NAMES);
        let index = match names.iter().position(|known| *known == name) {
            Some(index) => index,
            None if names.len() < MAX_TAGS => {
                names.push(name);
                names.len() - 1
            }
            None => return None,
        };
        Some(AllocationTag {
            id: index as u32 + 1,
        })
    }

    /// The tag's name.
    ///
    /// ```
    /// assert_eq!(framealloc::AllocationTag::new("ai").name(), "ai");
    /// ```
    pub fn name(self) -> &'static str {
        let names = lock_static(&NAMES);
        names.get(self.id as usize - 1).copied().unwrap_or("?")
    }

    pub(crate) fn index(self) -> usize {
        self.id as usize
    }

    pub(crate) fn from_index(id: u32) -> Option<AllocationTag> {
        (id != 0).then_some(AllocationTag { id })
    }

    /// The calling thread's current tag, if any.
    ///
    /// ```
    /// use framealloc::{AllocationTag, SmartAlloc};
    /// let alloc = SmartAlloc::with_defaults();
    /// let ui = AllocationTag::new("ui");
    /// assert_eq!(AllocationTag::current(), None);
    /// alloc.with_tag(ui, || assert_eq!(AllocationTag::current(), Some(ui)));
    /// ```
    pub fn current() -> Option<AllocationTag> {
        Self::from_index(current_index())
    }
}

impl fmt::Debug for AllocationTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AllocationTag({:?})", self.name())
    }
}

impl fmt::Display for AllocationTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The calling thread's current tag id (0 = untagged).
pub(crate) fn current_index() -> u32 {
    CURRENT.with(Cell::get)
}

/// Makes a tag current on this thread until dropped, then restores the tag
/// that was current before. Nested guards restore in turn; a guard dropped
/// out of order removes only its own tag, and the current tag is always the
/// newest live guard's (untagged when none is left).
///
/// Made by [`SmartAlloc::enter_tag`](crate::SmartAlloc::enter_tag). It is
/// not `Send`: it restores the tag of the thread that made it.
///
/// ```
/// use framealloc::{AllocationTag, SmartAlloc};
/// let alloc = SmartAlloc::with_defaults();
/// let audio = AllocationTag::new("audio");
/// {
///     let _guard = alloc.enter_tag(audio);
///     assert_eq!(AllocationTag::current(), Some(audio));
/// }
/// assert_eq!(AllocationTag::current(), None);
/// ```
#[must_use = "the tag is current only while the guard lives"]
pub struct TagGuard {
    /// This guard's entry in `GUARDS`.
    id: u64,
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl TagGuard {
    pub(crate) fn enter(tag: AllocationTag) -> TagGuard {
        let id = GUARDS.with(|guards| guards.push(tag.id));
        CURRENT.with(|current| current.set(tag.id));
        TagGuard {
            id,
            _this_thread: std::marker::PhantomData,
        }
    }
}

impl Drop for TagGuard {
    fn drop(&mut self) {
        // During thread teardown the stacks may be gone already; there is
        // no tag left to restore then.
        let _ = GUARDS.try_with(|guards| {
            guards.remove(self.id);
            let newest = guards.with_newest(|tag| tag.copied()).unwrap_or(0);
            let _ = CURRENT.try_with(|current| current.set(newest));
        });
    }
}

impl fmt::Debug for TagGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TagGuard")
            .field("current", &AllocationTag::current())
            .finish()
    }
}
