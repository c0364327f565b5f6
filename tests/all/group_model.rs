//! Model-based property test of the groups intent: random sequences of
//! group creation, allocation (values with and without `Drop`, slices,
//! strings, collection blocks), moves to another thread and frees, checked
//! step by step against a plain model: every live value still reads back,
//! and each free drops exactly its group's values, in allocation order.
#![expect(
    unsafe_code,
    reason = "the model keeps pointers to values of several groups across frees of others, which borrows cannot express; Miri checks every access"
)]

use std::sync::{Arc, Mutex};

use framealloc::allocator_api2::vec::Vec as ApiVec;
use framealloc::{AllocConfig, Group, SmartAlloc};
use proptest::prelude::*;

/// Logs its id when dropped.
struct Tracked {
    id: u64,
    text: String,
    log: Arc<Mutex<Vec<u64>>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.lock().unwrap().push(self.id);
    }
}

thread_local! {
    static UNIT_DROPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A zero-sized value with a destructor, counted in a thread-local (groups
/// are freed on the model's thread).
struct Unit;

impl Drop for Unit {
    fn drop(&mut self) {
        UNIT_DROPS.set(UNIT_DROPS.get() + 1);
    }
}

/// What the model expects at a pointer into a group.
enum Expect {
    Tracked(*const Tracked, u64, String),
    Plain(*const u64, u64),
    Slice(*const u32, usize, u32),
    Text(*const u8, String),
}

impl Expect {
    fn check(&self) {
        match self {
            Expect::Tracked(ptr, id, text) => {
                // SAFETY: the pointer came from a group that is still alive
                // (the model drops its expectations when the group is freed).
                let value = unsafe { &**ptr };
                assert_eq!((value.id, &value.text), (*id, text));
            }
            Expect::Plain(ptr, value) => {
                // SAFETY: as above.
                assert_eq!(unsafe { **ptr }, *value);
            }
            Expect::Slice(ptr, len, seed) => {
                // SAFETY: as above; `len` values were made there.
                let values = unsafe { std::slice::from_raw_parts(*ptr, *len) };
                for (i, value) in values.iter().enumerate() {
                    assert_eq!(*value, seed.wrapping_add(i as u32));
                }
            }
            Expect::Text(ptr, text) => {
                // SAFETY: as above; the text's bytes were copied there.
                let bytes = unsafe { std::slice::from_raw_parts(*ptr, text.len()) };
                assert_eq!(bytes, text.as_bytes());
            }
        }
    }
}

/// A pointer into a group, carried back from the thread that allocated it.
struct SentPtr(*const u64);

// SAFETY: (test) the pointer is only read on the receiving thread, after the
// group moved there too; a `u64` may be read from any thread.
unsafe impl Send for SentPtr {}

struct Model {
    group: Group,
    expect: Vec<Expect>,
    tracked: Vec<u64>,
    units: u64,
    allocations: u64,
}

#[derive(Clone, Debug)]
enum Step {
    Create,
    Tracked(usize, u8),
    /// A slice of `Tracked`; with `true`, the closure that makes them also
    /// allocates a `Tracked` into the same group for every other element.
    TrackedSlice(usize, usize, bool),
    /// A zero-sized value with a destructor.
    Unit(usize),
    Plain(usize, u64),
    Slice(usize, usize, u32),
    Text(usize, String),
    Collection(usize, usize),
    Move(usize),
    Free(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Create),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(g, n)| Step::Tracked(g, n)),
        2 => (any::<usize>(), 0..40usize, any::<bool>())
            .prop_map(|(g, n, nested)| Step::TrackedSlice(g, n, nested)),
        1 => any::<usize>().prop_map(Step::Unit),
        3 => (any::<usize>(), any::<u64>()).prop_map(|(g, v)| Step::Plain(g, v)),
        2 => (any::<usize>(), 0..if cfg!(miri) { 64usize } else { 20_000 }, any::<u32>())
            .prop_map(|(g, len, seed)| Step::Slice(g, len, seed)),
        2 => (any::<usize>(), "[a-z]{0,40}").prop_map(|(g, text)| Step::Text(g, text)),
        1 => (any::<usize>(), 0..300usize).prop_map(|(g, n)| Step::Collection(g, n)),
        1 => any::<usize>().prop_map(Step::Move),
        1 => any::<usize>().prop_map(Step::Free),
    ]
}

fn run(steps: Vec<Step>) {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let groups = alloc.groups();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut live: Vec<Model> = Vec::new();
    let mut next_id = 0u64;
    let (mut made, mut freed_allocations) = (0u64, 0u64);
    for step in steps {
        let pick = |g: usize, live: &Vec<Model>| (!live.is_empty()).then(|| g % live.len());
        match step {
            Step::Create => live.push(Model {
                group: groups.create_group(&format!("g{}", live.len())),
                expect: Vec::new(),
                tracked: Vec::new(),
                units: 0,
                allocations: 0,
            }),
            Step::Tracked(g, n) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let text = "x".repeat(usize::from(n));
                let value = model.group.alloc(Tracked {
                    id: next_id,
                    text: text.clone(),
                    log: log.clone(),
                });
                model.expect.push(Expect::Tracked(value, next_id, text));
                model.tracked.push(next_id);
                model.allocations += 1;
                next_id += 1;
            }
            Step::TrackedSlice(g, n, nested) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let base = next_id;
                let mut inner = base + n as u64;
                let mut inner_ids = Vec::new();
                let group = &model.group;
                let values = group.alloc_slice_fill_with(n, |i| {
                    if nested && i % 2 == 0 {
                        group.alloc(Tracked {
                            id: inner,
                            text: String::new(),
                            log: log.clone(),
                        });
                        inner_ids.push(inner);
                        inner += 1;
                    }
                    Tracked {
                        id: base + i as u64,
                        text: format!("{i}"),
                        log: log.clone(),
                    }
                });
                for (i, value) in values.iter().enumerate() {
                    model
                        .expect
                        .push(Expect::Tracked(value, base + i as u64, format!("{i}")));
                }
                // The slice was reserved before the closure's values: its
                // run comes first.
                model.tracked.extend(base..base + n as u64);
                model.allocations += 1 + inner_ids.len() as u64;
                model.tracked.extend(inner_ids);
                next_id = inner;
            }
            Step::Unit(g) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                model.group.alloc(Unit);
                model.units += 1;
                model.allocations += 1;
            }
            Step::Plain(g, v) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let value = model.group.alloc(v);
                model.expect.push(Expect::Plain(value, v));
                model.allocations += 1;
            }
            Step::Slice(g, len, seed) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let values = model
                    .group
                    .alloc_slice_fill_with(len, |i| seed.wrapping_add(i as u32));
                model.expect.push(Expect::Slice(values.as_ptr(), len, seed));
                model.allocations += 1;
            }
            Step::Text(g, text) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let stored = model.group.alloc_str(&text);
                model.expect.push(Expect::Text(stored.as_ptr(), text));
                model.allocations += 1;
            }
            Step::Collection(g, n) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = &mut live[g];
                let before = model.group.stats().allocations;
                let mut grown: ApiVec<u32, &Group> = ApiVec::new_in(&model.group);
                grown.extend(0..n as u32);
                assert!(grown.iter().copied().eq(0..n as u32));
                drop(grown);
                model.allocations += model.group.stats().allocations - before;
            }
            Step::Move(g) => {
                let Some(g) = pick(g, &live) else { continue };
                let mut model = live.swap_remove(g);
                let group = model.group;
                // Allocated on the other thread, then back.
                let (group, value) = std::thread::spawn(move || {
                    let value = SentPtr(group.alloc(7u64));
                    (group, value)
                })
                .join()
                .unwrap();
                model.group = group;
                model.expect.push(Expect::Plain(value.0, 7));
                model.allocations += 1;
                live.push(model);
            }
            Step::Free(g) => {
                let Some(g) = pick(g, &live) else { continue };
                let model = live.remove(g);
                assert_eq!(model.group.stats().allocations, model.allocations);
                log.lock().unwrap().clear();
                let units_before = UNIT_DROPS.get();
                let report = groups.free_group(model.group);
                assert_eq!(UNIT_DROPS.get() - units_before, model.units);
                assert_eq!(report.allocations, model.allocations);
                assert_eq!(
                    *log.lock().unwrap(),
                    model.tracked,
                    "dropped in allocation order"
                );
                made += model.allocations;
                freed_allocations += model.allocations;
            }
        }
        for model in &live {
            model.expect.iter().for_each(Expect::check);
        }
        let stats = alloc.stats().groups;
        assert_eq!(stats.live_groups, live.len());
        let live_allocations: u64 = live.iter().map(|m| m.allocations).sum();
        assert_eq!(stats.allocations, made + live_allocations);
        assert_eq!(stats.deallocations, freed_allocations);
        assert_eq!(
            alloc.budgets().global_usage().used as u64,
            stats.reserved_bytes,
            "budgets meter every live chunk and nothing else"
        );
    }
    drop(live);
    let stats = alloc.stats().groups;
    assert_eq!(
        (stats.live_groups, stats.bytes, stats.reserved_bytes),
        (0, 0, 0)
    );
    assert_eq!(alloc.budgets().global_usage().used, 0);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::support::model_cases(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn groups_match_a_model(steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 30 } else { 120 })) {
        run(steps);
    }
}
