//! The table of diagnostic codes, as the runtime sees it.
//!
//! The rows are written once, in `framealloc-macros/src/codes.rs`; the hidden
//! `__diagnostic_table!()` macro expands them here, so the compile-time
//! macros and the runtime can never disagree.

use super::DiagnosticKind;

/// One diagnostic code: what it is called, how serious it is, and the
/// standard text the runtime and the compile-time macros print for it.
///
/// # Example
///
/// ```
/// use framealloc::diagnostics::{self, DiagnosticKind};
///
/// let fa003 = diagnostics::lookup("FA003").unwrap();
/// assert_eq!(fa003.category, "Frame");
/// assert_eq!(fa003.kind, DiagnosticKind::Error);
/// assert_eq!(fa003.message, "frame arena exhausted");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeInfo {
    /// The code, `"FA"` and three digits.
    pub code: &'static str,
    /// The group it belongs to: `Frame`, `Memory`, `Bevy`, `Thread`,
    /// `Budget`, `Handle`, `Stream` or `Internal`.
    pub category: &'static str,
    /// How serious it is (strict mode panics on errors, or on warnings too).
    pub kind: DiagnosticKind,
    /// What happened, in a few words.
    pub message: &'static str,
    /// Why it matters or what the rule is.
    pub note: &'static str,
    /// What to change.
    pub help: &'static str,
}

/// Every diagnostic code framealloc knows, in ascending order. The guide
/// (`docs/diagnostics.md`) has a minimal trigger and fix for each.
///
/// ```
/// let codes: Vec<_> = framealloc::diagnostics::CODES.iter().map(|c| c.code).collect();
/// assert!(codes.contains(&"FA202"));
/// assert!(codes.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
/// ```
pub const CODES: &[CodeInfo] = &framealloc_macros::__diagnostic_table!();

/// The row of [`CODES`] for `code`, if there is one.
///
/// ```
/// assert_eq!(framealloc::diagnostics::lookup("FA901").unwrap().category, "Internal");
/// assert!(framealloc::diagnostics::lookup("FA999").is_none());
/// ```
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    find(code)
}

/// [`lookup`] usable in constants: `fa_emit!` checks its code at compile
/// time through [`__code`].
const fn find(code: &str) -> Option<&'static CodeInfo> {
    let mut index = 0;
    while index < CODES.len() {
        if same_text(CODES[index].code, code) {
            return Some(&CODES[index]);
        }
        index += 1;
    }
    None
}

const fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// The row for `code`; evaluated in a `const` block by the emission macros,
/// so an unknown code is a compile error. Not public API.
#[doc(hidden)]
pub const fn __code(code: &str) -> &'static CodeInfo {
    match find(code) {
        Some(info) => info,
        None => panic!("unknown framealloc diagnostic code (see framealloc::diagnostics::CODES)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AllocError;

    #[test]
    fn the_runtime_table_is_well_formed() {
        assert!(CODES.len() >= 14);
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} / {}",
                pair[0].code,
                pair[1].code
            );
        }
        for info in CODES {
            let digits = info.code.strip_prefix("FA").expect("FA prefix");
            assert!(digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()));
            assert!(!info.message.is_empty() && !info.note.is_empty() && !info.help.is_empty());
        }
    }

    /// One value of every `AllocError` variant. The `match` has no wildcard,
    /// so a new variant does not compile until it is added here.
    fn every_alloc_error() -> Vec<AllocError> {
        let all = vec![
            AllocError::ArenaExhausted {
                requested: 1,
                reserved: 2,
                limit: 3,
            },
            AllocError::SizeOverflow {
                count: 1,
                element_size: 2,
            },
            AllocError::OutOfMemory { requested: 1 },
            AllocError::GlobalBudgetExceeded {
                requested: 1,
                used: 2,
                limit: 3,
            },
            AllocError::TagBudgetExceeded {
                tag: crate::AllocationTag::new("test"),
                requested: 1,
                used: 2,
                limit: 3,
            },
            AllocError::ForeignAllocation { what: "a group" },
            AllocError::InvalidHandle {
                index: 1,
                reason: "test",
            },
            AllocError::NotPinned { index: 1 },
            AllocError::StreamingBudgetExhausted {
                requested: 1,
                budget: 2,
                used: 3,
                unevictable: 4,
            },
            AllocError::StreamBusy {
                index: 1,
                state: "loading",
                operation: "evicted",
            },
            AllocError::HandleSlotsExhausted { slots: 1 },
            AllocError::BudgetsDisabled { tag: None },
            AllocError::LimitsInverted { soft: 2, hard: 1 },
            AllocError::Internal { what: "test" },
        ];
        for error in &all {
            match error {
                AllocError::ArenaExhausted { .. }
                | AllocError::SizeOverflow { .. }
                | AllocError::OutOfMemory { .. }
                | AllocError::GlobalBudgetExceeded { .. }
                | AllocError::TagBudgetExceeded { .. }
                | AllocError::ForeignAllocation { .. }
                | AllocError::InvalidHandle { .. }
                | AllocError::NotPinned { .. }
                | AllocError::StreamingBudgetExhausted { .. }
                | AllocError::StreamBusy { .. }
                | AllocError::HandleSlotsExhausted { .. }
                | AllocError::BudgetsDisabled { .. }
                | AllocError::LimitsInverted { .. }
                | AllocError::Internal { .. } => {}
            }
        }
        all
    }

    #[test]
    fn alloc_errors_agree_with_the_table() {
        for error in every_alloc_error() {
            let info = lookup(error.code())
                .unwrap_or_else(|| panic!("{} is not in the table", error.code()));
            assert_eq!(error.help(), info.help, "help of {}", info.code);
            assert_eq!(info.kind, DiagnosticKind::Error);
        }
    }

    #[test]
    fn const_lookup_matches_lookup() {
        const FA202: &CodeInfo = __code("FA202");
        assert_eq!(Some(FA202), lookup("FA202"));
        assert_eq!(FA202.kind, DiagnosticKind::Warning);
    }
}
