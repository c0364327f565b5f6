//! The `debug` feature's leak tracker: every live pool, heap, handle,
//! streaming and group-value allocation with the source line that made it,
//! and the [`LeakReport`] built from them.
//!
//! # Why `#[track_caller]` locations, not backtraces
//!
//! A call site is the `&'static Location` that `#[track_caller]` hands the
//! allocation path: the compiler resolves it, so recording it costs one
//! pointer, and every allocation can record one (no sampling). It names the
//! user's line exactly when the user calls the allocator directly. A call
//! through a helper of the user's (`fn spawn_enemy(alloc: &SmartAlloc) ->
//! PoolBox<Enemy>`) names the helper's line; put `#[track_caller]` on the
//! helper and the report names its caller instead. A return-address
//! backtrace would see through helpers, but it costs a stack walk per
//! allocation and a symbolizer (a dependency, and debug info) to read.
//!
//! Frame memory is not tracked value by value (a frame allocation is a
//! pointer bump and the whole frame goes at its end), nor are the chunks
//! frames and groups are carved from: the allocator owns those, and a
//! group's values are tracked one by one instead.

use crate::allocators::sync::{Mutex, MutexGuard, lock};
use core::fmt;
use core::panic::Location;
use std::collections::HashMap;

use super::Site;
use super::profiler::Intent;
use crate::AllocationTag;

/// One live allocation.
struct Record {
    size: usize,
    intent: Intent,
    /// The allocating thread's tag index (0 = untagged).
    tag: u32,
    site: Site,
    /// The group a group value belongs to.
    group: Option<u64>,
}

/// The live allocations of one allocator, keyed by address. Only
/// addresses are kept (`ptr.addr()`): the tracker never reads or writes
/// the memory, so it needs no provenance.
#[derive(Default)]
pub(crate) struct LeakTracker {
    live: Mutex<Live>,
}

/// The records, and the map's capacity when it last grew.
#[derive(Default)]
struct Live {
    map: HashMap<usize, Record>,
    /// Kept at least twice the number of records, so that a steady state
    /// of allocations and frees makes no system allocation: a removal
    /// leaves a tombstone, and when tombstones use up the spare room the
    /// map (hashbrown) rehashes in place only while it is at most half
    /// full; otherwise it grows, allocating.
    grown: usize,
}

impl Live {
    fn insert(&mut self, addr: usize, record: Record) {
        if 2 * (self.map.len() + 1) > self.grown {
            self.map.reserve(self.grown.max(32));
            self.grown = self.map.capacity();
        }
        self.map.insert(addr, record);
    }
}

/// Whether allocations of `intent` are tracked one by one (see the module
/// docs: frame and group chunks are not).
fn tracked(intent: Intent) -> bool {
    !matches!(intent, Intent::Frame | Intent::Group)
}

impl LeakTracker {
    fn live(&self) -> MutexGuard<'_, Live> {
        // Every critical section below leaves the map consistent.
        lock(&self.live)
    }

    /// `size` bytes at `addr` handed out for `intent`.
    pub(crate) fn alloc(&self, addr: usize, size: usize, intent: Intent, tag: u32, site: Site) {
        if !tracked(intent) {
            return;
        }
        let record = Record {
            size,
            intent,
            tag,
            site,
            group: None,
        };
        self.live().insert(addr, record);
    }

    /// A value of `size` bytes at `addr` placed in group `group`.
    pub(crate) fn group_value(&self, addr: usize, size: usize, group: u64, site: Site) {
        let record = Record {
            size,
            intent: Intent::Group,
            tag: crate::tag::current_index(),
            site,
            group: Some(group),
        };
        self.live().insert(addr, record);
    }

    /// `size` bytes at `addr`, handed out for `intent`, given back. A free
    /// of an address that is not live is FA203; one whose size or intent
    /// differs from its allocation's is FA901 (an engine reports
    /// inconsistently). Both are reported after the lock is released:
    /// strict mode may panic, and a sink may allocate.
    pub(crate) fn free(&self, addr: usize, size: usize, intent: Intent) {
        if !tracked(intent) {
            return;
        }
        let removed = self.live().map.remove(&addr);
        match removed {
            None => super::report(
                "FA203",
                format_args!(
                    "{size} bytes of {} memory at {addr:#x} freed, but no live allocation \
                     starts there: freed twice, or never allocated by this allocator",
                    intent.name()
                ),
            ),
            Some(record) if record.size != size || record.intent != intent => super::report(
                "FA901",
                format_args!(
                    "{size} bytes of {} memory at {addr:#x} freed, but {} bytes of {} memory \
                     were allocated there",
                    intent.name(),
                    record.size,
                    record.intent.name()
                ),
            ),
            Some(_) => {}
        }
    }

    /// A value moved from `from` to `to`; its record follows it.
    pub(crate) fn relocated(&self, from: usize, to: usize) {
        let mut live = self.live();
        if let Some(record) = live.map.remove(&from) {
            live.insert(to, record);
        }
    }

    /// Group `group` was freed: its values are gone.
    pub(crate) fn group_freed(&self, group: u64) {
        // A scan: group frees are rare, and the debug build pays for it.
        self.live()
            .map
            .retain(|_, record| record.group != Some(group));
    }

    /// The live allocations, grouped by call site.
    pub(crate) fn report(&self) -> LeakReport {
        type Key = (Site, Intent, u32);
        let mut sites: HashMap<Key, (usize, usize)> = HashMap::new();
        for record in self.live().map.values() {
            let key = (record.site, record.intent, record.tag);
            let (count, bytes) = sites.entry(key).or_default();
            *count += 1;
            *bytes += record.size;
        }
        let mut entries: Vec<LeakSite> = sites
            .into_iter()
            .map(|((site, intent, tag), (count, bytes))| LeakSite {
                file: site.map_or("<unknown>", Location::file),
                line: site.map_or(0, Location::line),
                column: site.map_or(0, Location::column),
                intent,
                tag: AllocationTag::from_index(tag),
                count,
                bytes,
            })
            .collect();
        entries.sort_by(|a, b| {
            (b.bytes, b.count)
                .cmp(&(a.bytes, a.count))
                .then_with(|| (a.file, a.line, a.column).cmp(&(b.file, b.line, b.column)))
                .then_with(|| a.intent.name().cmp(b.intent.name()))
                .then_with(|| {
                    a.tag
                        .map(AllocationTag::name)
                        .cmp(&b.tag.map(AllocationTag::name))
                })
        });
        LeakReport { entries }
    }
}

/// What [`SmartAlloc::leak_report`](crate::SmartAlloc::leak_report) found
/// alive: one entry per call site, the largest first. Available with the
/// `debug` feature.
///
/// Pool, heap, handle and streaming allocations and the values placed in
/// groups are listed until they are freed (a box dropped, a handle freed, a
/// group freed, an asset evicted or released). Frame memory is not: it
/// cannot outlive its frame.
///
/// A site is the line that called the allocator, recorded through
/// `#[track_caller]`. A call through a helper function names the helper's
/// line, unless the helper is `#[track_caller]` too.
///
/// # Example
///
/// ```
/// use framealloc::SmartAlloc;
///
/// let alloc = SmartAlloc::with_defaults();
/// let mut enemies = Vec::new();
/// let line = line!() + 2;
/// for hp in 0..3u64 {
///     enemies.push(alloc.pool_box(hp)?);
/// }
/// let report = alloc.leak_report();
/// assert_eq!((report.total_count(), report.total_bytes()), (3, 24));
/// let site = report.entries[0];
/// assert_eq!((site.line, site.count, site.bytes), (line, 3, 24));
/// println!("{report}"); // "3 live allocations, 24 bytes\n  3 × pool, 24 B at src/…"
/// drop(enemies);
/// assert!(alloc.leak_report().is_empty());
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeakReport {
    /// One entry per (call site, intent, tag), by bytes descending.
    pub entries: Vec<LeakSite>,
}

impl LeakReport {
    /// How many allocations are alive.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let kept = (alloc.pool_box(1u32)?, alloc.heap_box([0u8; 8192])?);
    /// assert_eq!(alloc.leak_report().total_count(), 2);
    /// # drop(kept);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn total_count(&self) -> usize {
        self.entries.iter().map(|site| site.count).sum()
    }

    /// How many bytes the live allocations hold (a pool value counts its
    /// slot's size class: 24 bytes for a 20-byte value).
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// let kept = (alloc.pool_box([0u8; 20])?, alloc.heap_box([0u8; 8192])?);
    /// assert_eq!(alloc.leak_report().total_bytes(), 24 + 8192);
    /// # drop(kept);
    /// # Ok::<(), framealloc::AllocError>(())
    /// ```
    pub fn total_bytes(&self) -> usize {
        self.entries.iter().map(|site| site.bytes).sum()
    }

    /// Whether nothing is alive.
    ///
    /// ```
    /// let alloc = framealloc::SmartAlloc::with_defaults();
    /// assert!(alloc.leak_report().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A table, one line per site:
///
/// ```text
/// 3 live allocations, 192 bytes
///   2 × pool, 128 B at src/main.rs:12:5
///   1 × heap, 64 B at src/main.rs:14:9 (tag audio)
/// ```
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// assert_eq!(alloc.leak_report().to_string(), "no live allocations\n");
/// let kept = alloc.heap_box(0u64)?; let line = line!();
/// let expected = format!("1 live allocation, 8 bytes\n  1 × heap, 8 B at {}:{line}:18\n", file!());
/// assert_eq!(alloc.leak_report().to_string(), expected);
/// # drop(kept);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, bytes) = (self.total_count(), self.total_bytes());
        match count {
            0 => return writeln!(f, "no live allocations"),
            1 => writeln!(f, "1 live allocation, {bytes} bytes")?,
            _ => writeln!(f, "{count} live allocations, {bytes} bytes")?,
        }
        for site in &self.entries {
            write!(
                f,
                "  {} × {}, {} B at ",
                site.count,
                site.intent.name(),
                site.bytes
            )?;
            if site.line == 0 {
                write!(f, "an unknown site")?;
            } else {
                write!(f, "{}:{}:{}", site.file, site.line, site.column)?;
            }
            match site.tag {
                Some(tag) => writeln!(f, " (tag {tag})")?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}

/// The live allocations made at one call site, of one intent and tag: an
/// entry of a [`LeakReport`]. Available with the `debug` feature.
///
/// ```
/// let alloc = framealloc::SmartAlloc::with_defaults();
/// let kept: Vec<_> = (0..2u16).map(|i| alloc.pool_box(i)).collect::<Result<_, _>>()?;
/// let site = alloc.leak_report().entries[0];
/// assert_eq!((site.file, site.line), (file!(), line!() - 2));
/// assert_eq!((site.intent, site.count, site.bytes), (framealloc::diagnostics::Intent::Pool, 2, 16));
/// # drop(kept);
/// # Ok::<(), framealloc::AllocError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeakSite {
    /// The source file of the call (`"<unknown>"` if an engine had none).
    pub file: &'static str,
    /// Its line, 1-based (0 if unknown).
    pub line: u32,
    /// Its column, 1-based (0 if unknown).
    pub column: u32,
    /// The intent the memory belongs to.
    pub intent: Intent,
    /// The allocating thread's tag, if one was entered.
    pub tag: Option<AllocationTag>,
    /// How many allocations from here are alive.
    pub count: usize,
    /// The bytes they hold.
    pub bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::super::{Capture, Observer, site};
    use super::*;

    #[test]
    fn a_second_free_of_one_address_is_fa203() {
        let observer = Observer::detached();
        let value = 0u64;
        let ptr = core::ptr::from_ref(&value).cast::<u8>();
        observer.alloc(ptr, 8, Intent::Pool, 0, site());
        let capture = Capture::start();
        observer.free(ptr, 8, Intent::Pool);
        assert!(capture.finish().is_empty());
        let capture = Capture::start();
        observer.free(ptr, 8, Intent::Pool);
        let seen = capture.finish();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].code, "FA203");
        let note = seen[0].note.as_deref().unwrap();
        let expected = format!("8 bytes of pool memory at {:#x} freed", ptr.addr());
        assert!(note.starts_with(&expected), "{note}");
    }

    #[test]
    fn a_free_unlike_its_allocation_is_fa901() {
        let observer = Observer::detached();
        let value = 0u64;
        let ptr = core::ptr::from_ref(&value).cast::<u8>();
        observer.alloc(ptr, 16, Intent::Heap, 0, site());
        let capture = Capture::start();
        observer.free(ptr, 8, Intent::Heap);
        let seen = capture.finish();
        assert_eq!(seen.iter().map(|d| d.code).collect::<Vec<_>>(), ["FA901"]);
        // The record went all the same: a second free is FA203.
        let capture = Capture::start();
        observer.free(ptr, 16, Intent::Heap);
        assert_eq!(capture.finish()[0].code, "FA203");
    }

    #[test]
    fn relocation_moves_the_record_and_group_frees_drop_theirs() {
        let tracker = LeakTracker::default();
        let line = line!() + 1;
        tracker.alloc(0x1000, 24, Intent::Handle, 0, site());
        tracker.relocated(0x1000, 0x2000);
        tracker.group_value(0x3000, 8, 7, site());
        tracker.group_value(0x3008, 8, 7, site());
        tracker.group_value(0x4000, 4, 9, site());
        let report = tracker.report();
        let summary: Vec<_> = report
            .entries
            .iter()
            .map(|s| (s.intent, s.line, s.count, s.bytes))
            .collect();
        assert_eq!(
            summary,
            [
                (Intent::Handle, line, 1, 24),
                (Intent::Group, line + 2, 1, 8),
                (Intent::Group, line + 3, 1, 8),
                (Intent::Group, line + 4, 1, 4),
            ]
        );
        tracker.group_freed(7);
        let capture = Capture::start();
        tracker.free(0x1000, 24, Intent::Handle); // moved away: not live
        tracker.free(0x2000, 24, Intent::Handle);
        let codes: Vec<_> = capture.finish().iter().map(|d| d.code).collect();
        assert_eq!(codes, ["FA203"]);
        let left: Vec<_> = tracker.report().entries.iter().map(|s| s.bytes).collect();
        assert_eq!(left, [4]);
    }

    #[test]
    fn frame_and_group_chunks_are_not_tracked() {
        let tracker = LeakTracker::default();
        tracker.alloc(0x1000, 4096, Intent::Frame, 0, site());
        tracker.alloc(0x9000, 4096, Intent::Group, 0, site());
        assert!(tracker.report().is_empty());
        let capture = Capture::start();
        tracker.free(0x1000, 4096, Intent::Frame);
        tracker.free(0x9000, 4096, Intent::Group);
        assert!(capture.finish().is_empty());
    }
}
