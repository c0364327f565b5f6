//! `#[frame_system]`: the parser and the checks.
//!
//! A frame system is a free `fn` with exactly one `&Frame` parameter; its
//! other parameters are Bevy system parameters. It becomes an ordinary Bevy
//! system: the user's function stays as an inner function, and the outer one
//! takes the same parameters minus the frame plus a `FrameAlloc` appended
//! *last* (piped `In<T>`, observers' `On<E>` and run conditions keep their
//! first parameter), opens the frame and calls the inner one.
//!
//! Whether that system can exist depends on the `framealloc` the user's
//! crate links: its `bevy` feature. A proc macro cannot see that (and its
//! own features are unified with the rest of a build), so the expansion
//! carries both outcomes to `framealloc::__frame_system_expand!`, which
//! framealloc defines per feature: the system with `bevy`, otherwise an
//! FA101 error at the attribute followed by the function unchanged (so its
//! callers do not fail too).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::{FnArg, GenericParam, Item, ItemFn, LitStr, Type};

use crate::codes;
use crate::error::Errors;
use crate::render::render;

/// Expands `#[frame_system]`: on success the FA101 error and the function; on
/// a mistake, every error and the item unchanged (no follow-on errors).
pub(crate) fn frame_system(args: TokenStream, item: TokenStream) -> TokenStream {
    match frame_system_impl(args, item.clone()) {
        Ok(expanded) => expanded,
        Err(error) => {
            let error = error.into_compile_error();
            quote! { #error #item }
        }
    }
}

/// The text of a misuse error: FA103 with the specific mistake as its
/// message.
fn fa103(mistake: &str) -> String {
    let row = codes::lookup("FA103").expect("FA103 is in the table");
    render(row.code, row.severity, mistake, None, None)
}

/// Collects misuse errors, each coded FA103.
#[derive(Default)]
struct Misuse(Errors);

impl Misuse {
    fn spanned(&mut self, tokens: impl ToTokens, mistake: &str) {
        self.0.spanned(tokens, fa103(mistake));
    }

    fn at(&mut self, span: Span, mistake: &str) {
        self.0.at(span, fa103(mistake));
    }
}

/// Checks the attribute and its function; see the module docs.
pub(crate) fn frame_system_impl(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Misuse::default();
    if !args.is_empty() {
        errors.spanned(&args, "`#[frame_system]` takes no arguments");
    }
    let function = match syn::parse2::<Item>(item)? {
        Item::Fn(function) => Some(function),
        other => {
            errors.spanned(
                item_keyword(&other),
                "`#[frame_system]` applies to a free `fn` only",
            );
            None
        }
    };
    if let Some(function) = &function {
        check_signature(function, &mut errors);
        check_parameters(function, &mut errors);
    }
    errors.0.finish()?;
    let function = function.expect("a parsed fn when there is no error");
    Ok(expand(&function))
}

/// The expansion of a checked frame system: both outcomes, for
/// `framealloc::__frame_system_expand!` to choose from.
fn expand(function: &ItemFn) -> TokenStream {
    let system = bevy_system(function);
    let fallback = bevy_feature_required(function);
    quote! {
        ::framealloc::__frame_system_expand! {
            bevy { #system }
            fallback { #fallback }
        }
    }
}

/// The token a "wrong kind of item" error points at.
fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Struct(item) => item.struct_token.to_token_stream(),
        Item::Enum(item) => item.enum_token.to_token_stream(),
        Item::Impl(item) => item.impl_token.to_token_stream(),
        Item::Const(item) => item.const_token.to_token_stream(),
        Item::Static(item) => item.static_token.to_token_stream(),
        Item::Mod(item) => item.mod_token.to_token_stream(),
        Item::Trait(item) => item.trait_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// Refuses what a Bevy system cannot be: `async`, `const`, `unsafe`,
/// `extern`, variadic, methods, generic or `where`-bounded functions.
fn check_signature(function: &ItemFn, errors: &mut Misuse) {
    let sig = &function.sig;
    if let Some(token) = &sig.constness {
        errors.spanned(token, "a frame system cannot be `const`");
    }
    if let Some(token) = &sig.asyncness {
        errors.spanned(
            token,
            "a frame system cannot be `async`: its frame must end before the system returns",
        );
    }
    if let Some(token) = &sig.unsafety {
        errors.spanned(token, "a frame system cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "a frame system cannot have an `extern` ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a frame system cannot be variadic");
    }
    for param in &sig.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            errors.spanned(
                param,
                "a frame system cannot be generic over types or constants; write one system per type",
            );
        }
    }
    if let Some(clause) = &sig.generics.where_clause {
        errors.spanned(clause, "a frame system cannot have a `where` clause");
    }
}

/// What a parameter's type is, as far as the frame goes.
enum FrameParam {
    /// `&Frame` or `&Frame<'_>` (any path ending in `Frame`).
    Shared,
    /// `&mut Frame`.
    Mutable,
    /// `Frame` by value.
    ByValue,
    /// Anything else: a Bevy system parameter.
    Other,
}

fn classify(ty: &Type) -> FrameParam {
    match ty {
        Type::Reference(reference) if names_frame(&reference.elem) => {
            if reference.mutability.is_some() {
                FrameParam::Mutable
            } else {
                FrameParam::Shared
            }
        }
        Type::Group(group) => classify(&group.elem),
        Type::Paren(paren) => classify(&paren.elem),
        ty if names_frame(ty) => FrameParam::ByValue,
        _ => FrameParam::Other,
    }
}

/// Whether `ty` is a path whose last segment is `Frame`, with at most a
/// lifetime argument.
fn names_frame(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    last.ident == "Frame"
        && match &last.arguments {
            syn::PathArguments::None => true,
            syn::PathArguments::AngleBracketed(args) => args
                .args
                .iter()
                .all(|arg| matches!(arg, syn::GenericArgument::Lifetime(_))),
            syn::PathArguments::Parenthesized(_) => false,
        }
}

/// Exactly one `&Frame` parameter, and no receiver.
fn check_parameters(function: &ItemFn, errors: &mut Misuse) {
    // `&Frame` parameters, and frame parameters of a refused shape.
    let (mut frames, mut misshapen) = (0, 0);
    for input in &function.sig.inputs {
        let ty = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    receiver,
                    "`#[frame_system]` applies to a free `fn` only, not to a method",
                );
                continue;
            }
            FnArg::Typed(typed) => &typed.ty,
        };
        match classify(ty) {
            FrameParam::Shared => {
                frames += 1;
                if frames > 1 {
                    errors.spanned(
                        ty,
                        "a frame system takes exactly one `&Frame` parameter; remove this one",
                    );
                }
            }
            FrameParam::Mutable => {
                misshapen += 1;
                errors.spanned(
                    ty,
                    "a frame system takes the frame as `&Frame`, not `&mut Frame`",
                );
            }
            FrameParam::ByValue => {
                misshapen += 1;
                errors.spanned(
                    ty,
                    "a frame system borrows its frame: write `&Frame` instead of `Frame`",
                );
            }
            FrameParam::Other => {}
        }
    }
    if frames + misshapen == 0 {
        errors.at(
            function.sig.paren_token.span.join(),
            "a frame system takes one `&Frame` parameter, such as `frame: &Frame`; its other parameters are Bevy system parameters",
        );
    }
}

/// The Bevy system for a checked frame system `f`:
///
/// ```text
/// #[attrs] vis fn f(p1: T1, p2: T2, alloc: ::framealloc::bevy::FrameAlloc) -> R {
///     fn f(<the user's parameters, frame included>) -> R { <the user's body> }
///     let frame = alloc.__begin_system_frame("<module path>::f");
///     f(p1, &frame, p2)
/// }
/// ```
///
/// The outer parameters are plain generated names (the user's patterns,
/// such as `In(x)` or `mut q`, stay on the inner function), and every
/// generated name is mixed-site, so nothing collides with the user's.
fn bevy_system(function: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    let name = &sig.ident;
    let output = &sig.output;
    let generics = &sig.generics;
    let site = Span::mixed_site();
    let alloc = syn::Ident::new("__framealloc_alloc", site);
    let frame = syn::Ident::new("__framealloc_frame", site);
    let mut outer_params = Vec::new();
    let mut call_args = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else {
            unreachable!("receivers were refused")
        };
        if matches!(classify(&typed.ty), FrameParam::Shared) {
            call_args.push(quote!(&#frame));
        } else {
            let arg = format_ident!("__framealloc_arg{}", index, span = site);
            let ty = &typed.ty;
            outer_params.push(quote!(#arg: #ty));
            call_args.push(quote!(#arg));
        }
    }
    let inner = ItemFn {
        attrs: Vec::new(),
        vis: syn::Visibility::Inherited,
        sig: sig.clone(),
        block: function.block.clone(),
    };
    quote! {
        #(#attrs)*
        #vis fn #name #generics (
            #(#outer_params,)*
            #alloc: ::framealloc::bevy::FrameAlloc<'_>
        ) #output {
            #[inline(always)]
            #inner
            let #frame = #alloc.__begin_system_frame(::core::concat!(
                ::core::module_path!(), "::", ::core::stringify!(#name)
            ));
            #name(#(#call_args),*)
        }
    }
}

/// The expansion of a well-formed frame system in a build without the
/// `bevy` feature: FA101 at the attribute, then the function unchanged.
fn bevy_feature_required(function: &ItemFn) -> TokenStream {
    let row = codes::lookup("FA101").expect("FA101 is in the table");
    let text = render(
        row.code,
        row.severity,
        "`#[frame_system]` needs framealloc's `bevy` feature",
        Some(
            "a frame system becomes an ordinary Bevy system that opens a frame on the thread running it; that expansion comes with the `bevy` feature, which is off in this build",
        ),
        Some(
            "enable it: add `features = [\"bevy\"]` to your `framealloc` dependency, then add `framealloc::bevy::SmartAllocPlugin` to your App",
        ),
    );
    let text = LitStr::new(&text, Span::call_site());
    quote! {
        ::core::compile_error! { #text }
        #function
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        match frame_system_impl(args, item) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn expanded(item: TokenStream, bevy: bool) -> String {
        let function = syn::parse2(item).unwrap();
        let both = expand(&function).to_string();
        let (system, fallback) = (
            bevy_system(&function).to_string(),
            bevy_feature_required(&function).to_string(),
        );
        assert!(
            both.starts_with(":: framealloc :: __frame_system_expand !"),
            "{both}"
        );
        assert!(both.contains(&system) && both.contains(&fallback), "{both}");
        if bevy { system } else { fallback }
    }

    #[test]
    fn without_the_bevy_feature_a_well_formed_system_is_fa101() {
        let out = expanded(
            quote!(
                fn f(frame: &Frame<'_>, q: Query<&A>) {}
            ),
            false,
        );
        assert!(out.contains("[framealloc][FA101] error"), "{out}");
        assert!(out.contains("fn f"), "the function is kept: {out}");
    }

    #[test]
    fn with_the_bevy_feature_the_frame_becomes_a_frame_alloc_appended_last() {
        let out = expanded(
            quote!(
                pub fn f(In(x): In<u32>, frame: &Frame, mut q: Query<&A>) -> u32 {
                    x
                }
            ),
            true,
        );
        let outer = out.split("{").next().unwrap();
        assert!(
            outer.contains(
                "pub fn f (__framealloc_arg0 : In < u32 > , __framealloc_arg2 : Query < & A > , __framealloc_alloc : :: framealloc :: bevy :: FrameAlloc < '_ >) -> u32"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "fn f (In (x) : In < u32 > , frame : & Frame , mut q : Query < & A >) -> u32 { x }"
            ),
            "the user's function is kept whole inside: {out}"
        );
        assert!(
            out.contains("f (__framealloc_arg0 , & __framealloc_frame , __framealloc_arg2)"),
            "the frame is passed where it was declared: {out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn every_mistake_is_reported() {
        let found = errors(
            quote!(x),
            quote!(
                const async unsafe fn f<T>(a: &Frame, b: &Frame)
                where
                    T: Copy,
                {
                }
            ),
        );
        assert_eq!(found.len(), 7, "{found:#?}");
    }

    #[test]
    fn frame_parameter_shapes() {
        assert_eq!(
            errors(
                quote!(),
                quote!(
                    fn f(a: &framealloc::Frame) {}
                )
            )
            .len(),
            0
        );
        assert!(
            errors(
                quote!(),
                quote!(
                    fn f(a: &mut Frame) {}
                )
            )[0]
            .contains("&mut Frame")
        );
        assert!(
            errors(
                quote!(),
                quote!(
                    fn f(a: Frame) {}
                )
            )[0]
            .contains("borrows its frame")
        );
        assert!(
            errors(
                quote!(),
                quote!(
                    fn f(q: Query<&A>) {}
                )
            )[0]
            .contains("one `&Frame`")
        );
        assert!(
            errors(
                quote!(),
                quote!(
                    struct S;
                )
            )[0]
            .contains("free `fn` only")
        );
    }
}
