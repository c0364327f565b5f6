//! The text of a diagnostic, in the format the runtime prints:
//!
//! ```text
//! [framealloc][FA101] error: <message>
//!   note: <note>
//!   help: <help>
//! ```

use proc_macro2::{Literal, TokenStream, TokenTree};

use crate::codes::Severity;

/// The first line of every diagnostic, runtime or compile-time. The runtime
/// formats with these very strings (`__diagnostic_format!`), so the two can
/// never drift apart.
pub(crate) const HEADER: &str = "[framealloc][{code}] {kind}: {message}";

/// Each further line: a note, a help line, the runtime's context.
pub(crate) const LINE: &str = "\n  {label}: {text}";

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
    let mut text = HEADER
        .replace("{code}", code)
        .replace("{kind}", kind)
        .replace("{message}", message);
    for (label, line) in [("note", note), ("help", help)] {
        if let Some(line) = line {
            text.push_str(&LINE.replace("{label}", label).replace("{text}", line));
        }
    }
    text
}

/// `__diagnostic_format!(header)` or `__diagnostic_format!(line)`: the
/// template as a string literal, usable as a format string.
pub(crate) fn diagnostic_format_impl(input: TokenStream) -> syn::Result<TokenStream> {
    let which: syn::Ident = syn::parse2(input)?;
    let template = match which.to_string().as_str() {
        "header" => HEADER,
        "line" => LINE,
        _ => {
            return Err(syn::Error::new_spanned(
                which,
                "expected `header` or `line`",
            ));
        }
    };
    Ok(TokenTree::Literal(Literal::string(template)).into())
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
