//! `Group` as an allocator for collections (allocator-api2 0.2 on stable,
//! `core::alloc::Allocator` with feature `nightly`): a
//! `Vec<Tile, &Group>` keeps its buffer in the group, counted at its real
//! size. Growing the group's most recent block happens in place; freeing
//! it moves the cursor back; other frees wait for the group to be freed.

#![expect(unsafe_code, reason = "the Allocator traits are unsafe; grow and shrink copy raw bytes")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Group;

impl Group {
    fn api_allocate(&self, layout: Layout) -> Option<NonNull<[u8]>> {
        let block = self.allocate_block(layout).ok()?;
        Some(NonNull::slice_from_raw_parts(block, layout.size()))
    }

    /// # Safety
    ///
    /// - As `Allocator::grow` (or `shrink` when `new.size() < old.size()`):
    ///   `ptr` is a live block from this group allocated with `old`.
    unsafe fn api_resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        zeroed: bool,
    ) -> Option<NonNull<[u8]>> {
        let in_place = old.size() != 0
            && ptr.addr().get().is_multiple_of(new.align())
            // SAFETY: forwarded from the caller: a live block of this group,
            // which the caller owns; collection blocks hold no value the
            // group drops.
            && unsafe { self.arena.resize_last(ptr, old.size(), new.size()) };
        let block = if in_place {
            ptr
        } else if new.size() <= old.size() && ptr.addr().get().is_multiple_of(new.align()) {
            // A shrink that cannot give the tail back keeps the block.
            ptr
        } else {
            let fresh = self.allocate_block(new).ok()?;
            let kept = old.size().min(new.size());
            // SAFETY: `ptr` is valid for `old.size()` bytes (caller) and
            // `fresh` for `new.size()`; a fresh block overlaps no live one.
            unsafe { fresh.copy_from_nonoverlapping(ptr, kept) };
            fresh
        };
        if zeroed && new.size() > old.size() {
            // SAFETY: `block` is valid for `new.size()` bytes, so the tail
            // past `old.size()` is in bounds.
            let tail = unsafe { block.add(old.size()) };
            // SAFETY: the `new.size() - old.size()` bytes of the new tail.
            unsafe { tail.write_bytes(0, new.size() - old.size()) };
        }
        Some(NonNull::slice_from_raw_parts(block, new.size()))
    }
}

/// Implements one `Allocator` trait (allocator-api2's, or core's on
/// nightly) for `Group` by forwarding to its `api_*` methods.
macro_rules! impl_allocator_for_group {
    ($(#[$attr:meta])* $alloc:path, $error:path) => {
        $(#[$attr])*
        // SAFETY: blocks stay valid until deallocated or until the group is
        // freed, which needs the group by value, so never while a `&Group`
        // (the allocator a collection holds) is borrowed. `grow` and
        // `shrink` keep the contents as the trait requires.
        unsafe impl $alloc for Group {
            #[inline]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                self.api_allocate(layout).ok_or($error)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                if layout.size() != 0 {
                    // SAFETY: forwarded from the caller of `deallocate`: the
                    // block is ours and given up.
                    unsafe { self.arena.resize_last(ptr, layout.size(), 0) };
                }
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `grow`.
                unsafe { self.api_resize(ptr, old, new, false) }.ok_or($error)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `grow_zeroed`.
                unsafe { self.api_resize(ptr, old, new, true) }.ok_or($error)
            }

            #[inline]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `shrink`.
                unsafe { self.api_resize(ptr, old, new, false) }.ok_or($error)
            }
        }
    };
}

impl_allocator_for_group!(
    allocator_api2::alloc::Allocator,
    allocator_api2::alloc::AllocError
);
impl_allocator_for_group!(
    #[cfg(feature = "nightly")]
    core::alloc::Allocator,
    core::alloc::AllocError
);
