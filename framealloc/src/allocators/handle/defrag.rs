//! Defragmentation: slides every unpinned value down over the holes, in
//! address order across regions, then gives empty regions back.
//!
//! One pass over each region's block list, in order. A write cursor
//! (region, offset) trails the read position: each unpinned value goes to
//! the first place at or after the cursor where it fits, which is never
//! past where it already is. A pinned value stays, and the cursor cannot
//! enter the part of its region below it. Values that move by the same
//! distance side by side are copied by one `memmove`.
//!
//! Moving a value is a bitwise copy, which is sound for every Rust type:
//! a value may be moved by copying its bytes unless something holds its
//! address, and nothing safe can: the heap hands out references only for
//! the length of a borrow of the heap, and `defragment` takes it by
//! `&mut`. Raw pointers from `resolve` are the caller's to keep valid: a
//! pinned value never moves. (Self-referential values need `Pin`, which
//! requires not moving them; a `Pin<&mut T>` into the heap cannot outlive
//! its borrow either.)

#![expect(unsafe_code, reason = "values are moved between raw chunk addresses")]

use core::alloc::Layout;
use core::ptr::NonNull;

use super::heap::{Block, HandleHeap};
use super::key::RawHandle;
use super::{Defragmentation, Place, Relocation};
use crate::allocators::poison;

/// A pending copy: `len` bytes from `from` to `to`, grown while the next
/// value continues both ranges in the same two regions (two chunks may
/// sit side by side in memory, but a copy must stay inside each).
struct Run {
    regions: (usize, usize),
    from: NonNull<u8>,
    to: NonNull<u8>,
    len: usize,
}

impl Run {
    /// Copies the run's bytes.
    ///
    /// # Safety
    ///
    /// - `from..from + len` and `to..to + len` lie in live regions of the
    ///   heap; the source holds the values being moved, and the
    ///   destination holds no value that is still needed (it is a hole,
    ///   or the source of this same run).
    unsafe fn copy(&self) {
        // SAFETY: forwarded from the caller; `copy` allows the two ranges
        // to overlap (a slide down within one region).
        unsafe { self.to.copy_from(self.from, self.len) };
    }
}

impl HandleHeap {
    /// Compacts the heap, moving at most `max_bytes` of values (all of them
    /// for `usize::MAX`), and tells the observer: one `relocated` per value
    /// moved (when it watches) and `defragmented` once. The block lists
    /// are rewritten in place: a block's new entry never lies after its
    /// old one in list order.
    pub(crate) fn compact(&mut self, max_bytes: usize) -> Defragmentation {
        let before = (self.bytes_in_use(), self.reserved_bytes());
        let count = self.regions.len();
        if count == 0 {
            self.figures.defragmentations += 1;
            self.observer.defragmented(0, 0, true);
            return Defragmentation {
                complete: true,
                ..Defragmentation::default()
            };
        }
        // Per region, the end of the last value that stays (pinned, or
        // left once the budget ran out).
        let mut fence = vec![0usize; count];
        let mut write = Cursor::at(self, 0);
        let mut relocations = Vec::new();
        let mut moved = 0usize;
        let mut stopped = false;
        let mut run: Option<Run> = None;
        for read in 0..count {
            // The list being read is rewritten in place: `kept` entries so
            // far, each at or before the one being read.
            let mut blocks = core::mem::take(&mut self.regions[read].blocks);
            let mut kept = 0;
            let here = Cursor::at(self, read);
            for index in 0..blocks.len() {
                let block = blocks[index];
                let slot = block.slot as usize;
                let (Some(hot), Some(cold)) = (self.slots.hot.get(slot), self.slots.cold.get(slot))
                else {
                    continue;
                };
                let current = hot.stamp != 0
                    && cold.chunk as usize == read
                    && hot.ptr.addr().get() == here.base + block.offset;
                if !current {
                    continue;
                }
                let (layout, pinned) = (cold.layout, cold.pins != 0);
                let size = layout.size();
                let mut target = None;
                if !stopped && !pinned {
                    // The first place at or after the cursor. In the region
                    // being read it always fits (at or below the value).
                    let mut place = write.fit(layout);
                    while write.region < read && place.is_none() {
                        write = Cursor::at(self, write.region + 1);
                        write.offset = fence[write.region];
                        place = write.fit(layout);
                    }
                    target = place.filter(|&offset| write.region < read || offset <= block.offset);
                    let is_move =
                        target.is_some_and(|offset| write.region != read || offset != block.offset);
                    if is_move && moved.saturating_add(size) > max_bytes {
                        stopped = true;
                        target = None;
                    }
                }
                let Some(offset) = target else {
                    // The value stays where it is.
                    fence[read] = block.offset + size;
                    if write.region == read {
                        write.offset = write.offset.max(fence[read]);
                    }
                    blocks[kept] = block;
                    kept += 1;
                    continue;
                };
                if write.region != read || offset != block.offset {
                    let from = self.regions[read].at(block.offset);
                    let to = self.regions[write.region].at(offset);
                    run = extend_run(run, (read, write.region), from, to, size);
                    moved += size;
                    self.slots.hot[slot].ptr = to;
                    self.slots.cold[slot].chunk = write.region as u32;
                    relocations.push(Relocation {
                        handle: RawHandle::new(block.slot, self.slots.hot[slot].stamp),
                        size,
                        from: Place {
                            region: here.id,
                            offset: block.offset,
                        },
                        to: Place {
                            region: write.id,
                            offset,
                        },
                    });
                }
                let entry = Block {
                    slot: block.slot,
                    offset,
                };
                if write.region == read {
                    blocks[kept] = entry;
                    kept += 1;
                } else {
                    // An earlier region: its list was cut to its kept
                    // entries when it was read.
                    self.regions[write.region].blocks.push(entry);
                }
                write.offset = offset + size;
            }
            blocks.truncate(kept);
            self.regions[read].blocks = blocks;
        }
        if let Some(run) = run {
            // SAFETY: as in `extend_run`.
            unsafe { run.copy() };
        }
        if self.watching {
            // Before empty regions go back: while their memory cannot be
            // handed out again, an address names one value (the `debug`
            // leak tracker follows values by address).
            self.report_relocations(&relocations);
        }
        self.settle_regions();
        self.figures.defragmentations += 1;
        self.figures.bytes_moved += moved as u64;
        self.observer
            .defragmented(moved, relocations.len(), !stopped);
        Defragmentation {
            relocations,
            bytes_moved: moved,
            bytes_in_use_before: before.0,
            bytes_in_use_after: self.bytes_in_use(),
            reserved_before: before.1,
            reserved_after: self.reserved_bytes(),
            complete: !stopped,
        }
    }

    /// Tells the observer of each move, in the order they were made (every
    /// region they name is still held).
    #[cold]
    #[inline(never)]
    fn report_relocations(&self, relocations: &[Relocation]) {
        let address = |place: Place| {
            self.regions
                .iter()
                .find(|region| region.id == place.region)
                .map_or(core::ptr::null(), |region| {
                    region.at(place.offset).as_ptr().cast_const()
                })
        };
        for relocation in relocations {
            self.observer.relocated(
                address(relocation.from),
                address(relocation.to),
                relocation.size,
            );
        }
    }

    /// Sets each region's top after its last block, frees regions left
    /// empty, and renumbers the regions the slots point at when some went.
    /// With the `debug` feature, the bytes between the new top and the old
    /// (stale copies of values that moved down) are poisoned.
    fn settle_regions(&mut self) {
        for region in &mut self.regions {
            let top = region.blocks.last().map_or(0, |last| {
                last.offset + self.slots.cold[last.slot as usize].layout.size()
            });
            if cfg!(feature = "debug") && top < region.top {
                // SAFETY: the region's bytes from its new top to its old:
                // stale copies of values that moved down, used by no block.
                unsafe { poison::freed(region.at(top), region.top - top) };
            }
            region.top = top;
        }
        if self.regions.iter().all(|region| !region.blocks.is_empty()) {
            return;
        }
        // Dropping an empty region's chunk gives it (and its budget charge)
        // back.
        self.regions.retain(|region| !region.blocks.is_empty());
        for (index, region) in self.regions.iter().enumerate() {
            for block in &region.blocks {
                self.slots.cold[block.slot as usize].chunk = index as u32;
            }
        }
    }
}

/// The write position of a compaction, with its region's figures at hand.
#[derive(Clone, Copy)]
struct Cursor {
    region: usize,
    offset: usize,
    base: usize,
    capacity: usize,
    id: u64,
}

impl Cursor {
    /// The start of region `region` (which must exist).
    fn at(heap: &HandleHeap, region: usize) -> Cursor {
        let chunk = &heap.regions[region].chunk;
        Cursor {
            region,
            offset: 0,
            base: chunk.start().addr().get(),
            capacity: chunk.capacity(),
            id: heap.regions[region].id,
        }
    }

    /// Where a block of `layout` would start at or after the cursor, if it
    /// fits in the region (the region's `fit`, with its figures cached).
    #[inline]
    fn fit(&self, layout: Layout) -> Option<usize> {
        let start = self
            .base
            .checked_add(self.offset)?
            .checked_next_multiple_of(layout.align())?
            - self.base;
        let end = start.checked_add(layout.size())?;
        (end <= self.capacity).then_some(start)
    }
}

/// Adds the move of `len` bytes from `from` to `to` to `run`, or copies
/// `run` and starts a new one when the move does not continue it.
fn extend_run(
    run: Option<Run>,
    regions: (usize, usize),
    from: NonNull<u8>,
    to: NonNull<u8>,
    len: usize,
) -> Option<Run> {
    if let Some(mut run) = run {
        if run.regions == regions
            && run.from.addr().get() + run.len == from.addr().get()
            && run.to.addr().get() + run.len == to.addr().get()
        {
            run.len += len;
            return Some(run);
        }
        // SAFETY: the run's source holds the values being moved (they
        // were current, and no copy since has written to it: copies
        // happen in address order and each lands at or below the
        // cursor, which trails every unread value); its destination is
        // past every value already placed, below every value not yet
        // read in its region, so it holds nothing still needed.
        unsafe { run.copy() };
    }
    Some(Run {
        regions,
        from,
        to,
        len,
    })
}
