//! `#[frame_system]` in every shape a Bevy system takes: piped (`In<T>`),
//! run conditions, observers, exclusive systems, `Local`, `Commands`,
//! queries and ordering; and the `FrameAlloc` parameter beside other
//! parameters.

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use framealloc::bevy::{AllocResource, FrameAlloc, SmartAllocPlugin};
use framealloc::{Frame, frame_system};

#[derive(Component)]
struct Score(u32);

#[derive(Resource, Default)]
struct Log(Vec<String>);

fn app() -> App {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .init_resource::<Log>();
    app.world_mut().spawn_batch([Score(4), Score(9), Score(1)]);
    app
}

/// The first system of a pipe: returns the scores, sorted in frame memory.
#[frame_system]
fn sorted_scores(frame: &Frame, query: Query<&Score>) -> Vec<u32> {
    let mut scores = frame.alloc_slice_fill_iter(query.iter().map(|s| s.0));
    scores.sort_unstable();
    scores.to_vec()
}

/// The second: `In<T>` first, the frame after it, a `Local` and a `ResMut`.
#[frame_system]
fn label_scores(
    In(scores): In<Vec<u32>>,
    frame: &Frame,
    mut runs: Local<u32>,
    mut log: ResMut<Log>,
) {
    *runs += 1;
    let text = frame.alloc_str(&format!("run {}: {:?}", *runs, scores));
    log.0.push(text.to_string());
}

#[test]
fn piped_frame_systems_pass_values_and_keep_their_locals() {
    let mut app = app();
    app.add_systems(Update, sorted_scores.pipe(label_scores));
    app.update();
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0,
        ["run 1: [1, 4, 9]", "run 2: [1, 4, 9]"]
    );
}

/// A run condition: a read-only frame system returning `bool`.
#[frame_system]
fn any_high_score(frame: &Frame, query: Query<&Score>) -> bool {
    let mut high = allocator_api2::vec::Vec::new_in(frame);
    high.extend(query.iter().filter(|s| s.0 > 5).map(|s| s.0));
    !high.is_empty()
}

#[frame_system]
fn never(frame: &Frame) -> bool {
    *frame.alloc(false)
}

#[frame_system]
fn note(frame: &Frame, mut log: ResMut<Log>) {
    log.0.push(frame.alloc_str("ran").to_string());
}

#[test]
fn frame_systems_are_run_conditions_and_conditioned_systems() {
    let mut app = app();
    app.add_systems(Update, (note.run_if(any_high_score), note.run_if(never)));
    app.update();
    assert_eq!(app.world().resource::<Log>().0, ["ran"]);
}

#[derive(Component)]
struct Spawned(u32);

/// An observer: `On<E>` first, then the frame and `Commands`.
#[frame_system]
fn on_spawned(
    event: On<Add<Spawned>>,
    frame: &Frame,
    query: Query<&Spawned>,
    mut log: ResMut<Log>,
) {
    let value = query
        .get(event.event().entity)
        .expect("the observed entity")
        .0;
    let text = frame.alloc_str(&format!("spawned {value}"));
    log.0.push(text.to_string());
}

/// Spawns with `Commands` from a frame system: the values leave, frame
/// memory does not.
#[frame_system]
fn spawner(frame: &Frame, mut commands: Commands, mut next: Local<u32>) {
    let values = frame.alloc_slice_fill_with(2, |i| *next * 10 + i as u32);
    for value in values.iter() {
        commands.spawn(Spawned(*value));
    }
    *next += 1;
}

#[test]
fn frame_systems_observe_and_spawn_through_commands() {
    let mut app = app();
    app.add_observer(on_spawned).add_systems(Update, spawner);
    app.update();
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0,
        ["spawned 0", "spawned 1", "spawned 10", "spawned 11"]
    );
}

/// An exclusive frame system: `&mut World` and the frame together, with no
/// access conflict.
#[frame_system]
fn exclusive(world: &mut World, frame: &Frame) {
    let doubled = {
        let mut query = world.query::<&Score>();
        frame.alloc_slice_fill_iter(query.iter(world).map(|s| s.0 * 2).collect::<Vec<_>>())
    };
    world.spawn(Score(doubled.iter().sum()));
}

#[test]
fn exclusive_frame_systems_have_the_world_and_a_frame() {
    let mut app = app();
    app.add_systems(Update, exclusive);
    app.update();
    let mut query = app.world_mut().query::<&Score>();
    let mut scores: Vec<u32> = query.iter(app.world()).map(|s| s.0).collect();
    scores.sort_unstable();
    assert_eq!(scores, [1, 4, 9, 28]);
}

#[frame_system]
fn first(frame: &Frame, mut log: ResMut<Log>) {
    log.0.push(frame.alloc_str("first").to_string());
}

#[frame_system]
fn second(frame: &Frame, mut log: ResMut<Log>) {
    log.0.push(frame.alloc_str("second").to_string());
}

#[test]
fn frame_systems_are_ordered_like_any_system() {
    let mut app = app();
    app.add_systems(Update, (second.after(first), first));
    app.update();
    assert_eq!(app.world().resource::<Log>().0, ["first", "second"]);
}

/// The parameter beside `Res<AllocResource>`, a `Query` and `Commands`.
fn by_hand(
    frame_alloc: FrameAlloc,
    alloc: Res<AllocResource>,
    query: Query<&Score>,
    mut log: ResMut<Log>,
) {
    let frame = frame_alloc.begin_frame();
    let total = frame.alloc(query.iter().map(|s| s.0).sum::<u32>());
    // The parameter's allocator is the resource's: a frame open on one is
    // open on the other (same arena).
    let nested = alloc.begin_frame();
    let next = nested.alloc(0u32);
    log.0
        .push(format!("{} {}", *total, frame.report().allocations));
    drop(next);
}

#[test]
fn the_parameter_sits_beside_other_parameters() {
    let mut app = app();
    app.add_systems(Update, by_hand);
    app.update();
    assert_eq!(app.world().resource::<Log>().0, ["14 2"]);
}

#[test]
fn a_run_condition_may_use_the_parameter() {
    fn condition(frame_alloc: FrameAlloc) -> bool {
        *frame_alloc.begin_frame().alloc(true)
    }
    let mut app = app();
    app.add_systems(Update, note.run_if(condition));
    app.update();
    assert_eq!(app.world().resource::<Log>().0, ["ran"]);
}

#[test]
fn the_next_system_on_a_thread_reuses_the_memory() {
    #[derive(Resource, Default)]
    struct Addresses(Vec<usize>);
    #[frame_system]
    fn address(frame: &Frame, mut seen: ResMut<Addresses>) {
        let block = frame.alloc([0u8; 32]);
        seen.0.push(block.as_ptr() as usize);
    }
    let mut app = app();
    app.init_resource::<Addresses>();
    // Single-threaded, so one thread runs every frame system in turn.
    crate::support::single_threaded(&mut app);
    app.add_systems(Update, (address, address, address).chain());
    app.update();
    app.update();
    let seen = &app.world().resource::<Addresses>().0;
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|&a| a == seen[0]), "{seen:x?}");
}
