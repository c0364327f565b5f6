//! Intrusive free lists: a free slot's first word links it to the next.
#![expect(unsafe_code, reason = "a free slot's first word is written and read as the list link")]

use core::cell::Cell;
use core::ptr::NonNull;
// Under `--cfg loom` the link is loom's, so the remote stack's model sees
// its writes and reads.
#[cfg(not(loom))]
use core::sync::atomic::{AtomicPtr, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicPtr, Ordering};

/// A free slot's first word: the link of whichever list it is on.
#[repr(C)]
pub(crate) struct Slot {
    pub(super) next: AtomicPtr<Slot>,
}

// The smallest class must hold a free slot's link.
#[cfg(not(loom))]
const _: () = assert!(size_of::<Slot>() <= super::size_class::CLASS_SIZES[0]);

/// Pushes `slot` onto the intrusive list whose head is `list`.
///
/// # Safety
///
/// - `slot` is a free slot (at least 8 bytes, 8-aligned) that nothing else
///   uses; its first word becomes the link.
#[inline(always)]
pub(crate) unsafe fn push_slot(list: &Cell<*mut Slot>, slot: NonNull<u8>) {
    let slot = slot.cast::<Slot>();
    // SAFETY: forwarded from the caller.
    unsafe {
        slot.as_ptr().write(Slot {
            next: AtomicPtr::new(list.get()),
        })
    };
    list.set(slot.as_ptr());
}

/// Pops the first slot of the intrusive list whose head is `list`.
///
/// # Safety
///
/// - Every slot on the list is a free slot whose first word is its link.
#[inline(always)]
pub(crate) unsafe fn pop_slot(list: &Cell<*mut Slot>) -> Option<NonNull<u8>> {
    let slot = NonNull::new(list.get())?;
    // SAFETY: forwarded from the caller.
    let next = unsafe { slot.as_ref() }.next.load(Ordering::Relaxed);
    list.set(next);
    Some(slot.cast())
}
