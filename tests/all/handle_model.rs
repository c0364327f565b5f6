//! Model-based property test of the handles intent: random sequences of
//! allocations (five types: sizes 1 to 2,800 bytes, alignments 1 to 64, one
//! zero-sized, some with `Drop`), frees, pins, unpins, full and budgeted
//! defragmentations, and lookups of stale and foreign handles, checked
//! after every step against a plain model.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use framealloc::diagnostics::Capture;
use framealloc::{Handle, HandleAllocator};
use proptest::prelude::*;

/// Counts its drops.
struct Tracked {
    text: String,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(PartialEq, Debug)]
#[repr(align(64))]
struct Aligned([u32; 3]);

thread_local! {
    static UNIT_DROPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A zero-sized value with a destructor (it counts in a thread-local: the
/// model drops everything on its own thread).
struct Unit;

impl Drop for Unit {
    fn drop(&mut self) {
        UNIT_DROPS.set(UNIT_DROPS.get() + 1);
    }
}

/// Drops counted so far: `Tracked`s and `Unit`s.
fn dropped(drops: &AtomicUsize) -> usize {
    drops.load(Ordering::Relaxed) + UNIT_DROPS.get()
}

enum Held {
    Small(Handle<u8>, u8),
    Triple(Handle<[u64; 3]>, u64),
    Named(Handle<Tracked>, String),
    Aligned(Handle<Aligned>, u32),
    Big(Handle<[u32; 700]>, u32),
    Unit(Handle<Unit>),
}

impl Held {
    fn check(&self, handles: &HandleAllocator) {
        match self {
            Held::Small(h, v) => assert_eq!(handles.get(*h), Some(v)),
            Held::Triple(h, v) => assert_eq!(handles.get(*h), Some(&[*v; 3])),
            Held::Named(h, text) => assert_eq!(&handles.get(*h).unwrap().text, text),
            Held::Aligned(h, v) => {
                let value = handles.get(*h).unwrap();
                assert_eq!(value, &Aligned([*v; 3]));
                assert_eq!((value as *const Aligned).addr() % 64, 0);
            }
            Held::Big(h, v) => assert!(handles.get(*h).unwrap().iter().all(|x| x == v)),
            Held::Unit(h) => assert!(handles.get(*h).is_some()),
        }
    }

    fn size_and_align(&self) -> (usize, usize) {
        match self {
            Held::Small(..) => (1, 1),
            Held::Triple(..) => (24, 8),
            Held::Named(..) => (size_of::<Tracked>(), align_of::<Tracked>()),
            Held::Aligned(..) => (64, 64),
            Held::Big(..) => (2800, 4),
            Held::Unit(..) => (0, 1),
        }
    }

    /// Frees the value; returns whether it was a `Tracked` or `Unit` (a
    /// counted drop).
    fn free(&self, handles: &mut HandleAllocator) -> bool {
        match self {
            Held::Small(h, v) => assert_eq!(handles.free(*h), Some(*v)),
            Held::Triple(h, v) => assert_eq!(handles.free(*h), Some([*v; 3])),
            Held::Named(h, text) => {
                assert_eq!(&handles.free(*h).unwrap().text, text);
                return true;
            }
            Held::Aligned(h, v) => assert_eq!(handles.free(*h), Some(Aligned([*v; 3]))),
            Held::Big(h, v) => assert_eq!(handles.free(*h).map(|b| b[0]), Some(*v)),
            Held::Unit(h) => {
                assert!(handles.free(*h).is_some());
                return true;
            }
        }
        false
    }

    /// Whether a stale or foreign copy of this handle resolves (it must not).
    fn resolves(&self, handles: &HandleAllocator) -> bool {
        match self {
            Held::Small(h, _) => handles.get(*h).is_some(),
            Held::Triple(h, _) => handles.get(*h).is_some(),
            Held::Named(h, _) => handles.get(*h).is_some(),
            Held::Aligned(h, _) => handles.get(*h).is_some(),
            Held::Big(h, _) => handles.get(*h).is_some(),
            Held::Unit(h) => handles.get(*h).is_some(),
        }
    }

    fn address(&self, handles: &HandleAllocator) -> usize {
        match self {
            Held::Small(h, _) => handles.resolve(*h).unwrap().addr().get(),
            Held::Triple(h, _) => handles.resolve(*h).unwrap().addr().get(),
            Held::Named(h, _) => handles.resolve(*h).unwrap().addr().get(),
            Held::Aligned(h, _) => handles.resolve(*h).unwrap().addr().get(),
            Held::Big(h, _) => handles.resolve(*h).unwrap().addr().get(),
            Held::Unit(h) => handles.resolve(*h).unwrap().addr().get(),
        }
    }

    fn pin(&self, handles: &mut HandleAllocator, up: bool) -> Result<u32, framealloc::AllocError> {
        macro_rules! pin {
            ($h:expr) => {
                if up {
                    handles.pin(*$h)
                } else {
                    handles.unpin(*$h)
                }
            };
        }
        match self {
            Held::Small(h, _) => pin!(h),
            Held::Triple(h, _) => pin!(h),
            Held::Named(h, _) => pin!(h),
            Held::Aligned(h, _) => pin!(h),
            Held::Big(h, _) => pin!(h),
            Held::Unit(h) => pin!(h),
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Alloc(u8, u32),
    Free(usize),
    Pin(usize),
    Unpin(usize),
    Defragment,
    BudgetedDefragment(usize),
    Stale(usize),
    Foreign,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..6u8, any::<u32>()).prop_map(|(kind, seed)| Step::Alloc(kind, seed)),
        5 => any::<usize>().prop_map(Step::Free),
        1 => any::<usize>().prop_map(Step::Pin),
        1 => any::<usize>().prop_map(Step::Unpin),
        1 => Just(Step::Defragment),
        1 => (0..4000usize).prop_map(Step::BudgetedDefragment),
        1 => any::<usize>().prop_map(Step::Stale),
        1 => Just(Step::Foreign),
    ]
}

struct Entry {
    held: Held,
    pins: u32,
    /// The address recorded at the first pin.
    pinned_at: Option<usize>,
}

fn run(steps: Vec<Step>) {
    UNIT_DROPS.set(0);
    let mut handles = HandleAllocator::new();
    let mut foreign = HandleAllocator::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut counted, mut expected_fa401) = (0usize, 0usize);
    let mut live: Vec<Entry> = Vec::new();
    let mut stale: Vec<Held> = Vec::new();
    let capture = Capture::start();
    for step in steps {
        match step {
            Step::Alloc(kind, seed) => {
                let held = match kind {
                    0 => Held::Small(handles.alloc(seed as u8).unwrap(), seed as u8),
                    1 => Held::Triple(
                        handles.alloc([u64::from(seed); 3]).unwrap(),
                        u64::from(seed),
                    ),
                    2 => {
                        let text = format!("value {seed}");
                        let value = Tracked {
                            text: text.clone(),
                            drops: drops.clone(),
                        };
                        Held::Named(handles.alloc(value).unwrap(), text)
                    }
                    3 => Held::Aligned(handles.alloc(Aligned([seed; 3])).unwrap(), seed),
                    4 => Held::Big(handles.alloc([seed; 700]).unwrap(), seed),
                    _ => Held::Unit(handles.alloc(Unit).unwrap()),
                };
                live.push(Entry {
                    held,
                    pins: 0,
                    pinned_at: None,
                });
            }
            Step::Free(i) if !live.is_empty() => {
                let entry = live.swap_remove(i % live.len());
                if entry.held.free(&mut handles) {
                    counted += 1;
                }
                stale.push(entry.held);
            }
            Step::Pin(i) if !live.is_empty() => {
                let index = i % live.len();
                let entry = &mut live[index];
                let address = entry.held.address(&handles);
                entry.pins += 1;
                assert_eq!(entry.held.pin(&mut handles, true).unwrap(), entry.pins);
                entry.pinned_at.get_or_insert(address);
            }
            Step::Unpin(i) if !live.is_empty() => {
                let index = i % live.len();
                let entry = &mut live[index];
                let result = entry.held.pin(&mut handles, false);
                if entry.pins == 0 {
                    assert_eq!(result.unwrap_err().code(), "FA403");
                } else {
                    entry.pins -= 1;
                    assert_eq!(result.unwrap(), entry.pins);
                    if entry.pins == 0 {
                        entry.pinned_at = None;
                    }
                }
            }
            Step::Defragment | Step::BudgetedDefragment(_) => {
                let budget = match step {
                    Step::BudgetedDefragment(max) => max,
                    _ => usize::MAX,
                };
                let stats = handles.stats();
                let report = handles.defragment_step(budget);
                assert!(report.bytes_moved <= budget);
                assert_eq!(
                    report.relocations.iter().map(|r| r.size).sum::<usize>(),
                    report.bytes_moved
                );
                assert_eq!(report.bytes_in_use_before, stats.bytes_in_use);
                assert!(report.bytes_in_use_after <= report.bytes_in_use_before);
                assert!(report.reserved_after <= report.reserved_before);
                let after = handles.stats();
                assert_eq!(after.bytes_in_use, report.bytes_in_use_after);
                assert_eq!(after.live_bytes, stats.live_bytes);
                let pinned = live.iter().any(|entry| entry.pins > 0);
                if budget == usize::MAX {
                    assert!(report.complete);
                }
                if report.complete && !pinned {
                    // Nothing but the live bytes and alignment padding.
                    let slack: usize = live
                        .iter()
                        .map(|entry| entry.held.size_and_align().1 - 1)
                        .sum();
                    assert!(
                        after.bytes_in_use <= after.live_bytes + slack,
                        "{after:?} with {slack} bytes of possible padding"
                    );
                }
                for relocation in &report.relocations {
                    let moved = live.iter().find(|entry| match &entry.held {
                        Held::Small(h, _) => h.erase() == relocation.handle,
                        Held::Triple(h, _) => h.erase() == relocation.handle,
                        Held::Named(h, _) => h.erase() == relocation.handle,
                        Held::Aligned(h, _) => h.erase() == relocation.handle,
                        Held::Big(h, _) => h.erase() == relocation.handle,
                        Held::Unit(h) => h.erase() == relocation.handle,
                    });
                    let moved = moved.expect("only live values move");
                    assert_eq!(moved.pins, 0, "a pinned value moved");
                    assert_eq!(moved.held.size_and_align().0, relocation.size);
                }
            }
            Step::Stale(i) if !stale.is_empty() => {
                assert!(!stale[i % stale.len()].resolves(&handles));
                expected_fa401 += 1;
            }
            Step::Foreign => {
                let other = Held::Triple(foreign.alloc([1u64; 3]).unwrap(), 1);
                assert!(!other.resolves(&handles), "a foreign handle resolved");
                expected_fa401 += 1;
            }
            Step::Free(_) | Step::Pin(_) | Step::Unpin(_) | Step::Stale(_) => {}
        }
        for entry in &live {
            entry.held.check(&handles);
            if let Some(address) = entry.pinned_at {
                assert_eq!(
                    entry.held.address(&handles),
                    address,
                    "a pinned value moved"
                );
            }
        }
        let stats = handles.stats();
        assert_eq!(stats.live, live.len());
        assert_eq!(
            stats.live_bytes,
            live.iter()
                .map(|e| e.held.size_and_align().0)
                .sum::<usize>()
        );
        assert_eq!(stats.pinned, live.iter().filter(|e| e.pins > 0).count());
        assert_eq!(dropped(&drops), counted);
    }
    let fa401 = capture
        .finish()
        .iter()
        .filter(|d| d.code == "FA401")
        .count();
    assert_eq!(fa401, expected_fa401);
    let remaining = live
        .iter()
        .filter(|e| matches!(e.held, Held::Named(..) | Held::Unit(..)))
        .count();
    drop(handles);
    assert_eq!(
        dropped(&drops),
        counted + remaining,
        "the rest drop with the allocator"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::support::model_cases(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn handles_match_a_model(steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 40 } else { 160 })) {
        run(steps);
    }
}
