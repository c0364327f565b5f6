//! Model-based property test of the streaming allocator: random sequences
//! of reservations (sizes and priorities), loads (finished or abandoned),
//! accesses (some guards held across steps), explicit evictions and
//! releases, checked after every step against a plain model of the states,
//! the budget, and eviction by priority then least-recent access.

use std::collections::HashMap;

use framealloc::{
    AccessGuard, LoadWriter, StreamId, StreamPriority, StreamState, StreamingAllocator,
};
use proptest::prelude::*;

const BUDGET: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    Reserved,
    Loading,
    Ready,
    Evicted,
}

struct Asset {
    id: StreamId,
    size: usize,
    priority: StreamPriority,
    state: Model,
    /// The clock value of the last reservation or access.
    used_at: u64,
    /// What a finished load wrote (each byte is `seed + i`).
    seed: u8,
}

#[derive(Clone, Debug)]
enum Step {
    Reserve(usize, u8),
    BeginLoad(usize),
    Finish(usize, u8),
    Abandon(usize),
    Access(usize, bool),
    DropGuard(usize),
    Evict(usize),
    Release(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1..1500usize, 0..4u8).prop_map(|(size, p)| Step::Reserve(size, p)),
        3 => any::<usize>().prop_map(Step::BeginLoad),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, seed)| Step::Finish(i, seed)),
        1 => any::<usize>().prop_map(Step::Abandon),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(i, hold)| Step::Access(i, hold)),
        2 => any::<usize>().prop_map(Step::DropGuard),
        1 => any::<usize>().prop_map(Step::Evict),
        1 => any::<usize>().prop_map(Step::Release),
    ]
}

fn priority(p: u8) -> StreamPriority {
    [
        StreamPriority::Low,
        StreamPriority::Normal,
        StreamPriority::High,
        StreamPriority::Critical,
    ][usize::from(p % 4)]
}

fn run(steps: Vec<Step>) {
    let streaming = StreamingAllocator::new(BUDGET);
    let mut assets: Vec<Asset> = Vec::new();
    let mut writers: HashMap<usize, LoadWriter> = HashMap::new();
    let mut guards: Vec<(usize, AccessGuard<'_>)> = Vec::new();
    let mut clock = 0u64;
    let pinned =
        |guards: &Vec<(usize, AccessGuard<'_>)>, i: usize| guards.iter().any(|(g, _)| *g == i);
    for step in steps {
        let pick = |i: usize, assets: &Vec<Asset>| (!assets.is_empty()).then(|| i % assets.len());
        match step {
            Step::Reserve(size, p) => {
                let used: usize = assets
                    .iter()
                    .filter(|a| a.state != Model::Evicted)
                    .map(|a| a.size)
                    .sum();
                // The model's victims, in eviction order.
                let mut candidates: Vec<usize> = (0..assets.len())
                    .filter(|&i| assets[i].state == Model::Ready && !pinned(&guards, i))
                    .collect();
                candidates.sort_by_key(|&i| (assets[i].priority, assets[i].used_at));
                let mut freed = 0;
                let mut victims = Vec::new();
                for &i in &candidates {
                    if used - freed + size <= BUDGET {
                        break;
                    }
                    freed += assets[i].size;
                    victims.push(i);
                }
                let fits = used - freed + size <= BUDGET;
                match streaming.reserve(size, priority(p)) {
                    Ok(id) => {
                        assert!(fits, "reserved past the budget");
                        for i in victims {
                            assets[i].state = Model::Evicted;
                        }
                        clock += 1;
                        assets.push(Asset {
                            id,
                            size,
                            priority: priority(p),
                            state: Model::Reserved,
                            used_at: clock,
                            seed: 0,
                        });
                    }
                    Err(error) => {
                        assert!(!fits, "refused although evicting would make room");
                        assert_eq!(error.code(), "FA402");
                    }
                }
            }
            Step::BeginLoad(i) => {
                let Some(i) = pick(i, &assets) else { continue };
                let result = streaming.begin_load(assets[i].id);
                if assets[i].state == Model::Reserved {
                    writers.insert(i, result.expect("a reserved asset loads"));
                    assets[i].state = Model::Loading;
                } else {
                    assert_eq!(result.unwrap_err().code(), "FA405");
                }
            }
            Step::Finish(i, seed) => {
                let Some(i) = pick(i, &assets) else { continue };
                let Some(mut writer) = writers.remove(&i) else {
                    continue;
                };
                for (k, byte) in writer.bytes_mut().iter_mut().enumerate() {
                    *byte = seed.wrapping_add(k as u8);
                }
                writer.finish();
                assets[i].state = Model::Ready;
                assets[i].seed = seed;
            }
            Step::Abandon(i) => {
                let Some(i) = pick(i, &assets) else { continue };
                if writers.remove(&i).is_some() {
                    assets[i].state = Model::Reserved;
                }
            }
            Step::Access(i, hold) => {
                let Some(i) = pick(i, &assets) else { continue };
                let guard = streaming.access(assets[i].id);
                if assets[i].state == Model::Ready {
                    let guard = guard.expect("a ready asset is resident");
                    assert_eq!(guard.len(), assets[i].size);
                    let seed = assets[i].seed;
                    assert!(
                        guard
                            .iter()
                            .enumerate()
                            .all(|(k, b)| *b == seed.wrapping_add(k as u8))
                    );
                    clock += 1;
                    assets[i].used_at = clock;
                    if hold {
                        guards.push((i, guard));
                    }
                } else {
                    assert!(guard.is_none(), "access to a {:?} asset", assets[i].state);
                }
            }
            Step::DropGuard(i) => {
                if !guards.is_empty() {
                    guards.swap_remove(i % guards.len());
                }
            }
            Step::Evict(i) => {
                let Some(i) = pick(i, &assets) else { continue };
                let result = streaming.evict(assets[i].id);
                if assets[i].state == Model::Ready && !pinned(&guards, i) {
                    result.expect("a ready, unheld asset can be evicted");
                    assets[i].state = Model::Evicted;
                } else {
                    assert_eq!(result.unwrap_err().code(), "FA405");
                }
            }
            Step::Release(i) => {
                let Some(i) = pick(i, &assets) else { continue };
                let result = streaming.release(assets[i].id);
                let releasable = match assets[i].state {
                    Model::Reserved | Model::Evicted => true,
                    Model::Ready => !pinned(&guards, i),
                    Model::Loading => false,
                };
                if releasable {
                    result.expect("releasable");
                    assert_eq!(streaming.state(assets[i].id), None);
                    assets.swap_remove(i);
                    // Indices moved: the last asset took slot `i`.
                    let last = assets.len();
                    if let Some(writer) = writers.remove(&last) {
                        writers.insert(i, writer);
                    }
                    for guard in &mut guards {
                        if guard.0 == last {
                            guard.0 = i;
                        }
                    }
                } else {
                    assert_eq!(result.unwrap_err().code(), "FA405");
                }
            }
        }
        // Every state as the model says, and the figures.
        for asset in &assets {
            let state = streaming.state(asset.id).expect("not released");
            let expected = match asset.state {
                Model::Reserved => matches!(state, StreamState::Reserved),
                Model::Loading => matches!(state, StreamState::Loading { .. }),
                Model::Ready => state == StreamState::Ready,
                Model::Evicted => state == StreamState::Evicted,
            };
            assert!(
                expected,
                "{:?} against the model's {:?}",
                state, asset.state
            );
        }
        let stats = streaming.stats();
        let held = |m: Model| {
            assets
                .iter()
                .filter(|a| a.state == m)
                .map(|a| a.size)
                .sum::<usize>()
        };
        assert_eq!(
            stats.used,
            held(Model::Reserved) + held(Model::Loading) + held(Model::Ready)
        );
        assert_eq!(stats.resident, held(Model::Ready));
        assert_eq!(stats.loading, held(Model::Loading));
        assert!(stats.used <= BUDGET);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::support::model_cases(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn streaming_matches_a_model(steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 30 } else { 120 })) {
        run(steps);
    }
}
