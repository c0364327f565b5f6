//! `PoolBox` and `HeapBox`: owning pointers with no lifetime, freed on drop
//! from any thread, and the constructors that write a value into memory from
//! `pool_box`'s allocation paths.

#![expect(unsafe_code, reason = "the boxes own values in raw pool and heap memory")]

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::alloc::{Pools, allocate_heap, allocate_pool};
use super::free::Backing;
use super::raw::{HeapRaw, PoolRaw};
use super::value::BoxValue;
use crate::error::AllocError;

macro_rules! owning_box {
    ($(#[$docs:meta])* $name:ident, $method:ident, $raw:ty) => {
        $(#[$docs])*
        pub struct $name<T: ?Sized + BoxValue> {
            /// Invariants: the address of an allocation for the value
            /// (`BoxValue::__layout(stored)`), with the backing's flags,
            /// holding an initialised value owned by this box; a
            /// placeholder for a zero-sized value.
            stored: NonNull<T>,
            extra: <$raw as Backing>::Extra,
            _owns: PhantomData<T>,
        }

        // SAFETY: the box owns its value like `Box<T>`; freeing works from
        // any thread (remote frees), so sending the box is sending a `T`.
        unsafe impl<T: ?Sized + BoxValue + Send> Send for $name<T> {}
        // SAFETY: `&Box` gives only `&T`.
        unsafe impl<T: ?Sized + BoxValue + Sync> Sync for $name<T> {}

        impl<T> $name<T> {
            /// # Safety
            ///
            /// `raw` is an allocation for a `T` that holds an initialised
            /// `T`, owned by nothing else.
            pub(crate) unsafe fn from_raw(raw: $raw) -> Self {
                let (stored, extra) = raw.split();
                $name { stored: stored.cast(), extra, _owns: PhantomData }
            }
        }

        impl<T> $name<[T]> {
            /// # Safety
            ///
            /// `raw` is an allocation for `Layout::array::<T>(len)` that
            /// holds `len` initialised `T`s, owned by nothing else.
            pub(crate) unsafe fn from_raw_slice(raw: $raw, len: usize) -> Self {
                let (stored, extra) = raw.split();
                $name {
                    stored: NonNull::slice_from_raw_parts(stored.cast(), len),
                    extra,
                    _owns: PhantomData,
                }
            }
        }

        impl<T: ?Sized + BoxValue> $name<T> {
            #[inline(always)]
            fn ptr(&self) -> NonNull<T> {
                T::__value(self.stored, <$raw as Backing>::TAG)
            }

            #[inline(always)]
            fn raw(&self) -> $raw {
                <$raw as Backing>::join(self.stored.cast(), self.extra)
            }

            /// A raw pointer to the value, valid while the box is.
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let boxed = alloc.", stringify!($method), "(7u64)?;\n",
                "assert_eq!(framealloc::", stringify!($name), "::as_ptr(&boxed) as usize % 8, 0);\n",
                "# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn as_ptr(boxed: &Self) -> *const T {
                boxed.ptr().as_ptr()
            }
        }

        impl<T> $name<T> {
            /// Moves the value out and frees the memory.
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let boxed = alloc.", stringify!($method), "(String::from(\"hp\"))?;\n",
                "let inner: String = framealloc::", stringify!($name), "::into_inner(boxed);\n",
                "assert_eq!(inner, \"hp\");\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn into_inner(boxed: Self) -> T {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: the box owns an initialised `T`; it is read once and
                // the memory freed once (the box is forgotten).
                unsafe {
                    let value = boxed.ptr().as_ptr().read();
                    boxed.raw().free::<T>();
                    value
                }
            }

        }

        impl<T> $name<MaybeUninit<T>> {
            /// Initialises the value and returns the box typed as `T`.
            ///
            #[doc = concat!(
                "```\nuse std::mem::MaybeUninit;\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let slot = alloc.", stringify!($method), "(MaybeUninit::<[u32; 4]>::uninit())?;\n",
                "let filled = framealloc::", stringify!($name), "::write(slot, [1, 2, 3, 4]);\n",
                "assert_eq!(filled[3], 4);\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub fn write(boxed: Self, value: T) -> $name<T> {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: `MaybeUninit<T>` has `T`'s layout, so the memory and
                // its backing serve a `T`; it is initialised before retyping.
                unsafe {
                    boxed.ptr().as_ptr().write(MaybeUninit::new(value));
                    $name::from_raw(boxed.raw())
                }
            }
        }

        impl<T> $name<MaybeUninit<T>> {
            /// Takes the value as initialised, without moving it.
            ///
            /// # Safety
            ///
            /// - The value is fully initialised as a `T` (as for
            ///   [`MaybeUninit::assume_init`]).
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let mut slot = alloc.", stringify!($method), "(std::mem::MaybeUninit::<u64>::uninit())?;\n",
                "slot.write(7);\n",
                "// SAFETY: written just above.\n",
                "let value = unsafe { framealloc::", stringify!($name), "::assume_init(slot) };\n",
                "assert_eq!(*value, 7);\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub unsafe fn assume_init(boxed: Self) -> $name<T> {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: `MaybeUninit<T>` has `T`'s layout, so the memory
                // and its backing serve a `T`, which the caller promises is
                // initialised.
                unsafe { $name::from_raw(boxed.raw()) }
            }
        }

        impl<T> $name<[MaybeUninit<T>]> {
            /// Takes the elements as initialised, without moving them (the
            /// slice form of `assume_init`).
            ///
            /// # Safety
            ///
            /// - Every element is fully initialised as a `T` (as for
            ///   [`MaybeUninit::assume_init`]).
            ///
            #[doc = concat!(
                "```\nlet alloc = framealloc::SmartAlloc::with_defaults();\n",
                "let mut room = alloc.", stringify!($method), "_slice_fill_with(2, |_| std::mem::MaybeUninit::<u8>::uninit())?;\n",
                "room[0].write(4);\nroom[1].write(2);\n",
                "// SAFETY: both written just above.\n",
                "let bytes = unsafe { framealloc::", stringify!($name), "::assume_init_slice(room) };\n",
                "assert_eq!(&*bytes, &[4, 2]);\n# Ok::<(), framealloc::AllocError>(())\n```"
            )]
            pub unsafe fn assume_init_slice(boxed: Self) -> $name<[T]> {
                let boxed = ManuallyDrop::new(boxed);
                // SAFETY: `[MaybeUninit<T>]` has `[T]`'s layout for the same
                // length, so the memory and its backing serve the `[T]`,
                // which the caller promises is initialised.
                unsafe { $name::from_raw_slice(boxed.raw(), boxed.stored.len()) }
            }
        }

        impl<T: ?Sized + BoxValue> Deref for $name<T> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: type invariant.
                unsafe { self.ptr().as_ref() }
            }
        }

        impl<T: ?Sized + BoxValue> DerefMut for $name<T> {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: type invariant; `&mut self` is the only access.
                unsafe { self.ptr().as_mut() }
            }
        }

        impl<T: ?Sized + BoxValue> Drop for $name<T> {
            #[inline(always)]
            fn drop(&mut self) {
                // Frees the memory when dropped, so that a value whose
                // destructor panics still gives its memory, budget charge
                // and count back, as `Box` does.
                struct FreeOnExit<B: Backing>(B, Layout, usize);
                impl<B: Backing> Drop for FreeOnExit<B> {
                    #[inline(always)]
                    fn drop(&mut self) {
                        // SAFETY: an allocation for this layout (of size
                        // class `self.2`) whose value was just dropped (or
                        // whose destructor unwound), freed exactly once,
                        // here.
                        unsafe { self.0.free_layout(self.1, self.2) }
                    }
                }
                let _free = FreeOnExit::<$raw>(
                    self.raw(),
                    T::__layout(self.stored),
                    T::__class(self.stored),
                );
                // SAFETY: the box owns an initialised value from its
                // allocation, dropped exactly once, here.
                unsafe { self.ptr().as_ptr().drop_in_place() }
            }
        }

        impl<T: ?Sized + BoxValue + fmt::Debug> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + BoxValue + fmt::Display> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + BoxValue + PartialEq> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                **self == **other
            }
        }

        impl<T: ?Sized + BoxValue + Eq> Eq for $name<T> {}

        impl<T: ?Sized + BoxValue> AsRef<T> for $name<T> {
            fn as_ref(&self) -> &T {
                self
            }
        }

        impl<T: ?Sized + BoxValue> AsMut<T> for $name<T> {
            fn as_mut(&mut self) -> &mut T {
                self
            }
        }
    };
}

owning_box! {
    /// A value in a thread-local small-object pool, freed when dropped.
    ///
    /// `PoolBox<T>` has no lifetime: it stays valid after every
    /// [`SmartAlloc`](crate::SmartAlloc) handle is gone and after the thread
    /// that allocated it exits, and it can be dropped on any thread. Dropping
    /// it on the allocating thread pushes the slot onto that thread's free
    /// list; on another thread it costs one atomic swap onto the page's
    /// remote queue, which the owner takes back in batches. It is `Send` and
    /// `Sync` exactly when `T` is.
    ///
    /// Types larger than the pool limit, or aligned more than their size
    /// class can honour, are served by the heap intent instead and counted
    /// there.
    ///
    /// A box is one word, like `Box<T>`, and `Option<PoolBox<T>>` is no
    /// larger: a pool slot's page header names its heap (and, with budgets
    /// on, the tag it is charged to), and a value that went to the heap
    /// carries that in a header, flagged in the pointer's lowest bit.
    ///
    /// # Example
    ///
    /// ```
    /// use framealloc::{PoolBox, SmartAlloc};
    ///
    /// let alloc = SmartAlloc::with_defaults();
    /// let mut hp: PoolBox<u32> = alloc.pool_box(100)?;
    /// *hp -= 1;
    /// let handle = std::thread::spawn(move || *hp); // freed on the other thread
    /// assert_eq!(handle.join().unwrap(), 99);
    /// assert_eq!(size_of::<Option<PoolBox<u32>>>(), size_of::<usize>());
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    PoolBox, pool_box, PoolRaw
}

owning_box! {
    /// A value on the heap intent: one block from the global allocator,
    /// counted in the allocator's statistics, freed when dropped.
    ///
    /// Like [`PoolBox`], it has no lifetime, can be dropped on any thread and
    /// is `Send`/`Sync` exactly when `T` is.
    ///
    /// # Example
    ///
    /// ```
    /// use framealloc::SmartAlloc;
    ///
    /// let alloc = SmartAlloc::with_defaults();
    /// let texture = alloc.heap_box([0u8; 65536])?;
    /// assert_eq!(texture.len(), 65536);
    /// assert_eq!(alloc.stats().heap.live_bytes, 65536);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    HeapBox, heap_box, HeapRaw
}

/// Moves `make()` into fresh pool (or, for large types, heap) memory,
/// writing it in place.
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn pool_box_with<T>(
    pools: Pools<'_>,
    make: impl FnOnce() -> T,
) -> Result<PoolBox<T>, AllocError> {
    let raw = emplace(allocate_pool::<T>(pools)?, make);
    // SAFETY: `emplace` initialised the `T` in this allocation for a `T`.
    Ok(unsafe { PoolBox::from_raw(raw) })
}

/// Moves `make()` into a fresh heap-intent block, writing it in place.
#[inline(always)]
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn heap_box_with<T>(
    pools: Pools<'_>,
    make: impl FnOnce() -> T,
) -> Result<HeapBox<T>, AllocError> {
    let raw = emplace(allocate_heap::<T>(pools)?, make);
    // SAFETY: as above.
    Ok(unsafe { HeapBox::from_raw(raw) })
}

/// Writes `make()` into `ptr`, the value's address in `raw`, a fresh
/// allocation for a `T`. If `make` panics, the memory (and its budget
/// charge) is given back.
#[inline(always)]
fn emplace<T, B: Backing>((ptr, raw): (NonNull<T>, B), make: impl FnOnce() -> T) -> B {
    struct GiveBackOnUnwind<T, B: Backing>(B, PhantomData<T>);
    impl<T, B: Backing> Drop for GiveBackOnUnwind<T, B> {
        fn drop(&mut self) {
            // SAFETY: an allocation for a `T` that holds no value (`make`
            // unwound).
            unsafe { self.0.free::<T>() };
        }
    }
    let guard = GiveBackOnUnwind::<T, B>(raw, PhantomData);
    let value = make();
    core::mem::forget(guard);
    // SAFETY: fresh memory for a `T`.
    unsafe { ptr.as_ptr().write(value) };
    raw
}

/// Room for a `T` on the heap intent, uninitialised (with the `debug`
/// feature, filled with [`UNINIT_BYTE`](crate::diagnostics::UNINIT_BYTE)).
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn heap_box_uninit<T>(pools: Pools<'_>) -> Result<HeapBox<MaybeUninit<T>>, AllocError> {
    let (ptr, raw) = allocate_heap::<MaybeUninit<T>>(pools)?;
    fill_uninit(ptr);
    // SAFETY: a `MaybeUninit` needs no initialisation.
    Ok(unsafe { HeapBox::from_raw(raw) })
}

/// Room for a `T` in the pool, uninitialised (with the `debug` feature,
/// filled with [`UNINIT_BYTE`](crate::diagnostics::UNINIT_BYTE)).
#[cfg_attr(feature = "debug", track_caller)]
pub(crate) fn pool_box_uninit<T>(pools: Pools<'_>) -> Result<PoolBox<MaybeUninit<T>>, AllocError> {
    let (ptr, raw) = allocate_pool::<MaybeUninit<T>>(pools)?;
    fill_uninit(ptr);
    // SAFETY: a `MaybeUninit` needs no initialisation.
    Ok(unsafe { PoolBox::from_raw(raw) })
}

/// With the `debug` feature, fills the fresh value at `ptr` with
/// [`UNINIT_BYTE`](crate::diagnostics::UNINIT_BYTE), so a read before the
/// first write shows the pattern rather than an old value.
#[inline(always)]
fn fill_uninit<T>(ptr: NonNull<MaybeUninit<T>>) {
    #[cfg(feature = "debug")]
    // SAFETY: `ptr` is a fresh allocation for a `T` (or dangling and
    // aligned for a zero-sized `T`, where no byte is written), owned by the
    // caller and not yet handed out.
    unsafe {
        ptr.cast::<u8>()
            .as_ptr()
            .write_bytes(crate::diagnostics::UNINIT_BYTE, size_of::<T>());
    }
    #[cfg(not(feature = "debug"))]
    let _ = ptr;
}

#[cfg(all(test, feature = "debug"))]
mod tests {
    use std::sync::Arc;

    use super::super::lifecycle::PoolState;
    use super::super::size_class::CLASSES;
    use super::*;
    use crate::diagnostics::{FREED_BYTE, Observer};

    /// A freed slot is filled with `FREED_BYTE` before it goes back on the
    /// free list (whose link then takes its first word). The bytes are read
    /// only once the pool has handed the same slot out again, so they are
    /// read through a live allocation, never through freed memory.
    #[test]
    fn a_freed_slot_holds_freed_bytes_when_handed_out_again() {
        let budgets = Arc::new(crate::budget::BudgetManager::new(false));
        let state = Arc::new(PoolState::new(
            1 << 40,
            CLASSES,
            budgets,
            Observer::detached(),
        ));
        let pools = Pools {
            state: &state,
            fast_key: state.fast_key,
        };
        let (first, raw) = allocate_pool::<[u8; 64]>(pools).unwrap();
        // SAFETY: fresh memory for a `[u8; 64]`.
        unsafe { first.as_ptr().write([0x11; 64]) };
        // SAFETY: an allocation for a `[u8; 64]`, which needs no drop; freed
        // once, and not used afterwards.
        unsafe { raw.free::<[u8; 64]>() };
        let (again, raw) = allocate_pool::<[u8; 64]>(pools).unwrap();
        assert_eq!(again, first, "the freed slot comes back first");
        let link = size_of::<usize>();
        let tail = again.cast::<u8>().as_ptr().wrapping_add(link);
        // SAFETY: `tail` lies `link` bytes into the live 64-byte slot just
        // allocated; those bytes were written (`0x11`, then the poison) and
        // not since, so they are initialised.
        let bytes = unsafe { core::slice::from_raw_parts(tail, 64 - link) };
        assert!(bytes.iter().all(|&b| b == FREED_BYTE), "{bytes:?}");
        // SAFETY: as above, freed once.
        unsafe { raw.free::<[u8; 64]>() };
        state.close();
    }
}
