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
    /// the request fits.
    pub(crate) fn reserve(
        &self,
        size: usize,
        priority: StreamPriority,
    ) -> Result<StreamId, AllocError> {
        let mut evicted = Vec::new();
        let result = self.reserve_locked(size, priority, &mut evicted);
        self.announce(&evicted);
        result
    }

    fn reserve_locked(
        &self,
        size: usize,
        priority: StreamPriority,
        evicted: &mut Vec<Eviction>,
    ) -> Result<StreamId, AllocError> {
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
        Ok(StreamId {
            index: index as u32,
            generation,
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
    fn evict_locked(&self, table: &mut Table, index: usize) -> Option<Eviction> {
        let slot = self.slots.get(index)?;
        let word = slot.load();
        if slot::state_of(word) != READY || slot::pins_of(word) != 0 {
            return None;
        }
        let generation = slot::generation_of(word);
        if !slot.transition(word, slot::word(EVICTED, generation, 0)) {
            return None; // pinned just now
        }
        let size = self.free_bytes(table, index, slot);
        table.evictions += 1;
        table.bytes_evicted += size as u64;
        Some(Eviction {
            id: StreamId {
                index: index as u32,
                generation,
            },
            size,
        })
    }

    /// Frees the bytes of slot `index`, which this caller just moved out of
    /// `ready` (with no pins), `reserved` or `evicted`.
    fn free_bytes(&self, table: &mut Table, index: usize, slot: &Slot) -> usize {
        let size = slot.size.swap(0, Ordering::Relaxed);
        let block = slot.address.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if let Some(block) = NonNull::new(block) {
            // SAFETY: the block came from `allocate_zeroed(size)` in
            // `reserve`; the caller's transition left no pin and no loader,
            // and the swap above makes this the only free.
            unsafe { memory::free(block, size) };
            table.used -= size;
            if let Some(budgets) = &self.budgets {
                budgets.release(table.entries[index].tag, size);
            }
        }
        size
    }

    /// `evict(id)`: a ready, unpinned asset's bytes go now.
    pub(crate) fn evict(&self, id: StreamId) -> Result<Eviction, AllocError> {
        let eviction = {
            let mut table = lock(&self.table);
            let (_, word) = self.find(id).ok_or_else(|| unknown(id))?;
            if slot::state_of(word) != READY || slot::pins_of(word) != 0 {
                return Err(busy(id, word, "evicted"));
            }
            self.evict_locked(&mut table, id.index as usize)
                .ok_or_else(|| busy(id, word, "evicted"))?
        };
        self.announce(core::slice::from_ref(&eviction));
        Ok(eviction)
    }

    /// `release(id)`: the asset's bytes (if any) and its id go.
    pub(crate) fn release(&self, id: StreamId) -> Result<(), AllocError> {
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
        self.free_bytes(&mut table, id.index as usize, slot);
        if !retire {
            table.free.push(id.index);
        }
        Ok(())
    }

    /// Calls the eviction listeners (no lock held).
    fn announce(&self, evicted: &[Eviction]) {
        if evicted.is_empty() {
            return;
        }
        let listeners: Vec<Listener> = lock(&self.listeners).clone();
        for eviction in evicted {
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
            let block = slot.address.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if let Some(block) = NonNull::new(block) {
                let size = slot.size.load(Ordering::Relaxed);
                // SAFETY: nothing else refers to the allocator any more
                // (`&mut self`: no guard, no writer), and the swap makes
                // this the only free.
                unsafe { memory::free(block, size) };
                if let Some(budgets) = &self.budgets {
                    budgets.release(entries[index].tag, size);
                }
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
