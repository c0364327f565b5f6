//! The table of diagnostic codes: the single source of truth.
//!
//! `fa_compile_error!` and `#[frame_system]` read it directly; the runtime
//! (`framealloc::diagnostics::CODES`) gets the same rows through the hidden
//! `__diagnostic_table!()` macro, which expands this array into a literal.
//! A proc-macro crate cannot export data, and `framealloc` cannot be a
//! dependency of this crate, so this is the one place both can read.
//! `framealloc::AllocError::help` reads its help lines from it too, and the
//! text format of a diagnostic is in `render.rs`, shared the same way.

/// How serious a diagnostic is; mirrors `framealloc::DiagnosticKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The variant name of `framealloc::DiagnosticKind`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        }
    }
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Code {
    pub(crate) code: &'static str,
    pub(crate) category: &'static str,
    pub(crate) severity: Severity,
    pub(crate) message: &'static str,
    pub(crate) note: &'static str,
    pub(crate) help: &'static str,
}

/// The categories codes are grouped in, by the hundreds digit.
#[cfg(test)]
const CATEGORIES: &[&str] = &[
    "Frame", "Memory", "Bevy", "Thread", "Budget", "Handle", "Stream", "Config", "Internal",
];

use Severity::{Error, Warning};

/// Every diagnostic code, in ascending order.
pub(crate) const CODES: &[Code] = &[
    Code {
        code: "FA001",
        category: "Frame",
        severity: Error,
        message: "frame allocation used outside an active frame",
        note: "frame memory borrows the `Frame` that `begin_frame` returns; without one there is nothing to allocate from",
        help: "open a frame and allocate from it: `let frame = alloc.begin_frame(); let value = frame.alloc(value);`",
    },
    Code {
        code: "FA002",
        category: "Frame",
        severity: Error,
        message: "frame memory escaped its frame",
        note: "every frame allocation borrows its `Frame`, and ending or dropping the frame needs those borrows gone",
        help: "drop or copy the data before the frame ends (`FrameBox::into_inner` moves a value out), or keep it in memory that outlives the frame",
    },
    Code {
        code: "FA003",
        category: "Frame",
        severity: Error,
        message: "frame arena exhausted",
        note: "one thread's frame arena may hold at most `AllocConfig::frame_arena_size` bytes of chunks",
        help: "raise the per-thread limit with `AllocConfig::with_frame_arena_size`, end frames more often, or move long-lived data to `pool_box`/`heap_box`",
    },
    Code {
        code: "FA004",
        category: "Memory",
        severity: Error,
        message: "allocation size overflows",
        note: "the element count times the element size does not fit in a `Layout` (at most isize::MAX bytes)",
        help: "check the slice length: the total size must stay below isize::MAX bytes",
    },
    Code {
        code: "FA005",
        category: "Memory",
        severity: Error,
        message: "the global allocator refused memory",
        note: "framealloc asked the global allocator for a block and got none",
        help: "the system is out of memory; free memory or lower the allocation size",
    },
    Code {
        code: "FA101",
        category: "Bevy",
        severity: Error,
        message: "Bevy integration is not set up",
        note: "`SmartAllocPlugin` is not registered in the App, or `#[frame_system]` is used without framealloc's `bevy` feature",
        help: "enable framealloc's `bevy` feature and add `.add_plugins(framealloc::bevy::SmartAllocPlugin::default())` to your App",
    },
    Code {
        code: "FA102",
        category: "Bevy",
        severity: Warning,
        message: "frame hooks did not run this frame",
        note: "`SmartAllocPlugin` ends each frame in the `First` and `Last` schedules; a frame passed without them",
        help: "drive the app through `App::update` and keep the plugin's systems in their schedules",
    },
    Code {
        code: "FA103",
        category: "Bevy",
        severity: Error,
        message: "`#[frame_system]` cannot make a system of this item",
        note: "a frame system is a free, non-generic, non-async `fn` with exactly one `&Frame` parameter; its other parameters are Bevy system parameters",
        help: "write `#[frame_system] fn name(frame: &Frame, <system parameters>)`",
    },
    Code {
        code: "FA201",
        category: "Thread",
        severity: Error,
        message: "memory handed to an allocator that did not produce it",
        note: "a box, handle or group belongs to the `SmartAlloc` that made it and must go back to that one",
        help: "free or look up each allocation through the allocator (or a clone of it) that made it",
    },
    Code {
        code: "FA202",
        category: "Thread",
        severity: Warning,
        message: "allocator used while the calling thread tears down",
        note: "this thread's framealloc state is already destroyed, so the frame borrows an arena for its own duration only",
        help: "open frames before the thread's thread-local destructors run (end worker loops before the thread returns); the call still works, without the thread's warm arena",
    },
    Code {
        code: "FA203",
        category: "Thread",
        severity: Error,
        message: "memory freed that is not live",
        note: "with the `debug` feature, every free is checked against the live allocations: this address was freed already, or never allocated here",
        help: "free each allocation once, through the allocator that made it (a raw pointer kept after its box dropped is the usual cause)",
    },
    Code {
        code: "FA301",
        category: "Budget",
        severity: Error,
        message: "global memory budget exceeded",
        note: "the allocator's global hard limit refused this allocation",
        help: "raise the global hard limit with `BudgetManager::set_global_limits`, or free memory first",
    },
    Code {
        code: "FA302",
        category: "Budget",
        severity: Error,
        message: "tag budget exceeded",
        note: "the budget of the allocating thread's current tag refused it",
        help: "raise the tag's hard limit with `BudgetManager::set_tag_limits`, or free memory under this tag first",
    },
    Code {
        code: "FA303",
        category: "Budget",
        severity: Warning,
        message: "a listener panicked",
        note: "a budget listener, diagnostics hook or profiler callback panicked; the panic was caught after the allocator's figures were settled, and the allocation went on",
        help: "fix the listener (the panic message is above: it names `BudgetManager::on_event`, `DiagnosticsHooks::add_listener` or `ProfilerHooks::set_callback`), or remove it",
    },
    Code {
        code: "FA304",
        category: "Budget",
        severity: Error,
        message: "budget limits on an allocator with budgets off",
        note: "an allocator built with `with_budgets(false)` (the default) counts no tags and checks no limits, so limits set on it could not be enforced; none were set",
        help: "build the allocator with `AllocConfig::default().with_budgets(true)` to enforce limits",
    },
    Code {
        code: "FA305",
        category: "Budget",
        severity: Error,
        message: "soft limit above hard limit",
        note: "the soft limit warns before the hard limit refuses, so it cannot be the larger; nothing was set",
        help: "pass a soft limit at or below the hard limit, or `None` for either",
    },
    Code {
        code: "FA401",
        category: "Handle",
        severity: Error,
        message: "invalid or freed handle accessed",
        note: "the handle's slot was freed or reused, or the handle comes from another allocator",
        help: "check the handle before use, and keep handles with the allocator that made them",
    },
    Code {
        code: "FA402",
        category: "Stream",
        severity: Error,
        message: "streaming allocator budget exhausted",
        note: "the streaming allocator cannot reserve the requested bytes without evicting data still in use",
        help: "raise the streaming budget, release finished assets, or lower the request's priority so it may wait",
    },
    Code {
        code: "FA403",
        category: "Handle",
        severity: Error,
        message: "handle unpinned more times than pinned",
        note: "pins nest: each `pin` needs one `unpin`, and an unpinned value may move at the next defragmentation",
        help: "pair every `HandleAllocator::pin` with exactly one `unpin`",
    },
    Code {
        code: "FA404",
        category: "Handle",
        severity: Error,
        message: "handle slots exhausted",
        note: "a handle names one of 2^24 slots, and a slot retires after 2^20 reuses so that no stale handle can match it",
        help: "free values you no longer need, or spread them over more than one `HandleAllocator`",
    },
    Code {
        code: "FA405",
        category: "Stream",
        severity: Error,
        message: "streamed asset busy",
        note: "a loading asset, or one an access guard holds, cannot be evicted or released, and only a reserved asset can start loading",
        help: "drop the access guard or finish the load first, or check `StreamingAllocator::state` before the call",
    },
    Code {
        code: "FA501",
        category: "Config",
        severity: Warning,
        message: "unknown `FRAMEALLOC_STRICT` value",
        note: "`FRAMEALLOC_STRICT` accepts `warn` (report only, the default), `error` (errors panic) and `warning` (warnings and errors panic); any other value is read as `warn`",
        help: "set `FRAMEALLOC_STRICT=error` to make errors panic, `FRAMEALLOC_STRICT=warning` to make warnings panic too, or unset it",
    },
    Code {
        code: "FA901",
        category: "Internal",
        severity: Error,
        message: "internal allocator error",
        note: "an invariant framealloc relies on did not hold",
        help: "this is a bug in framealloc; please report it with the message above",
    },
];

/// The row for `code`, if it is in the table.
pub(crate) fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|row| row.code == code)
}

/// Every code, comma-separated, for error messages.
pub(crate) fn known_codes() -> String {
    CODES
        .iter()
        .map(|row| row.code)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn well_formed_code(code: &str) -> bool {
        code.len() == 5 && code.starts_with("FA") && code[2..].bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn codes_are_unique_sorted_and_well_formed() {
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} and {} are out of order or repeated",
                pair[0].code,
                pair[1].code
            );
        }
        for row in CODES {
            assert!(
                well_formed_code(row.code),
                "{} is not FA + 3 digits",
                row.code
            );
            assert!(CATEGORIES.contains(&row.category), "{}: category", row.code);
            for (field, text) in [
                ("message", row.message),
                ("note", row.note),
                ("help", row.help),
            ] {
                assert!(!text.is_empty(), "{}: empty {field}", row.code);
                assert!(
                    !text.ends_with('.'),
                    "{}: {field} ends with a period",
                    row.code
                );
                assert!(!text.contains('\n'), "{}: {field} spans lines", row.code);
                assert_eq!(text.trim(), text, "{}: {field} has outer spaces", row.code);
            }
        }
    }

    #[test]
    fn the_hundreds_digit_names_the_category() {
        for row in CODES {
            let expected: &[&str] = match &row.code[2..3] {
                "0" => &["Frame", "Memory"],
                "1" => &["Bevy"],
                "2" => &["Thread"],
                "3" => &["Budget"],
                "4" => &["Handle", "Stream"],
                "5" => &["Config"],
                "9" => &["Internal"],
                other => panic!("{}: no category for the digit {other}", row.code),
            };
            assert!(expected.contains(&row.category), "{}", row.code);
        }
    }

    #[test]
    fn the_issue_codes_are_all_present() {
        for code in [
            "FA001", "FA002", "FA003", "FA004", "FA005", "FA101", "FA102", "FA103", "FA201",
            "FA202", "FA301", "FA302", "FA401", "FA402", "FA901",
        ] {
            assert!(lookup(code).is_some(), "{code} is missing");
        }
        assert!(lookup("FA999").is_none());
    }
}
