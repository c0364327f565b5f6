//! The text of a diagnostic, in the format the runtime prints:
//!
//! ```text
//! [framealloc][FA101] error: <message>
//!   note: <note>
//!   help: <help>
//! ```

use crate::codes::Severity;

/// Renders one diagnostic; `note` and `help` lines appear when given.
pub(crate) fn render(
    code: &str,
    severity: Severity,
    message: &str,
    note: Option<&str>,
    help: Option<&str>,
) -> String {
    let kind = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut text = format!("[framealloc][{code}] {kind}: {message}");
    for (label, line) in [("note", note), ("help", help)] {
        if let Some(line) = line {
            text.push_str(&format!("\n  {label}: {line}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_runtime_format() {
        assert_eq!(
            render("FA101", Severity::Error, "m", None, Some("h")),
            "[framealloc][FA101] error: m\n  help: h"
        );
        assert_eq!(
            render("FA202", Severity::Warning, "m", Some("n"), Some("h")),
            "[framealloc][FA202] warning: m\n  note: n\n  help: h"
        );
    }
}
