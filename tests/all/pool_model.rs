//! Model-based property test of the pool and heap intents: random sequences
//! of allocations and frees, on the owning thread and on another thread,
//! checked against a plain `Vec` model after every step.

use std::sync::mpsc;
use std::thread;

use framealloc::{AllocConfig, HeapBox, PoolBox, SmartAlloc};
use proptest::prelude::*;

/// Values of several sizes, so several size classes and the heap are used.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Small(u64),
    Medium([u32; 24]),
    Large(Box<[u8; 5000]>),
}

#[derive(Debug)]
enum Held {
    Pool(PoolBox<Value>),
    Pooled64(PoolBox<[u64; 8]>),
    Heap(HeapBox<Value>),
}

impl Held {
    fn matches(&self, model: &Value) -> bool {
        match self {
            Held::Pool(boxed) => **boxed == *model,
            Held::Heap(boxed) => **boxed == *model,
            Held::Pooled64(boxed) => matches!(model, Value::Small(v) if **boxed == [*v; 8]),
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Pool(Value),
    Pooled64(u64),
    Heap(Value),
    /// Free the object at this index (modulo the number held) here.
    FreeHere(usize),
    /// Free it on the remote thread.
    FreeThere(usize),
    /// The owner takes back remote frees now.
    Collect,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::Small),
        any::<u32>().prop_map(|v| Value::Medium([v; 24])),
        any::<u8>().prop_map(|v| Value::Large(Box::new([v; 5000]))),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => value().prop_map(Step::Pool),
        2 => any::<u64>().prop_map(Step::Pooled64),
        1 => value().prop_map(Step::Heap),
        3 => any::<usize>().prop_map(Step::FreeHere),
        2 => any::<usize>().prop_map(Step::FreeThere),
        1 => Just(Step::Collect),
    ]
}

fn run(steps: Vec<Step>) {
    let alloc = SmartAlloc::new(AllocConfig::default().with_pool_max_size(1024));
    let (send, receive) = mpsc::channel::<Held>();
    let remote = thread::spawn(move || receive.into_iter().for_each(drop));
    let mut held: Vec<(Held, Value)> = Vec::new();
    for step in steps {
        match step {
            Step::Pool(v) => held.push((Held::Pool(alloc.pool_box(v.clone()).unwrap()), v)),
            Step::Pooled64(v) => held.push((
                Held::Pooled64(alloc.pool_box([v; 8]).unwrap()),
                Value::Small(v),
            )),
            Step::Heap(v) => held.push((Held::Heap(alloc.heap_box(v.clone()).unwrap()), v)),
            Step::FreeHere(i) if !held.is_empty() => drop(held.swap_remove(i % held.len())),
            Step::FreeThere(i) if !held.is_empty() => {
                send.send(held.swap_remove(i % held.len()).0).unwrap()
            }
            Step::Collect => alloc.collect_remote_frees(),
            Step::FreeHere(_) | Step::FreeThere(_) => {}
        }
        for (boxed, model) in &held {
            assert!(
                boxed.matches(model),
                "{boxed:?} was overwritten; expected {model:?}"
            );
        }
    }
    let live = held.len() as u64;
    let stats = alloc.thread_stats();
    assert!(stats.pool.allocations + stats.heap.allocations >= live);
    drop(held);
    drop(send);
    remote.join().unwrap();
    alloc.collect_remote_frees();
    let stats = alloc.stats();
    assert_eq!(stats.pool.live_bytes, 0, "{stats:#?}");
    assert_eq!(stats.heap.live_bytes, 0, "{stats:#?}");
    assert_eq!(stats.allocation_count, stats.deallocation_count);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 3 } else { 64 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pool_and_heap_boxes_match_a_model(steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 40 } else { 400 })) {
        run(steps);
    }
}
