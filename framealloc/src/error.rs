//! The error type of every fallible allocation.

use core::fmt;

/// Why an allocation failed.
///
/// Every variant carries a diagnostic code (`FA…`, see [`AllocError::code`]).
/// Its [`Display`](fmt::Display) output is one line: the code, what happened
/// and the figures involved, so a handled error logs as one line. What to
/// change is in [`AllocError::help`], and the alternate form (`{:#}`) adds it
/// as a second `help:` line; the panicking counterparts of `try_*` methods
/// panic with the alternate form.
///
/// # Example
///
/// ```
/// use framealloc::{AllocConfig, AllocError, SmartAlloc};
///
/// let alloc = SmartAlloc::new(AllocConfig::default().with_frame_arena_size(4096));
/// let frame = alloc.begin_frame();
/// let err = frame.try_alloc([0u8; 8192]).unwrap_err();
/// assert_eq!(err.code(), "FA003");
/// assert!(matches!(err, AllocError::ArenaExhausted { requested: 8192, .. }));
/// assert_eq!(
///     err.to_string(),
///     "[FA003] frame arena exhausted: 8192 more bytes requested, but this thread's arena already holds 0 of its 4096-byte limit"
/// );
/// assert_eq!(format!("{err:#}"), format!("{err}\n  help: {}", err.help()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// FA003: the calling thread's frame arena would grow past
    /// [`AllocConfig::frame_arena_size`](crate::AllocConfig::frame_arena_size).
    ArenaExhausted {
        /// Bytes the failed allocation asked for.
        requested: usize,
        /// Bytes of chunks the arena already holds.
        reserved: usize,
        /// The per-thread limit in force.
        limit: usize,
    },
    /// FA004: `count` values of `element_size` bytes do not fit in a `Layout`
    /// (the total overflows `isize::MAX`).
    SizeOverflow {
        /// Number of elements requested.
        count: usize,
        /// Size of one element in bytes.
        element_size: usize,
    },
    /// FA005: the global allocator refused a block of `requested` bytes.
    OutOfMemory {
        /// Bytes asked of the global allocator.
        requested: usize,
    },
    /// FA301: the allocation would take the allocator past its global hard
    /// budget ([`BudgetManager::set_global_limits`](crate::BudgetManager::set_global_limits)).
    GlobalBudgetExceeded {
        /// Bytes the refused allocation asked for.
        requested: usize,
        /// Bytes in use under the global budget.
        used: usize,
        /// The global hard limit.
        limit: usize,
    },
    /// FA302: the allocation would take its tag past the tag's hard budget
    /// ([`BudgetManager::set_tag_limits`](crate::BudgetManager::set_tag_limits)).
    TagBudgetExceeded {
        /// The tag that was current on the allocating thread.
        tag: crate::tag::AllocationTag,
        /// Bytes the refused allocation asked for.
        requested: usize,
        /// Bytes in use under the tag's budget.
        used: usize,
        /// The tag's hard limit.
        limit: usize,
    },
    /// FA201: something made by one allocator (a group, a handle) was
    /// handed to another.
    ForeignAllocation {
        /// What was handed over, such as `"a group"`.
        what: &'static str,
    },
    /// FA401: a handle whose value was freed (its slot is empty or holds a
    /// newer value), or that another allocator made.
    InvalidHandle {
        /// The slot the handle names.
        index: u32,
        /// Why it does not resolve, in a few words.
        reason: &'static str,
    },
    /// FA402: a streaming reservation does not fit in the streaming budget
    /// even after evicting every ready asset no guard holds.
    StreamingBudgetExhausted {
        /// Bytes the reservation asked for.
        requested: usize,
        /// The streaming budget.
        budget: usize,
        /// Bytes held by assets when it was refused.
        used: usize,
        /// Of those, bytes that could not be evicted (reserved, loading,
        /// or held by a guard).
        unevictable: usize,
    },
    /// FA405: a streamed asset is in a state that refuses the operation
    /// (loading, held by a guard, or not ready).
    StreamBusy {
        /// The asset's slot.
        index: u32,
        /// Its state, in words.
        state: &'static str,
        /// What was refused (`"evicted"`, `"released"`, `"loaded"`).
        operation: &'static str,
    },
    /// FA403: `unpin` of a handle that is not pinned (more unpins than
    /// pins).
    NotPinned {
        /// The slot the handle names.
        index: u32,
    },
    /// FA304: budget limits were set on an allocator built with budgets
    /// off (`AllocConfig::with_budgets(false)`, the default), where they
    /// could not be enforced; nothing was set.
    BudgetsDisabled {
        /// The tag whose limits were set, or `None` for the global budget.
        tag: Option<crate::tag::AllocationTag>,
    },
    /// FA305: a soft limit above the hard limit; nothing was set.
    LimitsInverted {
        /// The soft limit asked for, in bytes.
        soft: usize,
        /// The hard limit asked for, in bytes.
        hard: usize,
    },
    /// FA404: the handle allocator has no slot left (a `Handle` names one
    /// of 2^24 slots; a slot retires after 2^20 reuses).
    HandleSlotsExhausted {
        /// Slots in use or retired.
        slots: usize,
    },
    /// FA901: an internal invariant broke. This is a bug in framealloc.
    Internal {
        /// Which invariant.
        what: &'static str,
    },
}

impl AllocError {
    /// The diagnostic code, such as `"FA003"`.
    ///
    /// ```
    /// let err = framealloc::AllocError::OutOfMemory { requested: 1 << 40 };
    /// assert_eq!(err.code(), "FA005");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            AllocError::ArenaExhausted { .. } => "FA003",
            AllocError::SizeOverflow { .. } => "FA004",
            AllocError::OutOfMemory { .. } => "FA005",
            AllocError::GlobalBudgetExceeded { .. } => "FA301",
            AllocError::TagBudgetExceeded { .. } => "FA302",
            AllocError::BudgetsDisabled { .. } => "FA304",
            AllocError::LimitsInverted { .. } => "FA305",
            AllocError::ForeignAllocation { .. } => "FA201",
            AllocError::InvalidHandle { .. } => "FA401",
            AllocError::NotPinned { .. } => "FA403",
            AllocError::StreamingBudgetExhausted { .. } => "FA402",
            AllocError::StreamBusy { .. } => "FA405",
            AllocError::HandleSlotsExhausted { .. } => "FA404",
            AllocError::Internal { .. } => "FA901",
        }
    }

    /// What to do about it, in one line: the `help` of its code's row in
    /// the diagnostic table ([`diagnostics::CODES`](crate::diagnostics::CODES)).
    ///
    /// ```
    /// let err = framealloc::AllocError::SizeOverflow { count: usize::MAX, element_size: 8 };
    /// assert!(err.help().contains("length"));
    /// ```
    pub fn help(&self) -> &'static str {
        self.row().help
    }

    /// The table row of its code: message and help are written once, there.
    fn row(&self) -> &'static crate::diagnostics::CodeInfo {
        crate::diagnostics::__code(self.code())
    }

    /// Writes the figures involved, in words: what follows the message.
    /// Written straight into the formatter, so a report nobody reads
    /// formats (and allocates) nothing.
    fn write_figures(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::ArenaExhausted {
                requested,
                reserved,
                limit,
            } => write!(
                f,
                "{requested} more bytes requested, but this thread's arena already holds {reserved} of its {limit}-byte limit"
            ),
            AllocError::SizeOverflow {
                count,
                element_size,
            } => write!(f, "{count} elements of {element_size} bytes"),
            AllocError::OutOfMemory { requested } => {
                write!(f, "the global allocator refused {requested} bytes")
            }
            AllocError::GlobalBudgetExceeded {
                requested,
                used,
                limit,
            } => write!(
                f,
                "{requested} bytes requested with {used} of {limit} bytes in use"
            ),
            AllocError::TagBudgetExceeded {
                tag,
                requested,
                used,
                limit,
            } => write!(
                f,
                "tag `{tag}`: {requested} bytes requested with {used} of {limit} bytes in use"
            ),
            AllocError::BudgetsDisabled { tag: Some(tag) } => {
                write!(
                    f,
                    "limits for tag `{tag}` on an allocator built with budgets off"
                )
            }
            AllocError::BudgetsDisabled { tag: None } => {
                f.write_str("global limits on an allocator built with budgets off")
            }
            AllocError::LimitsInverted { soft, hard } => {
                write!(f, "soft limit {soft} bytes, hard limit {hard} bytes")
            }
            AllocError::ForeignAllocation { what } => {
                write!(f, "{what} made by another allocator was passed to this one")
            }
            AllocError::InvalidHandle { index, reason } => {
                write!(f, "the handle to slot {index} {reason}")
            }
            AllocError::StreamingBudgetExhausted {
                requested,
                budget,
                used,
                unevictable,
            } => write!(
                f,
                "{requested} bytes requested with {used} of {budget} bytes in use, {unevictable} of them reserved, loading or held by a guard"
            ),
            AllocError::StreamBusy {
                index,
                state,
                operation,
            } => write!(f, "stream {index} cannot be {operation}: it is {state}"),
            AllocError::NotPinned { index } => {
                write!(
                    f,
                    "the value in slot {index} was unpinned more times than it was pinned"
                )
            }
            AllocError::HandleSlotsExhausted { slots } => {
                write!(f, "all {slots} handle slots are live or retired")
            }
            AllocError::Internal { what } => f.write_str(what),
        }
    }
}

/// An error's figures as a `Display` value (see `write_figures`).
struct Figures<'a>(&'a AllocError);

impl fmt::Display for Figures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_figures(f)
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.row();
        write!(f, "[{}] {}: {}", self.code(), row.message, Figures(self))?;
        // The help line only on request: a handled error that is logged
        // stays one line, a panic (see `fail`) asks for the whole text.
        if f.alternate() {
            write!(
                f,
                framealloc_macros::__diagnostic_format!(line),
                label = "help",
                text = row.help
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for AllocError {}

/// Panics with the error's code and help line; the panicking counterpart of
/// every `try_*` method.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn fail(error: AllocError) -> ! {
    panic!("framealloc: {error:#}")
}

/// `result`'s value, or [`fail`] with its error at the caller's location:
/// `unwrap_or_else(|error| fail(error))` would name the closure's line in
/// framealloc instead (closures do not take `#[track_caller]` on stable).
pub(crate) trait OrFail<T> {
    /// The value, or a panic with the error's code and help line.
    fn or_fail(self) -> T;
}

impl<T> OrFail<T> for Result<T, AllocError> {
    #[inline(always)]
    #[track_caller]
    fn or_fail(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => fail(error),
        }
    }
}

/// Reports `error` as a diagnostic (its code, with its figures as the note)
/// and hands it back, so a refusal path reads `return Err(reported(error))`.
#[cold]
#[inline(never)]
pub(crate) fn reported(error: AllocError) -> AllocError {
    crate::diagnostics::report(error.code(), format_args!("{}", Figures(&error)));
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{Capture, DiagnosticKind};

    #[test]
    fn display_is_one_line_and_the_alternate_form_adds_the_help() {
        let err = AllocError::GlobalBudgetExceeded {
            requested: 128,
            used: 64,
            limit: 64,
        };
        assert_eq!(
            err.to_string(),
            "[FA301] global memory budget exceeded: 128 bytes requested with 64 of 64 bytes in use"
        );
        assert_eq!(format!("{err:#}"), format!("{err}\n  help: {}", err.help()));
        assert!(!err.help().is_empty());
    }

    #[test]
    fn fa901_is_reported_with_the_broken_invariant_as_its_note() {
        // The path every internal-invariant failure takes (`Arena::alloc_slow`
        // when a fresh chunk cannot hold what it was sized for); no safe call
        // sequence reaches it, so the test calls it directly.
        let capture = Capture::start();
        let error = reported(AllocError::Internal {
            what: "a fresh frame chunk could not hold the allocation it was sized for",
        });
        let seen = capture.finish();
        assert_eq!(error.code(), "FA901");
        assert_eq!(
            (seen[0].code, seen[0].kind),
            ("FA901", DiagnosticKind::Error)
        );
        assert_eq!(seen[0].message, "internal allocator error");
        assert_eq!(
            seen[0].note.as_deref(),
            Some("a fresh frame chunk could not hold the allocation it was sized for")
        );
        assert_eq!(seen[0].help.as_deref(), Some(error.help()));
        assert!(seen[0].context.is_some());
    }
}
