//! The pool and heap intents: small objects in thread-local size classes,
//! large ones straight from the global allocator, both counted per thread
//! and freed from any thread.
//!
//! This file is the intent's safe face: the box types, and what the
//! allocator handle asks of the intent (allocation entry points, figures,
//! trimming). The rest:
//!
//! | file | holds |
//! |---|---|
//! | `boxes` | `PoolBox` and `HeapBox`, and their constructors |
//! | `alloc` | the allocation paths (fast paths inlined, the cold path) |
//! | `free` | the free paths: owner, remote (one compare-and-swap), after the close |
//! | `raw` | what a box holds, and the layouts of blocks with headers |
//! | `size_class` | slot sizes, and which class serves a layout |
//! | `page` | 64 KiB pages of equal slots, and their headers |
//! | `remote` | a page's remote-free word: a counted stack with a close bit (loom model) |
//! | `free_list` | intrusive free lists |
//! | `heap` | `LocalHeap`: one thread's pages and counters for one allocator |
//! | `owned` | `OwnedHeap`: what only a heap's owner may do |
//! | `lifecycle` | `PoolState`: all pages and heaps of one allocator, the heap state table, and when memory goes back |
//! | `loom_model` | loom models of the close racing frees (`--cfg loom` tests only) |
//! | `thread_heap` | which heap the calling thread uses: its cache, token and leases |
//!
//! `unsafe` appears only in the files that opt in at their top.

mod alloc;
mod boxes;
mod free;
mod free_list;
mod heap;
mod lifecycle;
#[cfg(all(test, loom))]
mod loom_model;
mod owned;
mod page;
mod raw;
mod remote;
mod size_class;
mod slices;
mod thread_heap;
mod value;

use std::sync::Arc;

pub use boxes::{HeapBox, PoolBox};
pub use value::BoxValue;

pub(crate) use alloc::Pools;
pub(crate) use boxes::{heap_box_uninit, heap_box_with, pool_box_uninit, pool_box_with};
pub(crate) use heap::HeapFigures;
pub(crate) use lifecycle::PoolState;
pub(crate) use size_class::CLASS_SIZES;
pub(crate) use slices::{
    heap_slice_fill_with, heap_slice_from_iter, heap_slice_from_vec, heap_slice_uninit,
    heap_zeroed, pool_slice_fill_with, pool_slice_from_iter, pool_slice_from_vec,
    pool_slice_uninit, pool_zeroed,
};

use thread_heap::with_current_heap;

/// One thread heap's figures, for the allocator's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeapReport {
    /// Whether a live thread owns the heap.
    pub(crate) owned: bool,
    /// Its exact allocation and free counts, and live bytes.
    pub(crate) figures: HeapFigures,
    /// Highest pool bytes live seen (sampled at refills).
    pub(crate) pool_peak_bytes: u64,
    /// Highest heap-intent bytes live.
    pub(crate) heap_peak_bytes: u64,
    /// Pool pages the heap holds.
    pub(crate) pages: u64,
}

impl PoolState {
    /// Every heap's report, in one consistent snapshot.
    pub(crate) fn reports(&self) -> Vec<HeapReport> {
        let mut reports = Vec::new();
        self.for_each_heap(|heap, figures| reports.push(heap.report(figures)));
        reports
    }

    /// The calling thread's heap's report (adopting a heap on first use).
    pub(crate) fn current_thread_report(this: &Arc<PoolState>) -> HeapReport {
        with_current_heap(this, |heap| heap.report(this.figures_of(&heap)))
    }

    /// Gives the calling thread's empty pages back to the state's free list.
    pub(crate) fn trim_current_thread(this: &Arc<PoolState>) {
        with_current_heap(this, |heap| heap.release_empty_pages());
    }

    /// Takes back, now, the slots other threads freed from the calling
    /// thread's heap.
    pub(crate) fn collect_current_thread(this: &Arc<PoolState>) {
        with_current_heap(this, |heap| heap.collect());
    }
}
