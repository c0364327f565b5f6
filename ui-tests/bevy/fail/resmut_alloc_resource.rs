// `AllocResource` is an immutable resource: no system may take it mutably.
use bevy_ecs::prelude::*;
use framealloc::bevy::AllocResource;

fn swap_allocator(mut alloc: ResMut<AllocResource>) {
    let _ = &mut alloc;
}

fn main() {
    let mut schedule = Schedule::default();
    schedule.add_systems(swap_allocator);
}
