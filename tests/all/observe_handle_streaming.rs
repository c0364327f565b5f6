//! `ProfilerHooks` on the handle and streaming intents: the exact events
//! of each allocation, free, relocation and eviction; the relocations of a
//! defragmentation against its report and against where the handles now
//! resolve; callbacks that re-enter the allocator or panic; results
//! unchanged by hooks; and, with the `debug` feature, freed handle memory
//! poisoned. The handle tests are here, the streaming ones (and those
//! spanning both intents) in `streaming.rs`.

use std::sync::{Arc, Mutex};

use framealloc::diagnostics::{Capture, Intent, MemoryEvent, ProfilerHooks};
use framealloc::{
    AllocConfig, AllocationTag, Defragmentation, Handle, HandleAllocator, SmartAlloc, StreamId,
    StreamingAllocator, WeakAlloc,
};

mod streaming;

/// An event with its addresses as numbers, so it can be stored and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Alloc {
        addr: usize,
        size: usize,
        tag: Option<AllocationTag>,
        intent: Intent,
    },
    Free {
        addr: usize,
        size: usize,
        intent: Intent,
    },
    Relocated {
        from: usize,
        to: usize,
        size: usize,
    },
    /// An `on_evict` listener ran (recorded by the test itself, to check
    /// the order against the observer's events).
    Listener {
        size: usize,
    },
    Other,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn seen(event: &MemoryEvent) -> Seen {
    match *event {
        MemoryEvent::Alloc {
            ptr,
            size,
            tag,
            intent,
            ..
        } => Seen::Alloc {
            addr: ptr.addr(),
            size,
            tag,
            intent,
        },
        MemoryEvent::Free {
            ptr, size, intent, ..
        } => Seen::Free {
            addr: ptr.addr(),
            size,
            intent,
        },
        MemoryEvent::Relocated { from, to, size, .. } => Seen::Relocated {
            from: from.addr(),
            to: to.addr(),
            size,
        },
        _ => Seen::Other,
    }
}

/// Hooks whose callback records every event in the returned log.
fn recording() -> (ProfilerHooks, Log) {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    let sink = log.clone();
    hooks.set_callback(move |event| sink.lock().unwrap().push(seen(event)));
    (hooks, log)
}

fn take(log: &Log) -> Vec<Seen> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn handle_alloc(addr: usize, size: usize) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag: None,
        intent: Intent::Handle,
    }
}

fn handle_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Handle,
    }
}

fn stream_alloc(addr: usize, size: usize) -> Seen {
    Seen::Alloc {
        addr,
        size,
        tag: None,
        intent: Intent::Streaming,
    }
}

fn stream_free(addr: usize, size: usize) -> Seen {
    Seen::Free {
        addr,
        size,
        intent: Intent::Streaming,
    }
}

fn address<T>(handles: &HandleAllocator, handle: Handle<T>) -> usize {
    handles.resolve(handle).unwrap().as_ptr().addr()
}

/// The address of a ready asset's bytes.
fn asset_address(streaming: &StreamingAllocator, id: StreamId) -> usize {
    streaming.access(id).unwrap().as_ptr().addr()
}

/// Where the Alloc event in `events` put its memory.
fn alloc_addr(event: Seen) -> usize {
    match event {
        Seen::Alloc { addr, .. } => addr,
        other => panic!("not an Alloc: {other:?}"),
    }
}

#[test]
fn handle_values_report_their_alloc_and_free() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([1u64; 4]).unwrap();
    let b = handles.alloc(7u32).unwrap();
    let unit = handles.alloc(()).unwrap(); // zero-sized: takes no memory, not reported
    let (addr_a, addr_b) = (address(&handles, a), address(&handles, b));
    assert_eq!(addr_b, addr_a + 32);
    assert_eq!(
        take(&log),
        [handle_alloc(addr_a, 32), handle_alloc(addr_b, 4)]
    );
    assert_eq!(handles.free(a), Some([1; 4]));
    assert_eq!(take(&log), [handle_free(addr_a, 32)]);
    // A stale free reports FA401 and no memory event.
    let capture = Capture::start();
    assert_eq!(handles.free(a), None);
    assert_eq!(capture.finish()[0].code, "FA401");
    assert_eq!(handles.free(unit), Some(()));
    assert_eq!(take(&log), []);
    // The values still alive when the allocator drops are freed then.
    let c = handles.alloc(String::from("sword")).unwrap();
    let addr_c = address(&handles, c);
    let size_c = size_of::<String>();
    drop(handles);
    assert_eq!(
        take(&log),
        [
            handle_alloc(addr_c, size_c),
            handle_free(addr_b, 4),
            handle_free(addr_c, size_c)
        ]
    );
}

#[test]
fn handle_events_carry_the_allocators_tag() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let meshes = AllocationTag::new("observe-handle-meshes");
    let mut handles = alloc.with_tag(meshes, || alloc.handle_allocator());
    let h = handles.alloc([0u8; 48]).unwrap();
    let addr = address(&handles, h);
    assert_eq!(
        take(&log),
        [Seen::Alloc {
            addr,
            size: 48,
            tag: Some(meshes),
            intent: Intent::Handle
        }]
    );
}

/// The relocations of `report` as the events they must have made, given
/// each moved value's address before (`before`) and where its handle
/// resolves now.
fn expected_relocations(
    report: &Defragmentation,
    all: &[Handle<[u64; 8]>],
    before: &[usize],
    handles: &HandleAllocator,
) -> Vec<Seen> {
    report
        .relocations
        .iter()
        .map(|relocation| {
            let i = all
                .iter()
                .position(|h| h.erase() == relocation.handle)
                .unwrap();
            Seen::Relocated {
                from: before[i],
                to: address(handles, all[i]),
                size: relocation.size,
            }
        })
        .collect()
}

#[test]
fn a_defragmentation_reports_one_relocation_per_value_moved() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    let all: Vec<Handle<[u64; 8]>> = (0..10u64).map(|i| handles.alloc([i; 8]).unwrap()).collect();
    // Holes at 0, 3 and 4; 6 is pinned. 1-2 slide together (one memmove,
    // two events), 5 slides alone; 7-9 already sit right above the pin.
    for i in [0, 3, 4] {
        handles.free(all[i]);
    }
    handles.pin(all[6]).unwrap();
    let live: Vec<usize> = (0..10).filter(|i| ![0, 3, 4].contains(i)).collect();
    let before: Vec<usize> = (0..10)
        .map(|i| {
            if live.contains(&i) {
                address(&handles, all[i])
            } else {
                0
            }
        })
        .collect();
    take(&log);
    let report = handles.defragment();
    assert_eq!(report.relocations.len(), 3); // 1, 2, 5: 7-9 stay above the pin
    assert_eq!(report.bytes_moved, 3 * 64);
    let events = take(&log);
    assert_eq!(
        events,
        expected_relocations(&report, &all, &before, &handles)
    );
    // Spelled out: 1 and 2 one slot down, 5 two slots down.
    let base = before[1] - 64;
    assert_eq!(
        events,
        [
            Seen::Relocated {
                from: base + 64,
                to: base,
                size: 64
            },
            Seen::Relocated {
                from: base + 128,
                to: base + 64,
                size: 64
            },
            Seen::Relocated {
                from: base + 5 * 64,
                to: base + 128,
                size: 64
            },
        ]
    );
    for &i in &live {
        assert_eq!(handles.get(all[i]), Some(&[i as u64; 8]));
    }
    // A second defragmentation has nothing to move: no event.
    assert!(handles.defragment().relocations.is_empty());
    assert_eq!(take(&log), []);
}

#[test]
fn defragmentation_steps_and_moves_across_chunks_report_every_relocation() {
    let (hooks, log) = recording();
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    let mut handles = alloc.handle_allocator();
    // 16 KiB values: four fill the first 64 KiB chunk, four the second.
    let all: Vec<Handle<[u8; 16384]>> = (0..8u8)
        .map(|i| handles.alloc([i; 16384]).unwrap())
        .collect();
    assert_eq!(handles.stats().chunks, 2);
    handles.free(all[1]);
    handles.free(all[2]);
    let live = [0usize, 3, 4, 5, 6, 7];
    let before: Vec<usize> = (0..8)
        .map(|i| {
            if live.contains(&i) {
                address(&handles, all[i])
            } else {
                0
            }
        })
        .collect();
    take(&log);
    // A step of 32 KiB moves two values: 3 down within the first chunk,
    // then 4 from the second chunk into the first.
    let step = handles.defragment_step(32 << 10);
    assert!(!step.complete);
    assert_eq!(step.relocations.len(), 2);
    let first = take(&log);
    let to: Vec<usize> = [3, 4].map(|i| address(&handles, all[i])).to_vec();
    assert_eq!(
        first,
        [
            Seen::Relocated {
                from: before[3],
                to: to[0],
                size: 16384
            },
            Seen::Relocated {
                from: before[4],
                to: to[1],
                size: 16384
            },
        ]
    );
    assert_eq!(to[0], before[0] + 16384); // where 1 was
    assert_eq!(to[1], before[0] + 2 * 16384); // where 2 was
    let mut moved_so_far = before.clone();
    moved_so_far[3] = to[0];
    moved_so_far[4] = to[1];
    let rest = handles.defragment();
    assert!(rest.complete);
    let events = take(&log);
    assert_eq!(events.len(), rest.relocations.len());
    assert_eq!(
        events,
        rest.relocations
            .iter()
            .map(|relocation| {
                let i = all
                    .iter()
                    .position(|h| h.erase() == relocation.handle)
                    .unwrap();
                Seen::Relocated {
                    from: moved_so_far[i],
                    to: address(&handles, all[i]),
                    size: relocation.size,
                }
            })
            .collect::<Vec<_>>()
    );
    // 5 joined the first chunk; 6 and 7 slid to the second one's start.
    assert_eq!(rest.relocations.len(), 3);
    assert_eq!(address(&handles, all[5]), before[0] + 3 * 16384);
    for i in live {
        assert_eq!(handles.get(all[i]).unwrap()[16383], i as u8);
    }
}

/// A callback that allocates handle values (in another handle allocator of
/// the same `SmartAlloc`) and pool memory: its own events are dropped.
#[test]
fn a_handle_callback_may_allocate_from_the_same_allocator() {
    let hooks = ProfilerHooks::new();
    let log = Log::default();
    let slot: Arc<Mutex<Option<WeakAlloc>>> = Arc::default();
    let made = Arc::new(Mutex::new(0usize));
    {
        let (log, slot, made) = (log.clone(), slot.clone(), made.clone());
        hooks.set_callback(move |event| {
            log.lock().unwrap().push(seen(event));
            let Some(alloc) = slot.lock().unwrap().as_ref().and_then(WeakAlloc::upgrade) else {
                return;
            };
            let mut scratch = alloc.handle_allocator();
            let h = scratch.alloc([9u64; 16]).unwrap();
            let boxed = alloc.pool_box(5u32).unwrap();
            assert_eq!((scratch.get(h), *boxed), (Some(&[9; 16]), 5));
            *made.lock().unwrap() += 2;
        });
    }
    let alloc = SmartAlloc::new(AllocConfig::default().with_profiler_hooks(hooks));
    *slot.lock().unwrap() = Some(alloc.downgrade());
    let mut handles = alloc.handle_allocator();
    let a = handles.alloc([1u32; 3]).unwrap();
    let addr = address(&handles, a);
    handles.free(a);
    assert_eq!(take(&log), [handle_alloc(addr, 12), handle_free(addr, 12)]);
    assert_eq!(*made.lock().unwrap(), 4); // each callback made both
}

/// With the `debug` feature, a handle value's bytes are poisoned when it
/// is freed, and a defragmentation poisons the stale copies above each
/// chunk's new top. Both stay inside the live chunk, so reading them
/// through a kept pointer is allowed (it is what the feature is for).
#[cfg(feature = "debug")]
#[test]
#[expect(unsafe_code, reason = "the poisoned bytes are read through pointers kept from `resolve`")]
fn debug_poisons_freed_and_vacated_handle_memory() {
    use framealloc::diagnostics::FREED_BYTE;

    let mut handles = HandleAllocator::new();
    let a = handles.alloc([0x11u8; 64]).unwrap();
    let b = handles.alloc([0x22u8; 64]).unwrap();
    let c = handles.alloc([0x33u8; 64]).unwrap();
    let (pa, pb, pc) = (
        handles.resolve(a).unwrap().cast::<u8>(),
        handles.resolve(b).unwrap().cast::<u8>(),
        handles.resolve(c).unwrap().cast::<u8>(),
    );
    let read = |p: core::ptr::NonNull<u8>| -> Vec<u8> {
        // SAFETY: `p` points into the allocator's first chunk, which is
        // alive and initialised (values or poison); no reference into the
        // heap is alive.
        unsafe { core::slice::from_raw_parts(p.as_ptr(), 64) }.to_vec()
    };
    assert_eq!(handles.free(a), Some([0x11; 64]));
    assert_eq!(read(pa), [FREED_BYTE; 64]);
    assert_eq!(read(pb), [0x22; 64]);
    // b and c slide down by 64: c's old place is above the new top.
    handles.defragment();
    assert_eq!(read(pa), [0x22; 64]);
    assert_eq!(read(pb), [0x33; 64]);
    assert_eq!(read(pc), [FREED_BYTE; 64]);
    assert_eq!(handles.get(c), Some(&[0x33; 64]));
    // Freeing the newest value moves the top back; its bytes are poisoned
    // before the next value reuses them.
    handles.free(c);
    assert_eq!(read(pb), [FREED_BYTE; 64]);
    let d = handles.alloc([0x44u8; 64]).unwrap();
    assert_eq!(handles.resolve(d).unwrap().cast::<u8>(), pb);
    assert_eq!(read(pb), [0x44; 64]);
}
