//! `fa_compile_error!(code = "FA101", message = "…", help = "…")`: checks the
//! arguments and expands to a `compile_error!` in the runtime's format.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

use crate::args::{Args, string_literal};
use crate::codes::{self, Code};
use crate::error::Errors;
use crate::render::render;

/// The keys `fa_compile_error!` accepts, and whether each is required.
const KEYS: &[(&str, bool)] = &[
    ("code", true),
    ("message", true),
    ("note", false),
    ("help", true),
];

/// The checked arguments.
struct Checked {
    code: &'static Code,
    message: LitStr,
    note: Option<LitStr>,
    help: LitStr,
}

/// Expands `fa_compile_error!`; every mistake in the input is reported.
pub(crate) fn fa_compile_error_impl(input: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(input)?;
    let checked = check(args)?;
    let text = render(
        checked.code.code,
        checked.code.severity,
        &checked.message.value(),
        checked.note.as_ref().map(LitStr::value).as_deref(),
        Some(&checked.help.value()),
    );
    let text = LitStr::new(&text, Span::call_site());
    Ok(quote! { ::core::compile_error! { #text } })
}

fn check(args: Args) -> syn::Result<Checked> {
    let mut errors = Errors::default();
    // The string given for each key of `KEYS`, by position.
    let mut values: [Option<LitStr>; KEYS.len()] = Default::default();
    let mut seen: [Option<&Ident>; KEYS.len()] = Default::default();
    for arg in &args.args {
        let name = arg.key.to_string();
        let Some(slot) = KEYS.iter().position(|(key, _)| *key == name) else {
            errors.spanned(
                &arg.key,
                format!("unknown key `{name}`; expected `code`, `message`, `note` or `help`"),
            );
            continue;
        };
        if seen[slot].is_some() {
            errors.spanned(&arg.key, format!("`{name}` is given more than once"));
            continue;
        }
        seen[slot] = Some(&arg.key);
        match string_literal(&arg.value) {
            Some(lit) => values[slot] = Some(lit.clone()),
            None => errors.spanned(
                &arg.value,
                format!("`{name}` takes a string literal, such as `{name} = \"…\"`"),
            ),
        }
    }
    for ((key, required), seen) in KEYS.iter().zip(&seen) {
        if *required && seen.is_none() {
            errors.at(
                Span::call_site(),
                format!("missing `{key} = \"…\"` in `fa_compile_error!`"),
            );
        }
    }
    let [code, message, note, help] = values;
    let code = code.and_then(|lit| match codes::lookup(&lit.value()) {
        Some(row) => Some(row),
        None => {
            errors.spanned(
                &lit,
                format!(
                    "unknown diagnostic code `{}`; known codes: {}",
                    lit.value(),
                    codes::known_codes()
                ),
            );
            None
        }
    });
    errors.finish()?;
    match (code, message, help) {
        (Some(code), Some(message), Some(help)) => Ok(Checked {
            code,
            message,
            note,
            help,
        }),
        // Every `None` above recorded an error, so `finish` returned it.
        _ => Err(syn::Error::new(
            Span::call_site(),
            "fa_compile_error!: incomplete arguments",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> Result<String, Vec<String>> {
        fa_compile_error_impl(input)
            .map(|tokens| tokens.to_string())
            .map_err(|error| error.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn expands_to_compile_error_in_the_runtime_format() {
        let out = expand(quote!(code = "FA101", message = "m", help = "h")).unwrap();
        assert!(out.contains("compile_error"), "{out}");
        assert!(
            out.contains(r#""[framealloc][FA101] error: m\n  help: h""#),
            "{out}"
        );
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let errors = expand(quote!(
            code = "FA999",
            message = 1,
            message = "x",
            colour = "red"
        ))
        .unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].contains("`message` takes a string literal"));
        assert!(errors[1].contains("`message` is given more than once"));
        assert!(errors[2].contains("unknown key `colour`"));
        assert!(errors[3].contains("missing `help"));
        assert!(errors[4].contains("unknown diagnostic code `FA999`"));
    }
}
