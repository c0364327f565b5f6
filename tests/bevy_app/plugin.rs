//! `SmartAllocPlugin`, `AllocResource` and `AllocFrameReport`: what the
//! plugin inserts, and the figures its frame-end step records.

use bevy_app::{App, First, Last, Startup, Update};
use bevy_ecs::prelude::*;
use framealloc::bevy::{
    AllocFrameEnded, AllocFrameReport, AllocResource, FrameAllocSystems, SmartAllocPlugin,
};
use framealloc::diagnostics::bevy_context;
use framealloc::{AllocConfig, Frame, SmartAlloc, frame_system};

#[frame_system]
fn sixty_four_bytes(frame: &Frame) {
    let block = frame.alloc([7u64; 8]);
    assert_eq!(block.iter().sum::<u64>(), 56);
}

#[frame_system]
fn three_allocations(frame: &Frame) {
    let a = frame.alloc(1u32);
    let b = frame.alloc_slice_copy(&[2u8; 10]);
    let c = frame.alloc_str("hud");
    assert_eq!((*a, b.len(), &*c), (1, 10, "hud"));
}

#[test]
fn the_plugin_inserts_the_allocator_and_marks_the_bevy_context() {
    let alloc = SmartAlloc::with_defaults();
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::with_alloc(alloc.clone()));
    assert!(bevy_context(), "the plugin marks the diagnostic context");
    let resource = app.world().resource::<AllocResource>();
    assert_eq!(
        resource.stats(),
        alloc.stats(),
        "the resource derefs to the same allocator"
    );
    assert_eq!(
        app.world().resource::<AllocFrameReport>(),
        &AllocFrameReport::default()
    );
}

#[test]
fn each_update_advances_the_frame_number_and_reports_the_frame() {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::new(AllocConfig::default()))
        .add_systems(Update, (sixty_four_bytes, three_allocations));
    let mut new_chunks = 0;
    for frame in 0..5u64 {
        app.update();
        let alloc = app.world().resource::<AllocResource>();
        assert_eq!(alloc.frame_number(), frame + 1);
        let report = app.world().resource::<AllocFrameReport>();
        assert_eq!(report.frame_number, frame);
        assert_eq!(report.system_frames, 2, "one frame per system run");
        assert_eq!(report.allocations, 4);
        // 64, then 8 (a u32 rounds up) + 16 (ten bytes) + 8 ("hud").
        assert_eq!(report.bytes, 64 + 8 + 16 + 8);
        let per_thread: u64 = report.threads.iter().map(|t| t.bytes).sum();
        assert_eq!(per_thread, report.bytes);
        assert!(
            report
                .threads
                .iter()
                .all(|t| t.thread.is_some() && t.frames >= 1)
        );
        new_chunks += report.new_chunks;
        assert_eq!(report.budget, None, "budgets are off");
    }
    // Each thread's arena takes one chunk, the first time that thread runs
    // a frame system; the parallel executor picks the threads.
    let stats = app.world().resource::<AllocResource>().stats().frame;
    assert_eq!(new_chunks, stats.chunk_allocations);
    assert_eq!(new_chunks, stats.arenas as u64);
}

#[test]
fn the_report_is_also_a_message_per_frame() {
    #[derive(Resource, Default)]
    struct Seen(Vec<u64>);
    fn read(mut reader: MessageReader<AllocFrameEnded>, mut seen: ResMut<Seen>) {
        seen.0
            .extend(reader.read().map(|report| report.frame_number));
    }
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .init_resource::<Seen>()
        .add_systems(Update, (sixty_four_bytes, read));
    for _ in 0..4 {
        app.update();
    }
    // Each frame's message is read in the next frame's `Update`.
    assert_eq!(app.world().resource::<Seen>().0, [0, 1, 2]);
}

#[test]
fn startup_frame_systems_count_in_frame_zero() {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .add_systems(Startup, sixty_four_bytes)
        .add_systems(Update, three_allocations);
    app.update();
    let report = app.world().resource::<AllocFrameReport>();
    assert_eq!(
        (report.frame_number, report.system_frames, report.bytes),
        (0, 2, 64 + 32)
    );
    app.update();
    let report = app.world().resource::<AllocFrameReport>();
    assert_eq!(
        (report.frame_number, report.system_frames, report.bytes),
        (1, 1, 32)
    );
}

#[test]
fn the_frame_end_step_reads_the_budget() {
    let config = AllocConfig::default().with_budgets(true);
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::new(config));
    let alloc = app.world().resource::<AllocResource>().alloc().clone();
    alloc.budgets().set_global_limits(Some(100), None).unwrap();
    let kept = alloc.heap_box([0u8; 150]).expect("no hard limit");
    app.update();
    let report = app.world().resource::<AllocFrameReport>();
    let usage = report.budget.expect("budgets are on");
    assert_eq!((usage.used, usage.soft_limit), (150, Some(100)));
    assert!(report.over_soft_limit());
    drop(kept);
    app.update();
    assert!(!app.world().resource::<AllocFrameReport>().over_soft_limit());
}

#[test]
fn systems_ordered_against_the_steps_count_in_the_right_frame() {
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::default())
        .add_systems(First, sixty_four_bytes.after(FrameAllocSystems::Begin))
        .add_systems(Last, three_allocations.before(FrameAllocSystems::End));
    app.update();
    let report = app.world().resource::<AllocFrameReport>();
    assert_eq!((report.system_frames, report.bytes), (2, 96));
}

#[test]
fn each_update_is_one_engine_frame_for_the_diagnostics_hooks() {
    use framealloc::diagnostics::DiagnosticsEvent;
    use std::sync::{Arc, Mutex};

    let alloc = SmartAlloc::with_defaults();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    alloc.diagnostics_hooks().add_listener(move |event| {
        let entry = match event {
            DiagnosticsEvent::FrameBegin { frame_number } => ("begin", *frame_number, 0),
            DiagnosticsEvent::FrameEnd {
                frame_number,
                snapshot,
            } => ("end", *frame_number, snapshot.frame_bytes),
            _ => return,
        };
        sink.lock().unwrap().push(entry);
    });
    let mut app = App::new();
    app.add_plugins(SmartAllocPlugin::with_alloc(alloc.clone()))
        .add_systems(Update, (sixty_four_bytes, three_allocations));
    for _ in 0..3 {
        app.update();
    }
    // Each update's frame systems used 96 bytes (see the test above); the
    // plugin's `Last` step ends the engine frame and begins the next.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("end", 0, 96),
            ("begin", 1, 0),
            ("end", 1, 96),
            ("begin", 2, 0),
            ("end", 2, 96),
            ("begin", 3, 0),
        ]
    );
    let graph = alloc.diagnostics_hooks().get_memory_graph_data(10);
    assert_eq!(graph.frame_numbers, [0, 1, 2]);
}
