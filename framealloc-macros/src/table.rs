//! `__diagnostic_table!()`: the table of codes as a Rust array literal, for
//! the runtime's `framealloc::diagnostics::CODES`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::codes::CODES;

/// Expands to `[CodeInfo { code: "FA001", category: "Frame", kind:
/// DiagnosticKind::Error, message: "…", note: "…", help: "…" }, …]`.
///
/// `CodeInfo` and `DiagnosticKind` are written as bare names and resolve
/// where the macro is invoked (`framealloc/src/diagnostics/codes.rs`).
pub(crate) fn diagnostic_table_impl(input: TokenStream) -> syn::Result<TokenStream> {
    if !input.is_empty() {
        return Err(syn::Error::new_spanned(
            input,
            "`__diagnostic_table!` takes no input",
        ));
    }
    let rows = CODES.iter().map(|row| {
        let (code, category, message, note, help) =
            (row.code, row.category, row.message, row.note, row.help);
        let kind = format_ident!("{}", row.severity.variant());
        quote! {
            CodeInfo {
                code: #code,
                category: #category,
                kind: DiagnosticKind::#kind,
                message: #message,
                note: #note,
                help: #help,
            }
        }
    });
    Ok(quote! { [ #(#rows),* ] })
}
