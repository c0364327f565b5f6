//! `Frame` as an allocator for collections: allocator-api2 0.2 on stable (the
//! trait hashbrown and bumpalo implement) and, with feature `nightly`,
//! `core::alloc::Allocator`.
//!
//! Growing or shrinking the most recent allocation happens in place, so a
//! `Vec<T, &Frame>` that is pushed to while nothing else allocates never
//! copies. Freeing the most recent allocation moves the cursor back; any
//! other free is a no-op until the frame ends.

#![expect(unsafe_code, reason = "the Allocator traits are unsafe; grow and shrink copy raw bytes")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::Frame;

impl Frame<'_> {
    #[inline]
    fn api_allocate(&self, layout: Layout) -> Option<NonNull<[u8]>> {
        let ptr = self.arena().alloc_layout(layout, self.limits()).ok()?;
        Some(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    /// # Safety
    ///
    /// - As `Allocator::deallocate`: `ptr` is a live block from this frame
    ///   allocated with `layout`, not used afterwards. (A block from
    ///   elsewhere is reported as FA201 when it can be told apart.)
    #[inline]
    unsafe fn api_deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let arena = self.arena();
        // SAFETY: forwarded from the caller: the block is ours, given up.
        if unsafe { arena.resize_in_place(ptr, layout.size(), 0) }.is_none()
            && layout.size() != 0
            && !arena.owns(ptr)
        {
            // Freeing is a no-op for a frame anyway; say so instead of
            // silently accepting a block from elsewhere.
            crate::diagnostics::report(
                "FA201",
                format_args!(
                    "a {}-byte block at {ptr:p} was freed through a frame that did not allocate it",
                    layout.size()
                ),
            );
        }
    }

    /// # Safety
    ///
    /// As `Allocator::grow`: `ptr` is a live block from this frame allocated
    /// with `old`, and `new.size() >= old.size()`.
    #[inline]
    unsafe fn api_grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        zeroed: bool,
    ) -> Option<NonNull<[u8]>> {
        let aligned = ptr.addr().get().is_multiple_of(new.align());
        let in_place = aligned
            // SAFETY: forwarded from the caller: a live block of this frame
            // with `old`'s size, which the caller owns.
            .then(|| unsafe { self.arena().resize_in_place(ptr, old.size(), new.size()) })
            .flatten();
        let result = if let Some(block) = in_place {
            block
        } else {
            let fresh = self.arena().alloc_layout(new, self.limits()).ok()?;
            // SAFETY: `ptr` is valid for `old.size()` bytes (caller), `fresh`
            // for `new.size() >= old.size()`, and a fresh block cannot overlap
            // a live one.
            unsafe { fresh.copy_from_nonoverlapping(ptr, old.size()) };
            // SAFETY: the block's contents were copied; the caller gives the
            // old block up by growing it.
            unsafe { self.api_deallocate(ptr, old) };
            fresh
        };
        if zeroed {
            // SAFETY: `result` is valid for `new.size() >= old.size()`
            // bytes, so its tail starts in bounds.
            let tail = unsafe { result.add(old.size()) };
            // SAFETY: the bytes past `old.size()` are the block's new tail,
            // `new.size() - old.size()` of them.
            unsafe { tail.write_bytes(0, new.size() - old.size()) };
        }
        Some(NonNull::slice_from_raw_parts(result, new.size()))
    }

    /// # Safety
    ///
    /// As `Allocator::shrink`: `ptr` is a live block from this frame allocated
    /// with `old`, and `new.size() <= old.size()`.
    #[inline]
    unsafe fn api_shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        if ptr.addr().get().is_multiple_of(new.align()) {
            // Shrinking in place: give the tail back if this is the most
            // recent allocation; otherwise keep the block as it is.
            // SAFETY: forwarded from the caller, who owns the block.
            let block =
                unsafe { self.arena().resize_in_place(ptr, old.size(), new.size()) }.unwrap_or(ptr);
            return Some(NonNull::slice_from_raw_parts(block, new.size()));
        }
        let fresh = self.arena().alloc_layout(new, self.limits()).ok()?;
        // SAFETY: `ptr` is valid for `old.size() >= new.size()` bytes and
        // `fresh` for `new.size()`; a fresh block cannot overlap a live one.
        unsafe { fresh.copy_from_nonoverlapping(ptr, new.size()) };
        Some(NonNull::slice_from_raw_parts(fresh, new.size()))
    }
}

/// Implements one `Allocator` trait (allocator-api2's, or core's on nightly:
/// the two are the same trait with different paths) by forwarding to the
/// frame's `api_*` methods.
macro_rules! impl_allocator_for_frame {
    ($(#[$attr:meta])* $alloc:path, $error:path) => {
        $(#[$attr])*
        // SAFETY: blocks stay valid until deallocated or until the frame
        // ends; the frame cannot end while a `&Frame` (the allocator the
        // collections hold) is borrowed, and a frame is neither `Clone` nor
        // `Send`. `grow` and `shrink` keep the contents as the trait requires.
        unsafe impl $alloc for Frame<'_> {
            #[inline]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                self.api_allocate(layout).ok_or($error)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: forwarded from the caller of `deallocate`.
                unsafe { self.api_deallocate(ptr, layout) };
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `grow`.
                unsafe { self.api_grow(ptr, old, new, false) }.ok_or($error)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `grow_zeroed`.
                unsafe { self.api_grow(ptr, old, new, true) }.ok_or($error)
            }

            #[inline]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: forwarded from the caller of `shrink`.
                unsafe { self.api_shrink(ptr, old, new) }.ok_or($error)
            }
        }
    };
}

impl_allocator_for_frame!(
    allocator_api2::alloc::Allocator,
    allocator_api2::alloc::AllocError
);
impl_allocator_for_frame!(
    #[cfg(feature = "nightly")]
    core::alloc::Allocator,
    core::alloc::AllocError
);

#[cfg(all(test, feature = "nightly"))]
mod nightly_allocator_tests {
    use crate::SmartAlloc;
    use crate::allocators::frame::Frame;

    #[test]
    fn std_collections_use_the_frame() {
        let alloc = SmartAlloc::with_defaults();
        let frame = alloc.begin_frame();
        let mut values: Vec<u32, &Frame<'_>> = Vec::new_in(&frame);
        let start = {
            values.push(0);
            values.as_ptr()
        };
        values.extend(1..1000);
        assert_eq!(values.as_ptr(), start, "grown in place");
        assert_eq!(values.iter().sum::<u32>(), 499_500);
        let boxed = Box::new_in(7u64, &frame);
        assert_eq!(*boxed, 7);
    }
}
