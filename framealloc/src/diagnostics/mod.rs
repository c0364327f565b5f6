//! Diagnostics: coded messages from real allocation paths, strict mode for
//! CI, and a replaceable sink.
//!
//! Every diagnostic has a code from one table ([`CODES`]), a
//! [kind](DiagnosticKind), a message, and usually a note and a help line.
//! Compile-time codes (FA001, FA002, FA101 and FA103 from `#[frame_system]`)
//! are compiler errors; the runtime ones are raised by the paths they name:
//!
//! | code | raised when |
//! |---|---|
//! | FA003 | a frame arena refuses to grow past `AllocConfig::frame_arena_size` |
//! | FA004 | a slice length times the element size overflows |
//! | FA005 | the global allocator refuses a chunk |
//! | FA101 | a frame system or `FrameAlloc` runs in a Bevy App without `SmartAllocPlugin` (a panic) |
//! | FA102 | frame systems run in a Bevy frame the plugin's frame steps did not open or close (once) |
//! | FA201 | a frame is asked to free a block it did not allocate |
//! | FA202 | `begin_frame` runs while the calling thread tears down its thread-locals |
//! | FA203 | with the `debug` feature, a free of memory that is not live (freed twice, or never allocated) |
//! | FA301 | a pool, heap or frame-chunk allocation would pass the global hard budget |
//! | FA302 | a pool or heap allocation would pass its tag's hard budget |
//! | FA303 | a budget listener, diagnostics hook or profiler callback panicked (caught; the allocation goes on) |
//! | FA501 | `FRAMEALLOC_STRICT` holds a value that is not `warn`, `error` or `warning` (one line on stderr; read as `warn`) |
//! | FA901 | an internal invariant breaks |
//!
//! A diagnostic goes to this thread's [`Capture`] if one is alive, else to
//! the [sink](set_sink), else to stderr. Stderr output happens in debug
//! builds, and in release builds with the `diagnostics` feature; captures and
//! sinks receive diagnostics in every build. Stderr is throttled per code:
//! each code's first 3 occurrences are printed in full, then one line when
//! its count reaches 10, 100, 1000, … (`[framealloc][FA301] global memory
//! budget exceeded: 7 more not shown, 10 in all`), so a handled error in a
//! loop costs a few lines. Captures, sinks and hooks receive every
//! diagnostic, unthrottled. Then [strict mode](StrictMode)
//! may turn it into a panic whose message starts with `[framealloc][FAxxx]`.
//! Every diagnostic also reaches the listeners of each [`DiagnosticsHooks`]
//! (from any thread), which a debug UI uses for frame snapshots and memory
//! graphs too.
//!
//! A diagnostic accompanies an [`AllocError`](crate::AllocError), it does not
//! replace it: `try_*` methods still return the error, and under strict mode
//! they panic instead (wrap deliberate fallbacks in
//! `StrictModeGuard::new(StrictMode::Warn)`).
//!
//! ```text
//! [framealloc][FA003] error: frame arena exhausted
//!   note: 8192 more bytes requested, but this thread's arena already holds 0 of its 4096-byte limit
//!   help: raise the per-thread limit with `AllocConfig::with_frame_arena_size`, end frames more often, …
//!   context: thread "main" (ThreadId(1)), main thread, frame 0 (active), bevy: no
//! ```
//!
//! # Example
//!
//! ```
//! use framealloc::{AllocConfig, DiagnosticKind, SmartAlloc};
//! use framealloc::diagnostics::Capture;
//!
//! let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(64 << 10));
//! let frame = alloc.begin_frame();
//! let capture = Capture::start();
//! let refused = frame.try_alloc_slice_fill_with(1 << 20, |i| i as u8);
//! assert_eq!(refused.unwrap_err().code(), "FA003");
//! let seen = capture.finish();
//! assert_eq!((seen[0].code, seen[0].kind), ("FA003", DiagnosticKind::Error));
//! assert!(seen[0].context.as_ref().unwrap().frame_active);
//! ```
//!
//! The guide, `docs/diagnostics.md` in the repository, shows a minimal
//! trigger and the fix for every code.

mod codes;
mod context;
mod diagnostic;
mod emit;
mod history;
mod hooks;
#[cfg(feature = "debug")]
mod leaks;
mod macros;
mod observer;
mod profiler;
mod sink;
mod strict;
mod trace;
mod tracy;

pub use codes::{CODES, CodeInfo, lookup};
pub use context::{DiagContext, bevy_context, set_bevy_context};
pub use diagnostic::{Diagnostic, DiagnosticKind};
pub use history::{MemoryGraphData, MemorySnapshot};
pub use hooks::{DiagnosticsEvent, DiagnosticsHooks, HookId};
#[cfg(feature = "debug")]
pub use leaks::{LeakReport, LeakSite};
pub use profiler::{Intent, MemoryEvent, ProfilerHooks};

/// The byte the `debug` feature fills freed memory with: pool slots and
/// heap blocks when their box drops, frame memory when its frame ends,
/// group memory when the group is freed, a handle's value when it is
/// freed (and the places a defragmentation moved values out of), a
/// streamed asset's memory when it is evicted or released. A value read
/// through a pointer kept too long shows `0xDD` bytes.
///
/// `0xDD` follows Microsoft's debug heap, where it also means "freed";
/// that heap's `0xCD` means "allocated but never written", which is
/// [`UNINIT_BYTE`].
///
/// ```
/// assert_eq!(framealloc::diagnostics::FREED_BYTE, 0xDD);
/// ```
pub const FREED_BYTE: u8 = 0xDD;

/// The byte the `debug` feature fills fresh, uninitialised memory with
/// (the `*_uninit` constructors): a read before the first write shows
/// `0xCD` bytes.
///
/// ```
/// assert_eq!(framealloc::diagnostics::UNINIT_BYTE, 0xCD);
/// ```
pub const UNINIT_BYTE: u8 = 0xCD;
pub use sink::{Capture, capture, reset_sink, set_sink};
pub use strict::{StrictMode, StrictModeGuard, set_strict_mode};

#[doc(hidden)]
pub use codes::__code;
#[doc(hidden)]
pub use emit::__emit_code;
#[doc(hidden)]
pub use framealloc_macros::__check_code;

pub(crate) use context::{ThreadFrames, set_frame_source};
pub(crate) use emit::{report, report_during_teardown};
pub(crate) use hooks::FrameFigures;
pub(crate) use observer::{Observer, Site, run_hook, site};
pub(crate) use sink::panic_message;
pub(crate) use trace::budget_refused as trace_budget_refused;

/// The guide's examples (`docs/diagnostics.md`), compiled and run as doc
/// tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/diagnostics.md")]
pub struct GuideDoctests;
