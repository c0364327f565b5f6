//! Per-thread leases: which arena, or which heap, the calling thread holds
//! of each allocator. One mechanism for both intents.
//!
//! A thread's first frame (or pool allocation) on an allocator *adopts* an
//! item from the allocator's registry (the lessor) and records a lease: the
//! lessor's never-reused id, a `Weak` to it, and the item. Later lookups
//! find the lease by id. When the thread exits, its leases are given back;
//! a lease whose lessor is gone, or done (closed), is given back at the
//! thread's next adoption, so a thread that used many short-lived
//! allocators keeps neither their memory nor a long list.
//!
//! Each intent keeps its own thread-local table and, in front of it, its
//! own one-entry cache for the fast path; the cache stores the same
//! never-reused identities, never bare addresses (a freed item's address
//! may be handed out again).

use core::cell::RefCell;
use core::ptr::NonNull;
use std::sync::{Arc, Weak};

/// What leases items to threads: an allocator's arena registry or pool
/// state.
pub(crate) trait Lessor: Send + Sync + Sized {
    /// What a thread leases.
    type Item;

    /// Unique for the life of the process.
    fn id(&self) -> u64;

    /// Gives the calling thread (`token`) an item no other thread uses,
    /// until it is given up.
    fn adopt(this: &Arc<Self>, token: u64) -> NonNull<Self::Item>;

    /// The calling thread (`token`) is done with `item`, which it adopted
    /// from this lessor.
    fn give_up(&self, item: NonNull<Self::Item>, token: u64);

    /// Whether leases of this lessor should be given up at the next
    /// adoption although the lessor is alive (its allocator closed).
    fn is_done(&self) -> bool {
        false
    }

    /// Empties the calling thread's fast-path cache of this kind of item.
    /// Called before the thread gives its leases back: once given up, an
    /// item may go to another thread, and a cache that still named it
    /// would let this thread use it too.
    fn clear_thread_cache();
}

struct Lease<L: Lessor> {
    id: u64,
    lessor: Weak<L>,
    item: NonNull<L::Item>,
}

impl<L: Lessor> Lease<L> {
    /// Gives the lease's item back, if its lessor is still alive.
    fn give_up(&self, token: u64) {
        if let Some(lessor) = self.lessor.upgrade() {
            lessor.give_up(self.item, token);
        }
    }

    fn is_stale(&self) -> bool {
        self.lessor.upgrade().is_none_or(|lessor| lessor.is_done())
    }
}

/// One thread's leases of one kind. Lives in a `thread_local!`; given back
/// when the thread exits.
pub(crate) struct Leases<L: Lessor> {
    list: RefCell<Vec<Lease<L>>>,
    /// The thread's token, once it has leased (0 before).
    token: core::cell::Cell<u64>,
}

impl<L: Lessor> Leases<L> {
    /// No lease yet.
    pub(crate) const fn new() -> Leases<L> {
        Leases {
            list: RefCell::new(Vec::new()),
            token: core::cell::Cell::new(0),
        }
    }

    /// The calling thread's item from `lessor`, adopting one on first use
    /// (with `token`, the calling thread's). Before adopting, leases of
    /// lessors that are gone or done are given back.
    pub(crate) fn get_or_adopt(&self, lessor: &Arc<L>, token: u64) -> NonNull<L::Item> {
        loop {
            let stale = {
                let mut list = self.list.borrow_mut();
                if let Some(lease) = list.iter().find(|lease| lease.id == lessor.id()) {
                    return lease.item;
                }
                if !list.iter().any(Lease::is_stale) {
                    let item = L::adopt(lessor, token);
                    list.push(Lease {
                        id: lessor.id(),
                        lessor: Arc::downgrade(lessor),
                        item,
                    });
                    self.token.set(token);
                    return item;
                }
                let (stale, live): (Vec<_>, Vec<_>) = core::mem::take(&mut *list)
                    .into_iter()
                    .partition(Lease::is_stale);
                *list = live;
                stale
            };
            // Given up outside the borrow: giving up takes locks and may
            // run listeners that use this thread's leases.
            for lease in stale {
                lease.give_up(token);
            }
        }
    }

    /// Calls `visit` with each leased item whose lessor is alive (holding a
    /// strong count across the call).
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&L, NonNull<L::Item>)) {
        for lease in self.list.borrow().iter() {
            if let Some(lessor) = lease.lessor.upgrade() {
                visit(&lessor, lease.item);
            }
        }
    }
}

impl<L: Lessor> Drop for Leases<L> {
    fn drop(&mut self) {
        L::clear_thread_cache();
        let token = self.token.get();
        for lease in self.list.get_mut().drain(..) {
            lease.give_up(token);
        }
    }
}
