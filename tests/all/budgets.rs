//! Budgets and tags: hard limits refuse with FA301/FA302, soft limits and
//! peaks raise events, with exact byte figures.

use std::sync::{Arc, Mutex};

use framealloc::{AllocConfig, AllocError, AllocationTag, BudgetEvent, FrameBox, SmartAlloc};

fn budgeted() -> (SmartAlloc, Arc<Mutex<Vec<BudgetEvent>>>) {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    alloc
        .budgets()
        .on_event(move |event| sink.lock().unwrap().push(*event));
    (alloc, events)
}

#[test]
fn the_global_hard_limit_refuses_pool_and_heap_with_fa301() {
    let (alloc, events) = budgeted();
    alloc.budgets().set_global_limits(None, Some(100)).unwrap();
    let kept = alloc.pool_box([0u8; 64]).unwrap(); // 64-byte slot
    let err = alloc.pool_box([0u8; 48]).unwrap_err(); // 48 more would make 112
    assert_eq!(
        err,
        AllocError::GlobalBudgetExceeded {
            requested: 48,
            used: 64,
            limit: 100
        }
    );
    assert_eq!(err.code(), "FA301");
    let err = alloc.heap_box([0u8; 48]).unwrap_err(); // a block of exactly 48
    assert_eq!(
        err,
        AllocError::GlobalBudgetExceeded {
            requested: 48,
            used: 64,
            limit: 100
        }
    );
    assert_eq!(
        alloc.budgets().global_usage().used,
        64,
        "refusals charge nothing"
    );
    drop(kept);
    assert_eq!(alloc.budgets().global_usage().used, 0);
    assert!(
        alloc.pool_box([0u8; 48]).is_ok(),
        "room again after the free"
    );
    let events = events.lock().unwrap();
    assert!(events.contains(&BudgetEvent::HardLimitExceeded {
        tag: None,
        requested: 48,
        used: 64,
        limit: 100
    }));
    assert!(events.contains(&BudgetEvent::NewPeak {
        tag: None,
        peak: 64
    }));
}

#[test]
fn a_tag_hard_limit_refuses_with_fa302_and_other_tags_are_unaffected() {
    let (alloc, events) = budgeted();
    let rendering = AllocationTag::new("budget-test-rendering");
    let audio = AllocationTag::new("budget-test-audio");
    alloc
        .budgets()
        .set_tag_limits(rendering, Some(100), Some(200))
        .unwrap();
    let first = alloc
        .with_tag(rendering, || alloc.pool_box([0u8; 128]))
        .unwrap();
    let err = alloc
        .with_tag(rendering, || alloc.pool_box([0u8; 96]))
        .unwrap_err();
    assert_eq!(
        err,
        AllocError::TagBudgetExceeded {
            tag: rendering,
            requested: 96,
            used: 128,
            limit: 200
        }
    );
    assert_eq!(err.code(), "FA302");
    // The refusal left the global budget untouched too.
    assert_eq!(alloc.budgets().global_usage().used, 128);
    // Another tag, and untagged allocations, are not limited.
    let music = alloc
        .with_tag(audio, || alloc.pool_box([0u8; 512]))
        .unwrap();
    let free = alloc.pool_box([0u8; 512]).unwrap();
    assert_eq!(alloc.budgets().usage(audio).used, 512);
    assert_eq!(alloc.budgets().usage(rendering).used, 128);
    assert_eq!(alloc.budgets().global_usage().used, 128 + 512 + 512);

    let events = events.lock().unwrap();
    assert!(events.contains(&BudgetEvent::SoftLimitExceeded {
        tag: Some(rendering),
        used: 128,
        limit: 100
    }));
    assert!(events.contains(&BudgetEvent::HardLimitExceeded {
        tag: Some(rendering),
        requested: 96,
        used: 128,
        limit: 200
    }));
    drop((first, music, free));
}

#[test]
fn soft_limit_events_fire_once_per_crossing() {
    let (alloc, events) = budgeted();
    alloc.budgets().set_global_limits(Some(100), None).unwrap();
    let a = alloc.pool_box([0u8; 64]).unwrap();
    let b = alloc.pool_box([0u8; 64]).unwrap(); // 128 > 100: event
    let c = alloc.pool_box([0u8; 64]).unwrap(); // still over: no new event
    let softs = |events: &[BudgetEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, BudgetEvent::SoftLimitExceeded { .. }))
            .count()
    };
    assert_eq!(softs(&events.lock().unwrap()), 1);
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&BudgetEvent::SoftLimitExceeded {
                tag: None,
                used: 128,
                limit: 100
            })
    );
    drop((b, c)); // back to 64: re-armed
    let d = alloc.pool_box([0u8; 64]).unwrap();
    assert_eq!(softs(&events.lock().unwrap()), 2);
    let peaks: Vec<usize> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            BudgetEvent::NewPeak { tag: None, peak } => Some(*peak),
            _ => None,
        })
        .collect();
    assert_eq!(peaks, [64, 128, 192]);
    drop((a, d));
}

#[test]
fn budgets_follow_frees_on_other_threads() {
    let (alloc, _) = budgeted();
    let tag = AllocationTag::new("budget-test-remote");
    let boxes: Vec<_> = alloc.with_tag(tag, || {
        (0..10)
            .map(|i| alloc.heap_box([i as u8; 100]).unwrap())
            .collect()
    });
    let block = alloc.budgets().usage(tag).used / 10;
    assert_eq!(block, 100); // the value's own layout: heap blocks have no header
    std::thread::spawn(move || drop(boxes)).join().unwrap();
    assert_eq!(alloc.budgets().usage(tag).used, 0);
    assert_eq!(alloc.budgets().global_usage().used, 0);
}

#[test]
fn frame_chunk_growth_is_refused_by_the_global_budget() {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_frame_chunk_size(4096),
    );
    alloc
        .budgets()
        .set_global_limits(None, Some(10_000))
        .unwrap();
    let frame = alloc.begin_frame();
    let first = frame.try_alloc([0u8; 1000]).unwrap(); // first chunk: 4096 bytes charged
    assert_eq!(alloc.budgets().global_usage().used, 4096);
    let err = frame.try_alloc([0u8; 8000]).unwrap_err(); // needs a chunk of 8000
    assert_eq!(
        err,
        AllocError::GlobalBudgetExceeded {
            requested: 8000,
            used: 4096,
            limit: 10_000
        }
    );
    drop(first);
    frame.end();
    alloc.trim();
    assert_eq!(
        alloc.budgets().global_usage().used,
        4096,
        "the arena keeps its chunk"
    );
    drop(alloc);
}

#[test]
fn budgets_off_meter_nothing_and_refuse_limits() {
    let alloc = SmartAlloc::with_defaults();
    let refused = alloc
        .budgets()
        .set_global_limits(None, Some(1))
        .unwrap_err();
    assert_eq!(
        refused,
        framealloc::AllocError::BudgetsDisabled { tag: None }
    );
    assert_eq!(refused.code(), "FA304");
    let audio = framealloc::AllocationTag::new("audio");
    let refused = alloc
        .budgets()
        .set_tag_limits(audio, Some(1), None)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "[FA304] budget limits on an allocator with budgets off: limits for tag `audio` on an allocator built with budgets off"
    );
    assert_eq!(
        alloc.budgets().global_usage().hard_limit,
        None,
        "nothing was set"
    );
    let boxed = alloc.pool_box([0u8; 512]).unwrap();
    let frame = alloc.begin_frame();
    let value: FrameBox<'_, [u8; 100]> = frame.alloc([0; 100]);
    assert_eq!(alloc.budgets().global_usage().used, 0);
    drop((boxed, value));
}

#[test]
fn a_soft_limit_above_the_hard_one_is_refused_and_sets_nothing() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc
        .budgets()
        .set_global_limits(Some(10), Some(20))
        .unwrap();
    let refused = alloc
        .budgets()
        .set_global_limits(Some(30), Some(20))
        .unwrap_err();
    assert_eq!(
        refused,
        framealloc::AllocError::LimitsInverted { soft: 30, hard: 20 }
    );
    assert_eq!(refused.code(), "FA305");
    let usage = alloc.budgets().global_usage();
    assert_eq!((usage.soft_limit, usage.hard_limit), (Some(10), Some(20)));
    let ui = framealloc::AllocationTag::new("ui");
    let refused = alloc
        .budgets()
        .set_tag_limits(ui, Some(2), Some(1))
        .unwrap_err();
    assert_eq!(refused.code(), "FA305");
    assert_eq!(alloc.budgets().usage(ui).soft_limit, None);
}

#[test]
fn budget_refusals_raise_fa301_and_fa302_diagnostics() {
    use framealloc::DiagnosticKind;
    use framealloc::diagnostics::Capture;

    let (alloc, _) = budgeted();
    let tag = AllocationTag::new("budget-test-diagnostics");
    alloc.budgets().set_tag_limits(tag, None, Some(32)).unwrap();
    alloc.budgets().set_global_limits(None, Some(1000)).unwrap();
    let capture = Capture::start();
    let tag_error = alloc
        .with_tag(tag, || alloc.pool_box([0u8; 64]))
        .unwrap_err();
    let global_error = alloc.heap_box([0u8; 2000]).unwrap_err();
    let seen = capture.finish();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(
        (seen[0].code, seen[0].kind),
        ("FA302", DiagnosticKind::Error)
    );
    assert_eq!(
        (seen[1].code, seen[1].kind),
        ("FA301", DiagnosticKind::Error)
    );
    assert_eq!(seen[0].help.as_deref(), Some(tag_error.help()));
    assert_eq!(seen[1].help.as_deref(), Some(global_error.help()));
    assert!(
        seen[1]
            .note
            .as_deref()
            .unwrap()
            .contains("2000 bytes requested with 0 of 1000")
    );
}

/// With budgets on, each pool slot's page remembers the tag it is charged
/// to; frees release exactly that tag's charge, on the owner and on other
/// threads, and the tag table never overlaps a slot's value.
#[test]
fn pool_frees_release_the_tag_each_slot_was_charged_to() {
    let (alloc, _) = budgeted();
    let tags = [
        AllocationTag::new("budget-test-table-a"),
        AllocationTag::new("budget-test-table-b"),
    ];
    // Several pages of the 8-byte class: every slot and every table byte.
    let count = if cfg!(miri) { 600 } else { 30_000 };
    let boxes: Vec<_> = (0..count)
        .map(|i| {
            alloc
                .with_tag(tags[i % 2], || alloc.pool_box(i as u64))
                .unwrap()
        })
        .collect();
    let half = count / 2 * 8;
    assert_eq!(alloc.budgets().usage(tags[0]).used, half);
    assert_eq!(alloc.budgets().usage(tags[1]).used, half);
    assert!(boxes.iter().enumerate().all(|(i, b)| **b == i as u64));
    // Frees of tag b on another thread, tag a here.
    let (mine, theirs): (Vec<_>, Vec<_>) = boxes.into_iter().partition(|b| **b % 2 == 0);
    std::thread::spawn(move || drop(theirs)).join().unwrap();
    assert_eq!(alloc.budgets().usage(tags[0]).used, half);
    assert_eq!(alloc.budgets().usage(tags[1]).used, 0);
    drop(mine);
    assert_eq!(alloc.budgets().usage(tags[0]).used, 0);
    assert_eq!(alloc.budgets().global_usage().used, 0);
}

/// A `PoolBox` value that went to the heap (over the pool limit) keeps its
/// heap and charge in a header: the free, here or on another thread,
/// releases the charge and counts the free.
#[test]
fn pool_values_over_the_limit_release_their_charge_from_the_header() {
    let alloc = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_pool_max_size(64),
    );
    let tag = AllocationTag::new("budget-test-block-header");
    let here = alloc.with_tag(tag, || alloc.pool_box([3u8; 100])).unwrap();
    let there = alloc.with_tag(tag, || alloc.pool_box([4u8; 100])).unwrap();
    assert_eq!(alloc.budgets().usage(tag).used, 200);
    assert_eq!(alloc.stats().heap.live_bytes, 200);
    assert_eq!((here[99], there[99]), (3, 4));
    std::thread::spawn(move || drop(there)).join().unwrap();
    assert_eq!(alloc.budgets().usage(tag).used, 100);
    drop(here);
    assert_eq!(alloc.budgets().usage(tag).used, 0);
    alloc.collect_remote_frees();
    assert_eq!(alloc.stats().heap.live_bytes, 0);
}

#[test]
fn a_panicking_listener_leaves_no_phantom_charge() {
    // Issue 9, item 10: the charge was added, the listener panicked, and the
    // unwind skipped the revert; a 100-byte box was then refused with FA301
    // while nothing was live.
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    alloc.budgets().set_global_limits(None, Some(160)).unwrap();
    alloc.budgets().on_event(|event| {
        if matches!(
            event,
            BudgetEvent::NewPeak { .. } | BudgetEvent::HardLimitExceeded { .. }
        ) {
            panic!("telemetry bug");
        }
    });
    let capture = framealloc::diagnostics::Capture::start();
    let first = alloc
        .pool_box([0u8; 100])
        .expect("the listener's panic is caught");
    assert_eq!(*first, [0; 100]);
    assert_eq!(alloc.budgets().global_usage().used, 112);
    let refused = alloc.pool_box([0u8; 100]).unwrap_err();
    assert_eq!(refused.code(), "FA301");
    assert_eq!(
        alloc.budgets().global_usage().used,
        112,
        "the refusal charged nothing"
    );
    drop(first);
    assert_eq!(alloc.budgets().global_usage().used, 0);
    let again = alloc
        .pool_box([1u8; 100])
        .expect("nothing is live, so 100 bytes fit");
    assert_eq!(again[99], 1);
    let seen = capture.finish();
    let codes: Vec<&str> = seen.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["FA303", "FA303", "FA301"], "{seen:?}");
    assert!(seen[0].note.as_deref().unwrap().contains("telemetry bug"));
}

#[test]
fn a_removed_listener_is_not_called_and_frees_what_it_held() {
    // Issue 9, item 13: a listener holding a clone of its allocator kept it
    // alive for ever.
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let gone = alloc.downgrade();
    let calls = Arc::new(Mutex::new(0));
    let (held, counted) = (alloc.clone(), calls.clone());
    let id = alloc.budgets().on_event(move |_| {
        let _ = held.stats();
        *counted.lock().unwrap() += 1;
    });
    drop(alloc.pool_box(0u64).unwrap());
    let before = *calls.lock().unwrap();
    assert!(before > 0);
    assert!(alloc.budgets().remove_listener(id));
    assert!(!alloc.budgets().remove_listener(id));
    drop(alloc.pool_box([0u8; 64]).unwrap());
    assert_eq!(
        *calls.lock().unwrap(),
        before,
        "removed listeners are not called"
    );
    drop(alloc);
    assert!(
        gone.upgrade().is_none(),
        "the clone the listener held went with it"
    );
}

#[test]
fn a_listener_holding_a_weak_handle_does_not_keep_the_allocator() {
    let alloc = SmartAlloc::new(AllocConfig::default().with_budgets(true));
    let gone = alloc.downgrade();
    let weak = alloc.downgrade();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    alloc.budgets().on_event(move |_| {
        if let Some(alloc) = weak.upgrade() {
            sink.lock()
                .unwrap()
                .push(alloc.budgets().global_usage().used);
        }
    });
    let boxed = alloc.pool_box(0u64).unwrap();
    assert_eq!(*seen.lock().unwrap(), [8]);
    drop(boxed);
    drop(alloc);
    assert!(gone.upgrade().is_none());
}

#[test]
#[cfg_attr(miri, ignore = "needs the system allocator to refuse a 16 TiB block")]
fn bytes_the_system_refuses_raise_no_peak_and_no_event() {
    // Issue 9, item 14: budgets charged before asking the global allocator,
    // so a refused 16 TiB block left a 16 TiB peak and fired `NewPeak`.
    let (alloc, events) = budgeted();
    alloc
        .budgets()
        .set_global_limits(Some(1 << 20), None)
        .unwrap();
    type Huge = [u8; 1 << 44];
    let error = alloc.heap_alloc_uninit::<Huge>().unwrap_err();
    assert_eq!(error.code(), "FA005");
    let error = alloc.pool_alloc_uninit::<Huge>().unwrap_err();
    assert_eq!(error.code(), "FA005");
    let huge_frames = SmartAlloc::new(
        AllocConfig::default()
            .with_budgets(true)
            .with_frame_arena_size(usize::MAX),
    );
    let frame_events = Arc::new(Mutex::new(Vec::new()));
    let sink = frame_events.clone();
    huge_frames
        .budgets()
        .on_event(move |event| sink.lock().unwrap().push(*event));
    let frame = huge_frames.begin_frame();
    let layout = std::alloc::Layout::from_size_align(1 << 44, 8).unwrap();
    assert_eq!(frame.try_alloc_layout(layout).unwrap_err().code(), "FA005");
    for (budgets, events) in [
        (alloc.budgets(), &events),
        (huge_frames.budgets(), &frame_events),
    ] {
        let usage = budgets.global_usage();
        assert_eq!((usage.used, usage.peak), (0, 0));
        assert_eq!(*events.lock().unwrap(), []);
    }
}
