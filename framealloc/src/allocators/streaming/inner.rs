//! The streaming allocator's state: the slots (read without a lock) and
//! the table (budget, free slots, priorities), changed under one lock, so
//! two reservations cannot both pass the budget. It decides when asset
//! bytes die (eviction, release, the allocator's drop), so it frees them.

#![expect(unsafe_code, reason = "asset bytes are freed here, after the proving transition")]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::memory;
use super::slot::{self, EVICTED, FREE, LOADING, READY, RESERVED, Slot};
use super::store::SlotStore;
use super::{Eviction, StreamId, StreamPriority};
use crate::allocators::sync::{Mutex, get_mut, lock};
use crate::budget::{BudgetManager, Events};
use crate::diagnostics::{Intent, Site};
use crate::error::AllocError;

/// Per slot, what only the lock holder reads.
#[derive(Clone, Copy)]
struct Entry {
    priority: StreamPriority,
    /// The budget tag the bytes were charged to.
    tag: u32,
}

#[derive(Default)]
pub(crate) struct Table {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Bytes of reserved, loading and ready assets.
    pub(crate) used: usize,
    pub(crate) evictions: u64,
    pub(crate) bytes_evicted: u64,
}

type Listener = Arc<dyn Fn(&Eviction) + Send + Sync>;

/// An eviction made under the table lock, reported (and its bytes given
/// back) once the lock is released.
struct Gone {
    eviction: Eviction,
    bytes: Option<Taken>,
}

/// An asset's bytes, taken out of their slot under the table lock: the
/// slot no longer names them, no pin or loader can reach them, and the
/// table and budgets no longer count them. They go back to the system
/// through [`give_back`](Self::give_back) once the lock is released, after
/// the observer hears of the free, so no other allocation can sit at
/// their address when it does.
#[must_use]
struct Taken {
    block: NonNull<u8>,
    size: usize,
}

impl Taken {
    /// Reports the free, then frees the bytes (poisoned first with the
    /// `debug` feature).
    fn give_back(self, observer: &crate::diagnostics::Observer) {
        observer.free(self.block.as_ptr(), self.size, Intent::Streaming);
        // SAFETY: the block came from `allocate_zeroed(size)` in `reserve`;
        // taking it out of its slot (`take_bytes`, or the allocator's drop)
        // left no pin and no loader, and made this its one owner.
        unsafe { memory::free(self.block, self.size) };
    }
}

/// A reservation made under the table lock, reported once it is released.
struct Reserved {
    id: StreamId,
    block: *const u8,
    tag: u32,
}

pub(crate) struct Inner {
    /// Hears of reservations, evictions and releases.
    pub(crate) observer: Arc<crate::diagnostics::Observer>,
    pub(crate) slots: SlotStore,
    pub(crate) table: Mutex<Table>,
    pub(crate) budget: usize,
    /// LRU clock: advanced by every access.
    pub(crate) clock: AtomicU64,
    /// The allocator's budgets (charged when on).
    budgets: Option<Arc<BudgetManager>>,
    listeners: Mutex<Vec<Listener>>,
}

impl Inner {
    pub(crate) fn new(
        budget: usize,
        budgets: Option<Arc<BudgetManager>>,
        observer: Arc<crate::diagnostics::Observer>,
    ) -> Inner {
        Inner {
            observer,
            slots: SlotStore::default(),
            table: Mutex::new(Table::default()),
            budget,
            clock: AtomicU64::new(1),
            budgets,
            listeners: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn add_listener(&self, listener: Listener) {
        lock(&self.listeners).push(listener);
    }

    /// The slot `id` names and its word, if the id's generation is the
    /// slot's and the slot is in use.
    pub(crate) fn find(&self, id: StreamId) -> Option<(&Slot, u64)> {
        let slot = self.slots.get(id.index as usize)?;
        let word = slot.load();
        (slot::generation_of(word) == id.generation && slot::state_of(word) != FREE)
            .then_some((slot, word))
    }

    /// Reserves `size` bytes at `priority`, evicting ready, unpinned
    /// assets (lowest priority first, then least recently accessed) until
    /// the request fits. Once the table lock is released, the observer
    /// hears of each eviction (then the eviction listeners), then of the
    /// new asset's memory, with `site`: a callback that calls back into
    /// this allocator finds it unlocked.
    pub(crate) fn reserve(
        &self,
        size: usize,
        priority: StreamPriority,
        site: Site,
    ) -> Result<StreamId, AllocError> {
        let mut evicted = Vec::new();
        let result = self.reserve_locked(size, priority, &mut evicted);
        self.announce(evicted);
        let reserved = result?;
        self.observer
            .alloc(reserved.block, size, Intent::Streaming, reserved.tag, site);
        Ok(reserved.id)
    }

    fn reserve_locked(
        &self,
        size: usize,
        priority: StreamPriority,
        evicted: &mut Vec<Gone>,
    ) -> Result<Reserved, AllocError> {
        let mut table = lock(&self.table);
        if size > self.budget {
            return Err(self.exhausted(&table, size));
        }
        // Evict nothing for a request that evicting everything evictable
        // would not satisfy. (A guard taken on another thread meanwhile can
        // still make the loop below stop short; then what it evicted stays
        // evicted.)
        if table.used + size > self.budget
            && table.used - self.evictable(&table) + size > self.budget
        {
            return Err(self.exhausted(&table, size));
        }
        while table.used + size > self.budget {
            let Some(victim) = self.victim(&table) else {
                return Err(self.exhausted(&table, size));
            };
            if let Some(eviction) = self.evict_locked(&mut table, victim) {
                evicted.push(eviction);
            }
        }
        // Charge the allocator's budgets before taking memory.
        let tag = crate::budget::current_tag_index();
        let mut events = Events::default();
        let reservation = match &self.budgets {
            Some(budgets) => match budgets.reserve(tag, size, &mut events) {
                Ok(reservation) => Some(reservation),
                Err(error) => {
                    drop(table);
                    budgets.emit_all(events);
                    return Err(error);
                }
            },
            None => None,
        };
        let block = memory::allocate_zeroed(size);
        if let (Some(budgets), Some(reservation)) = (&self.budgets, reservation) {
            match block {
                Some(_) => budgets.commit(reservation, &mut events),
                None => budgets.cancel(reservation),
            }
        }
        let Some(block) = block else {
            drop(table);
            if let Some(budgets) = &self.budgets {
                budgets.emit_all(events);
            }
            return Err(AllocError::OutOfMemory { requested: size });
        };
        let index = match table.free.pop() {
            Some(index) => index as usize,
            None => table.entries.len(),
        };
        let Some(slot) = self.slots.make(index) else {
            // SAFETY: the block was just allocated with `size` and never
            // handed out.
            unsafe { memory::free(block, size) };
            if let Some(budgets) = &self.budgets {
                budgets.release(tag, size);
            }
            return Err(AllocError::HandleSlotsExhausted { slots: index });
        };
        let entry = Entry { priority, tag };
        if index == table.entries.len() {
            table.entries.push(entry);
        } else {
            table.entries[index] = entry;
        }
        let generation = slot::generation_of(slot.load());
        slot.address.store(block.as_ptr(), Ordering::Relaxed);
        slot.size.store(size, Ordering::Relaxed);
        slot.progress.store(0, Ordering::Relaxed);
        slot.last_access.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        // Release: the address and size are visible to whoever sees the
        // new state.
        slot.word
            .store(slot::word(RESERVED, generation, 0), Ordering::Release);
        table.used += size;
        drop(table);
        if let Some(budgets) = &self.budgets {
            budgets.emit_all(events);
        }
        Ok(Reserved {
            id: StreamId {
                index: index as u32,
                generation,
            },
            block: block.as_ptr(),
            tag,
        })
    }

    /// The ready slots no guard holds, with their indices.
    fn evictable_slots<'a>(&'a self, table: &Table) -> impl Iterator<Item = (usize, &'a Slot)> {
        self.slots
            .made()
            .take(table.entries.len())
            .filter(|(_, slot)| {
                let word = slot.load();
                slot::state_of(word) == READY && slot::pins_of(word) == 0
            })
    }

    /// Bytes of ready assets that no guard holds.
    fn evictable(&self, table: &Table) -> usize {
        self.evictable_slots(table)
            .map(|(_, slot)| slot.size.load(Ordering::Relaxed))
            .sum()
    }

    /// The ready, unpinned asset to evict next, if any.
    fn victim(&self, table: &Table) -> Option<usize> {
        self.evictable_slots(table)
            .min_by_key(|(index, slot)| {
                (
                    table.entries[*index].priority,
                    slot.last_access.load(Ordering::Relaxed),
                )
            })
            .map(|(index, _)| index)
    }

    /// Evicts ready, unpinned slot `index`: frees its bytes (the table
    /// lock is held). `None` if it was pinned or changed meanwhile.
    fn evict_locked(&self, table: &mut Table, index: usize) -> Option<Gone> {
        let slot = self.slots.get(index)?;
        let word = slot.load();
        if slot::state_of(word) != READY || slot::pins_of(word) != 0 {
            return None;
        }
        let generation = slot::generation_of(word);
        if !slot.transition(word, slot::word(EVICTED, generation, 0)) {
            return None; // pinned just now
        }
        let (size, bytes) = self.take_bytes(table, index, slot);
        table.evictions += 1;
        table.bytes_evicted += size as u64;
        Some(Gone {
            eviction: Eviction {
                id: StreamId {
                    index: index as u32,
                    generation,
                },
                size,
            },
            bytes,
        })
    }

    /// Takes the bytes of slot `index`, which this caller just moved out
    /// of `ready` (with no pins), `reserved` or `evicted`, and stops
    /// counting them; the caller gives them back once the lock is
    /// released. Returns their size and the bytes (none when an evicted
    /// asset had none left).
    fn take_bytes(&self, table: &mut Table, index: usize, slot: &Slot) -> (usize, Option<Taken>) {
        let size = slot.size.swap(0, Ordering::Relaxed);
        // The swap makes this caller the bytes' one owner.
        let block = NonNull::new(slot.address.swap(core::ptr::null_mut(), Ordering::Relaxed));
        if block.is_some() {
            table.used -= size;
            if let Some(budgets) = &self.budgets {
                budgets.release(table.entries[index].tag, size);
            }
        }
        (size, block.map(|block| Taken { block, size }))
    }

    /// `evict(id)`: a ready, unpinned asset's bytes go now (reported once
    /// the lock is released).
    pub(crate) fn evict(&self, id: StreamId) -> Result<Eviction, AllocError> {
        let gone = {
            let mut table = lock(&self.table);
            let (_, word) = self.find(id).ok_or_else(|| unknown(id))?;
            if slot::state_of(word) != READY || slot::pins_of(word) != 0 {
                return Err(busy(id, word, "evicted"));
            }
            self.evict_locked(&mut table, id.index as usize)
                .ok_or_else(|| busy(id, word, "evicted"))?
        };
        let eviction = gone.eviction;
        self.announce(vec![gone]);
        Ok(eviction)
    }

    /// `release(id)`: the asset's bytes (if any) and its id go. The
    /// observer hears of the bytes (an evicted asset has none left) once
    /// the lock is released.
    pub(crate) fn release(&self, id: StreamId) -> Result<(), AllocError> {
        if let Some(bytes) = self.release_locked(id)? {
            bytes.give_back(&self.observer);
        }
        Ok(())
    }

    fn release_locked(&self, id: StreamId) -> Result<Option<Taken>, AllocError> {
        let mut table = lock(&self.table);
        let (slot, word) = self.find(id).ok_or_else(|| unknown(id))?;
        let state = slot::state_of(word);
        let releasable =
            state == RESERVED || state == EVICTED || (state == READY && slot::pins_of(word) == 0);
        if !releasable {
            return Err(busy(id, word, "released"));
        }
        let generation = slot::generation_of(word);
        let (next, retire) = if generation >= slot::MAX_GENERATION {
            (generation, true)
        } else {
            (generation + 1, false)
        };
        if !slot.transition(word, slot::word(FREE, next, 0)) {
            return Err(busy(id, word, "released"));
        }
        let (_, bytes) = self.take_bytes(&mut table, id.index as usize, slot);
        if !retire {
            table.free.push(id.index);
        }
        Ok(bytes)
    }

    /// Gives back each evicted asset's bytes (the observer hears a `Free`,
    /// then the eviction), then calls the eviction listeners; no lock is
    /// held.
    fn announce(&self, evicted: Vec<Gone>) {
        if evicted.is_empty() {
            return;
        }
        let mut evictions = Vec::with_capacity(evicted.len());
        for gone in evicted {
            if let Some(bytes) = gone.bytes {
                bytes.give_back(&self.observer);
            }
            let Eviction { id, size } = gone.eviction;
            self.observer.evicted(id.to_bits(), size);
            evictions.push(gone.eviction);
        }
        let listeners: Vec<Listener> = lock(&self.listeners).clone();
        for eviction in &evictions {
            for listener in &listeners {
                listener(eviction);
            }
        }
    }

    fn exhausted(&self, table: &Table, size: usize) -> AllocError {
        let pinned_or_loading: usize = self
            .slots
            .made()
            .take(table.entries.len())
            .filter(|(_, slot)| {
                let word = slot.load();
                let state = slot::state_of(word);
                state == RESERVED || state == LOADING || (state == READY && slot::pins_of(word) > 0)
            })
            .map(|(_, slot)| slot.size.load(Ordering::Relaxed))
            .sum();
        crate::error::reported(AllocError::StreamingBudgetExhausted {
            requested: size,
            budget: self.budget,
            used: table.used,
            unevictable: pinned_or_loading,
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let table = get_mut(&mut self.table);
        let entries = table.entries.clone();
        for (index, slot) in self.slots.made().take(entries.len()) {
            // Nothing else refers to the allocator any more (`&mut self`:
            // no guard, no writer), and the swap makes this the bytes' one
            // owner.
            let block = slot.address.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if let Some(block) = NonNull::new(block) {
                let size = slot.size.load(Ordering::Relaxed);
                if let Some(budgets) = &self.budgets {
                    budgets.release(entries[index].tag, size);
                }
                // No lock is held, and no callback can reach an allocator
                // being dropped.
                Taken { block, size }.give_back(&self.observer);
            }
        }
    }
}

/// FA401 for an id whose asset was released (or that names no asset).
pub(crate) fn unknown(id: StreamId) -> AllocError {
    crate::error::reported(AllocError::InvalidHandle {
        index: id.index,
        reason: "names a stream that was released (or never reserved here)",
    })
}

/// FA405 for an asset in a state that refuses the operation.
pub(crate) fn busy(id: StreamId, word: u64, operation: &'static str) -> AllocError {
    let state = match slot::state_of(word) {
        RESERVED => "reserved",
        LOADING => "loading",
        READY if slot::pins_of(word) > 0 => "pinned by an access guard",
        READY => "ready",
        EVICTED => "evicted",
        _ => "free",
    };
    crate::error::reported(AllocError::StreamBusy {
        index: id.index,
        state,
        operation,
    })
}
