//! Parsing `key = value, …` lists, the input of `fa_compile_error!`.
//!
//! The syntax is parsed loosely (any identifier, any expression) so the
//! checks in `compile_error.rs` can point at the exact key or value that is
//! wrong instead of stopping at the first unexpected token.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// One `key = value` pair.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Arg> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        Ok(Arg { key, value })
    }
}

/// The whole list; a trailing comma is allowed.
pub(crate) struct Args {
    pub(crate) args: Vec<Arg>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let args = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        Ok(Args {
            args: args.into_iter().collect(),
        })
    }
}

/// The string literal `value` is, looking through the invisible groups that
/// `macro_rules!` wraps around `$x:expr` arguments.
pub(crate) fn string_literal(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Some(lit),
        Expr::Group(group) => string_literal(&group.expr),
        _ => None,
    }
}
