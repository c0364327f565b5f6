//! `#[frame_system]` in an edition 2021 crate: its expansion uses only
//! `::framealloc::…` and `::core::…` paths and mixed-site names, so it
//! compiles the same in editions 2021 and 2024 (the rest of the workspace is
//! 2024).

use bevy_ecs::prelude::*;
use framealloc::{frame_system, Frame};

/// A counter the systems below fill.
#[derive(Resource, Default)]
pub struct Total(pub u64);

/// A value to sum.
#[derive(Component)]
pub struct Value(pub u64);

/// Sums every `Value` through frame memory.
#[frame_system]
pub fn sum_values(frame: &Frame, query: Query<&Value>, mut total: ResMut<Total>) {
    let values = frame.alloc_slice_fill_iter(query.iter().map(|v| v.0));
    total.0 += values.iter().sum::<u64>();
}

/// Piped: doubles its input in frame memory.
#[frame_system]
pub fn doubled(In(x): In<u64>, frame: &Frame) -> u64 {
    *frame.alloc(x * 2)
}

/// Returns a constant for the pipe.
#[frame_system]
pub fn twenty_one(frame: &Frame) -> u64 {
    *frame.alloc(21u64)
}

/// Stores the piped value.
pub fn store(In(x): In<u64>, mut total: ResMut<Total>) {
    total.0 += x;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_app::{App, Update};

    #[test]
    fn frame_systems_run_in_an_edition_2021_crate() {
        let mut app = App::new();
        app.add_plugins(framealloc::bevy::SmartAllocPlugin::default())
            .init_resource::<Total>()
            .add_systems(Update, (sum_values, twenty_one.pipe(doubled).pipe(store)));
        app.world_mut().spawn_batch([Value(1), Value(2)]);
        app.update();
        assert_eq!(app.world().resource::<Total>().0, 3 + 42);
    }
}
