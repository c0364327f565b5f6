//! What a box holds: a `PoolBox`'s one word (`PoolRaw`), a `HeapBox`'s two
//! (`HeapRaw`), the header of a pool value that went to the heap (`Meta`),
//! and the layouts of blocks with headers.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use super::heap::{HEAP_ALIGN, LocalHeap};

/// A `PoolBox`'s one word: the value's address, with [`PoolRaw::HEAP_BLOCK`]
/// set when the value went to the heap (a class above the pool limit, or an
/// alignment no class honours).
///
/// A pool slot needs nothing more: its page header names its heap, and a
/// budgeted page keeps the tag each slot is charged to. A heap block starts
/// with a [`Meta`] header. Slots and blocks are at least 8-aligned, so bit 0
/// is free.
#[derive(Clone, Copy)]
pub(crate) struct PoolRaw(pub(super) NonNull<u8>);

impl PoolRaw {
    pub(super) const HEAP_BLOCK: usize = 1;

    #[inline(always)]
    pub(super) fn is_slot(self) -> bool {
        self.0.addr().get() & PoolRaw::HEAP_BLOCK == 0
    }
}

/// A `HeapBox`'s two words: the value's address and the heap that counted
/// it. With budgets on, the block also starts with its charge (see
/// [`charge_header`]), and the heap's owner word carries `BUDGETED`, which
/// sends every free to the path that reads it.
#[derive(Clone, Copy)]
pub(crate) struct HeapRaw {
    pub(super) ptr: NonNull<u8>,
    pub(super) heap: *const LocalHeap,
}

/// The header of a `PoolBox` whose value went to the heap: the heap that
/// counted the block, with in its low bits (heaps are aligned to
/// `HEAP_ALIGN`) the budget charge, `tag id + 1`, from bit
/// [`Meta::CHARGE_SHIFT`] (0: nothing charged).
#[derive(Clone, Copy)]
pub(super) struct Meta(*const LocalHeap);

impl Meta {
    pub(super) const CHARGE_SHIFT: u32 = 1;

    pub(super) fn new(heap: &LocalHeap, charge: Charge) -> Meta {
        let bits = (charge as usize) << Meta::CHARGE_SHIFT;
        Meta(ptr::from_ref(heap).map_addr(|addr| addr | bits))
    }

    pub(super) fn charge(self) -> Charge {
        ((self.0.addr() & (HEAP_ALIGN - 1)) >> Meta::CHARGE_SHIFT) as Charge
    }

    pub(super) fn heap(self) -> *const LocalHeap {
        self.0.map_addr(|addr| addr & !(HEAP_ALIGN - 1))
    }
}

// Every charge (`tag id + 1 <= MAX_TAGS + 1`) fits below the heap alignment.
const _: () = assert!((crate::budget::MAX_TAGS + 1) << Meta::CHARGE_SHIFT < HEAP_ALIGN);

/// What an allocation owes its allocator's budget: nothing (`0`), or the
/// bytes of its backing charged to the tag with id `charge - 1` (id 0 =
/// untagged).
pub(crate) type Charge = u32;

/// The layout of a block that starts with an `H`, then the value: the
/// block layout and the value's offset. `None` when the size overflows.
pub(super) fn header_for<H>(value: Layout) -> Option<(Layout, usize)> {
    let (layout, offset) = Layout::new::<H>().extend(value).ok()?;
    Some((layout.pad_to_align(), offset))
}

/// The layout of a budgeted `HeapBox` block: its charge, then the value.
pub(super) fn charge_header(value: Layout) -> Option<(Layout, usize)> {
    header_for::<Charge>(value)
}
