//! The memory behind handles: chunks (regions) that values are bumped
//! into, each with the list of its blocks in address order, and the typed
//! access that turns a live handle into a reference.
//!
//! Values move only in [`defragment`](super::defrag), which needs the heap
//! by `&mut`; every reference handed out here borrows the heap, so none
//! can see a value move. A freed block's bytes are reused when it was the
//! newest block of the newest region (the region's top moves back), and
//! otherwise at the next defragmentation.

#![expect(unsafe_code, reason = "values live in raw chunks, reached by address")]

use core::alloc::Layout;
use core::ptr::NonNull;
use std::sync::Arc;

use super::key::Handle;
use super::slots::Slots;
use crate::allocators::frame::chunk::{CHUNK_ALIGN, Chunk, charged_chunk};
use crate::allocators::poison;
use crate::budget::BudgetManager;
use crate::diagnostics::{Intent, Site};
use crate::error::AllocError;

/// The first region; each later one is as large as all the others
/// together (so the total doubles), up to [`MAX_REGION`]. A value larger
/// than that gets a region of its own size.
const FIRST_REGION: usize = 64 << 10;
const MAX_REGION: usize = 16 << 20;
/// `Cold::chunk` of a zero-sized value, which lives in no region.
pub(crate) const NO_REGION: u32 = u32::MAX;

/// A block in a region: the slot that owned it when it was placed, and its
/// offset from the region's start. It is *current* while that slot is live
/// and its value is still there; otherwise it is a hole.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Block {
    pub(crate) slot: u32,
    pub(crate) offset: usize,
}

/// One chunk of handle memory.
pub(crate) struct Region {
    pub(crate) chunk: Chunk,
    /// Never reused within the allocator: relocations name regions by it.
    pub(crate) id: u64,
    /// The end of the last block: new values go at or after it.
    pub(crate) top: usize,
    /// Blocks in address order, holes included.
    pub(crate) blocks: Vec<Block>,
}

impl Region {
    /// The address of the byte at `offset`.
    pub(crate) fn at(&self, offset: usize) -> NonNull<u8> {
        debug_assert!(offset <= self.chunk.capacity());
        // SAFETY: `offset` is at most the chunk's capacity (every offset
        // stored is a block's start or end inside the chunk).
        unsafe { self.chunk.start().add(offset) }
    }

    /// The offset at which a block of `layout` would start at or after
    /// `from`, if it fits before the region's end.
    pub(crate) fn fit(&self, from: usize, layout: Layout) -> Option<usize> {
        let base = self.chunk.start().addr().get();
        let start = base
            .checked_add(from)?
            .checked_next_multiple_of(layout.align())?
            - base;
        let end = start.checked_add(layout.size())?;
        (end <= self.chunk.capacity()).then_some(start)
    }
}

/// Counters of a handle allocator's life.
#[derive(Default, Clone, Copy)]
pub(crate) struct HeapFigures {
    pub(crate) allocations: u64,
    pub(crate) frees: u64,
    pub(crate) live_bytes: usize,
    pub(crate) defragmentations: u64,
    pub(crate) bytes_moved: u64,
    pub(crate) next_region_id: u64,
}

/// Slots, regions and the budget they are charged to.
pub(crate) struct HandleHeap {
    /// Hears of allocations, frees and moves.
    pub(crate) observer: Arc<crate::diagnostics::Observer>,
    /// `observer.watches_allocations()`, read once: when false (nothing
    /// watches), allocations and frees skip the observer after one branch.
    pub(crate) watching: bool,
    pub(crate) slots: Slots,
    pub(crate) regions: Vec<Region>,
    /// Per slot, the destructor of its live value (for types with drop
    /// glue); read only for live slots.
    drops: Vec<Option<DropFn>>,
    budget: Option<Arc<BudgetManager>>,
    tag: u32,
    pub(crate) figures: HeapFigures,
}

// SAFETY: the heap owns its values (like a `Vec<Box<dyn Any + Send +
// Sync>>`): `alloc` takes only `Send + Sync` types, so moving the heap to
// another thread, or reading values through `&HandleHeap` from several,
// is what those bounds allow. Its raw pointers point into its own chunks.
unsafe impl Send for HandleHeap {}
// SAFETY: as above; `&HandleHeap` only reads (`get`), and the values are
// `Sync`.
unsafe impl Sync for HandleHeap {}

/// Drops a value in place: [`drop_value`] for the value's type.
type DropFn = unsafe fn(NonNull<u8>);

/// # Safety
///
/// - `ptr` points to an initialised `T` that nothing uses any more and
///   that is not dropped again.
unsafe fn drop_value<T>(ptr: NonNull<u8>) {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.cast::<T>().drop_in_place() };
}

impl HandleHeap {
    pub(crate) fn new(
        allocator: u64,
        budget: Option<Arc<BudgetManager>>,
        tag: u32,
        observer: Arc<crate::diagnostics::Observer>,
    ) -> HandleHeap {
        HandleHeap {
            watching: observer.watches_allocations(),
            observer,
            slots: Slots::new(allocator),
            regions: Vec::new(),
            drops: Vec::new(),
            budget,
            tag,
            figures: HeapFigures::default(),
        }
    }

    /// Whether `block` of region `region` still holds its slot's value.
    pub(crate) fn is_current(&self, region: usize, block: Block) -> bool {
        let slot = block.slot as usize;
        self.slots.hot[slot].stamp != 0
            && self.slots.cold[slot].chunk as usize == region
            && self.slots.hot[slot].ptr == self.regions[region].at(block.offset)
    }

    /// Moves `value` into the newest region (or a new one) and names it;
    /// a watching observer hears of it with `site` (zero-sized values,
    /// which take no memory, are not reported).
    pub(crate) fn alloc<T: Send + Sync + 'static>(
        &mut self,
        value: T,
        site: Site,
    ) -> Result<Handle<T>, AllocError> {
        if !self.slots.has_room() {
            return Err(AllocError::HandleSlotsExhausted {
                slots: self.slots.hot.len(),
            });
        }
        let layout = Layout::new::<T>();
        let (ptr, region) = if layout.size() == 0 {
            (NonNull::<T>::dangling().cast::<u8>(), NO_REGION)
        } else {
            self.place(layout)?
        };
        // SAFETY: fresh memory for a `T` (`place`), or a dangling aligned
        // pointer for a zero-sized one; no one else uses it.
        unsafe { ptr.cast::<T>().write(value) };
        let raw = self.slots.occupy(ptr, layout, region)?;
        let drop = core::mem::needs_drop::<T>().then_some(drop_value::<T> as DropFn);
        let index = raw.index() as usize;
        if index == self.drops.len() {
            self.drops.push(drop);
        } else {
            self.drops[index] = drop;
        }
        if region != NO_REGION {
            let offset =
                ptr.addr().get() - self.regions[region as usize].chunk.start().addr().get();
            self.regions[region as usize].blocks.push(Block {
                slot: raw.index(),
                offset,
            });
        }
        self.figures.allocations += 1;
        self.figures.live_bytes += layout.size();
        if self.watching && layout.size() != 0 {
            self.observer
                .alloc(ptr.as_ptr(), layout.size(), Intent::Handle, self.tag, site);
        }
        Ok(Handle::from_raw(raw))
    }

    /// Room for `layout` at the top of the newest region; else at the top
    /// of another (after a defragmentation, earlier regions have room at
    /// their tops); else in a new region. A block always goes at a
    /// region's top, so each block list stays in address order.
    fn place(&mut self, layout: Layout) -> Result<(NonNull<u8>, u32), AllocError> {
        if let Some(region) = self.regions.last_mut()
            && let Some(start) = region.fit(region.top, layout)
        {
            region.top = start + layout.size();
            return Ok((region.at(start), (self.regions.len() - 1) as u32));
        }
        self.place_slow(layout)
    }

    #[cold]
    #[inline(never)]
    fn place_slow(&mut self, layout: Layout) -> Result<(NonNull<u8>, u32), AllocError> {
        for (index, region) in self.regions.iter_mut().enumerate().rev() {
            if let Some(start) = region.fit(region.top, layout) {
                region.top = start + layout.size();
                return Ok((region.at(start), index as u32));
            }
        }
        let padding = layout.align().saturating_sub(CHUNK_ALIGN);
        let need = layout.size().saturating_add(padding);
        // Grow by what is held now (doubling it), so that after a
        // defragmentation gave regions back the next one is small again.
        let capacity = need.max(self.reserved_bytes().clamp(FIRST_REGION, MAX_REGION));
        let chunk = charged_chunk(self.budget.as_ref(), self.tag, capacity, layout.align())?;
        self.figures.next_region_id += 1;
        self.regions.push(Region {
            chunk,
            id: self.figures.next_region_id,
            top: 0,
            blocks: Vec::new(),
        });
        let index = self.regions.len() - 1;
        let region = &mut self.regions[index];
        // The fresh chunk was sized and aligned for the request.
        let start = region.fit(0, layout).ok_or(AllocError::Internal {
            what: "a fresh handle region could not hold the value it was sized for",
        })?;
        region.top = start + layout.size();
        Ok((region.at(start), index as u32))
    }

    /// The value `handle` names, if it is live.
    #[inline(always)]
    pub(crate) fn get<T>(&self, handle: Handle<T>) -> Option<&T> {
        let index = self.slots.find(handle.erase())?;
        // SAFETY: a live slot whose stamp matches a `Handle<T>` holds the
        // `T` that `alloc::<T>` made it for (stamps are never reused within
        // an allocator, and other allocators' stamps differ); the reference
        // borrows the heap, and values move or die only through `&mut`.
        Some(unsafe { self.slots.hot[index].ptr.cast::<T>().as_ref() })
    }

    /// The value `handle` names, mutably, if it is live.
    #[inline(always)]
    pub(crate) fn get_mut<T>(&mut self, handle: Handle<T>) -> Option<&mut T> {
        let index = self.slots.find(handle.erase())?;
        // SAFETY: as in `get`; `&mut self` makes this the only reference
        // into the heap.
        Some(unsafe { self.slots.hot[index].ptr.cast::<T>().as_mut() })
    }

    /// The address of the value `handle` names, if it is live.
    #[inline(always)]
    pub(crate) fn address<T>(&self, handle: Handle<T>) -> Option<NonNull<T>> {
        let index = self.slots.find(handle.erase())?;
        Some(self.slots.hot[index].ptr.cast::<T>())
    }

    /// Moves the value `handle` names out and frees its slot and block.
    pub(crate) fn take<T>(&mut self, handle: Handle<T>) -> Option<T> {
        let index = self.slots.find(handle.erase())?;
        let ptr = self.slots.hot[index].ptr.cast::<T>();
        // SAFETY: a live `T` (as in `get`); the slot is vacated next, so
        // the value is never read or dropped again from here.
        let value = unsafe { ptr.read() };
        let size = size_of::<T>();
        // The bytes left behind are a stale copy of a value now owned by
        // the caller: poisoned before the block can be reused.
        // SAFETY: the value's bytes in its region; it was moved out above
        // and its block is forgotten next, so nothing uses them.
        unsafe { poison::freed(ptr.cast(), size) };
        self.forget_block(index);
        if self.watching && size != 0 {
            self.observer
                .free(ptr.as_ptr().cast(), size, Intent::Handle);
        }
        Some(value)
    }

    /// Vacates live slot `index` (its value already moved out or dropped)
    /// and gives its block back when it was the newest in its region.
    fn forget_block(&mut self, index: usize) {
        let (size, region) = {
            let cold = &self.slots.cold[index];
            (cold.layout.size(), cold.chunk)
        };
        let ptr = self.slots.hot[index].ptr;
        self.slots.vacate(index);
        self.figures.frees += 1;
        self.figures.live_bytes -= size;
        if region == NO_REGION {
            return;
        }
        let region_index = region as usize;
        let region = &self.regions[region_index];
        let offset = ptr.addr().get() - region.chunk.start().addr().get();
        let newest = Block {
            slot: index as u32,
            offset,
        };
        if region.blocks.last() != Some(&newest) {
            return;
        }
        // The top moves back to the start of the freed block, and below
        // every hole under it (each hole's start, padding included).
        let mut top = offset;
        self.regions[region_index].blocks.pop();
        while let Some(&last) = self.regions[region_index].blocks.last() {
            if self.is_current(region_index, last) {
                break;
            }
            top = last.offset;
            self.regions[region_index].blocks.pop();
        }
        self.regions[region_index].top = top;
    }

    /// Bytes from each region's start to its top: what the blocks and the
    /// holes among them take.
    pub(crate) fn bytes_in_use(&self) -> usize {
        self.regions.iter().map(|region| region.top).sum()
    }

    /// Bytes of the regions' chunks.
    pub(crate) fn reserved_bytes(&self) -> usize {
        self.regions
            .iter()
            .map(|region| region.chunk.capacity())
            .sum()
    }
}

impl Drop for HandleHeap {
    /// Drops every live value, in slot order, poisoning its bytes after
    /// (`debug`) and telling a watching observer of each free. A panicking
    /// destructor does not stop the others; the first panic resumes once
    /// all have run.
    fn drop(&mut self) {
        let mut first_panic = None;
        // Values without drop glue need a visit only to be reported or
        // poisoned.
        let visit_all = self.watching || cfg!(feature = "debug");
        for index in 0..self.slots.hot.len() {
            let hot = self.slots.hot[index];
            if hot.stamp == 0 {
                continue;
            }
            let drop = self.drops.get(index).copied().flatten();
            if drop.is_none() && !visit_all {
                continue;
            }
            let size = self.slots.cold[index].layout.size();
            self.slots.vacate(index);
            if let Some(drop) = drop {
                let outcome = std::panic::catch_unwind(|| {
                    // SAFETY: a live slot holds an initialised value of the
                    // type `drop` was made for; it was vacated, so it is
                    // dropped once. Nothing borrows the heap (`&mut self`).
                    unsafe { drop(hot.ptr) };
                });
                if let Err(payload) = outcome {
                    first_panic.get_or_insert(payload);
                }
            }
            // SAFETY: the value's bytes in its region, dropped above (or
            // its destructor panicked) and never read again.
            unsafe { poison::freed(hot.ptr, size) };
            if self.watching && size != 0 {
                self.observer.free(hot.ptr.as_ptr(), size, Intent::Handle);
            }
        }
        if let Some(payload) = first_panic {
            std::panic::resume_unwind(payload);
        }
    }
}
