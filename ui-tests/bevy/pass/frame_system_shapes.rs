// Every shape of frame system registers and runs: plain, piped, run
// condition, observer, exclusive, with `Local`, `Commands` and a query.
use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use framealloc::bevy::SmartAllocPlugin;
use framealloc::{Frame, frame_system};

#[derive(Component)]
struct Hp(u32);

#[frame_system]
fn total(frame: &Frame, query: Query<&Hp>) -> u32 {
    frame
        .alloc_slice_fill_iter(query.iter().map(|h| h.0))
        .iter()
        .sum()
}

#[frame_system]
fn show(In(sum): In<u32>, frame: &Frame, mut count: Local<u32>) {
    *count += 1;
    assert_eq!(*frame.alloc(sum), 6);
}

#[frame_system]
fn alive(frame: &Frame, query: Query<&Hp>) -> bool {
    *frame.alloc(query.iter().len() > 0)
}

#[frame_system]
fn on_hp(_added: On<Add<Hp>>, frame: &Frame, mut commands: Commands) {
    let _ = frame.alloc(0u8);
    let _ = &mut commands;
}

#[frame_system]
fn exclusive(world: &mut World, frame: &Frame) {
    let n = frame.alloc(world.entities().len());
    assert!(*n >= 2);
}

#[frame_system]
pub fn public_system<'a>(frame: &'a Frame<'a>) {
    let _ = frame.alloc_str("pub, with a named lifetime");
}

pub fn main() {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .add_observer(on_hp)
        .add_systems(
            Update,
            (total.pipe(show).run_if(alive), exclusive, public_system),
        );
    app.world_mut().spawn_batch([Hp(1), Hp(2), Hp(3)]);
    app.update();
}
