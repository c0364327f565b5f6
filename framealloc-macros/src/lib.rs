//! Procedural macros for [`framealloc`](https://docs.rs/framealloc).
//!
//! Users never depend on this crate directly: `framealloc` re-exports every
//! macro it defines (`framealloc::fa_compile_error`, `framealloc::frame_system`).
//!
//! The crate also owns the table of diagnostic codes (`codes.rs`), the one
//! source of truth the runtime reads through the hidden `__diagnostic_table!`.
//! It holds no runtime logic and no `unsafe`. Each entry point below parses,
//! calls an `_impl` function returning `syn::Result`, and turns errors into
//! spanned compile errors; every mistake in one input is reported at once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod codes;
mod compile_error;
mod error;
mod frame_system;
mod render;
mod table;

use proc_macro::TokenStream;

/// Stops compilation with a framealloc diagnostic, in the same format as the
/// runtime prints:
///
/// ```text
/// error: [framealloc][FA101] error: <message>
///          note: <note>
///          help: <help>
/// ```
///
/// Keys: `code` (a code from framealloc's table, such as `"FA101"`),
/// `message` and `help` are required, `note` is optional; each value is a
/// string literal. An unknown code, a missing, repeated or unknown key, or a
/// value that is not a string literal is an error pointing at that token.
///
/// Use it behind a `cfg` to explain a configuration that cannot work:
///
/// ```
/// // In a game whose `bevy` feature forgot to turn on framealloc's:
/// #[cfg(all(feature = "game-bevy", not(feature = "game-framealloc-bevy")))]
/// framealloc::fa_compile_error!(
///     code = "FA101",
///     message = "Bevy support enabled but framealloc's `bevy` feature is off",
///     help = "enable the `bevy` feature of framealloc",
/// );
/// # fn main() {}
/// ```
///
/// Expanded, it fails the build:
///
/// ```compile_fail
/// framealloc::fa_compile_error!(
///     code = "FA101",
///     message = "Bevy support enabled but plugin not registered",
///     help = "add .add_plugins(SmartAllocPlugin) to your App",
/// );
/// # fn main() {}
/// ```
#[proc_macro]
pub fn fa_compile_error(input: TokenStream) -> TokenStream {
    compile_error::fa_compile_error_impl(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Marks a Bevy system that allocates frame memory:
/// `#[frame_system] fn f(frame: &Frame, query: Query<…>)`.
///
/// The function must be a free `fn` (not `async`, `const`, `unsafe`,
/// `extern`, generic over types or with a `where` clause) with exactly one
/// `&Frame` parameter; its other parameters are Bevy system parameters, in
/// any order (`In<T>` or `On<E>` first, as Bevy wants them). The attribute
/// takes no arguments. Each mistake is a coded error at the offending
/// token.
///
/// It becomes an ordinary system that works with `add_systems`, ordering,
/// `run_if`, piping, observers, `Local`, `Commands` and queries. Each run
/// opens a frame on the thread running the system (through a
/// `framealloc::bevy::FrameAlloc` parameter appended after yours) and ends
/// it when the system returns, so the next system on that thread reuses the
/// memory. With framealloc's `bevy` feature off, a well-formed use is an
/// FA101 compile error at the attribute (the choice is made by the
/// `framealloc` your crate links, through its hidden
/// `__frame_system_expand!`).
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framealloc::{Frame, frame_system};
///
/// #[derive(Component)]
/// struct Enemy { threat: u32 }
///
/// #[frame_system]
/// fn pick_targets(frame: &Frame, enemies: Query<&Enemy>, mut commands: Commands) {
///     let mut threats = frame.alloc_slice_fill_iter(enemies.iter().map(|e| e.threat));
///     threats.sort_unstable();
///     assert_eq!(*threats, [1, 5, 9]);
///     commands.spawn(Enemy { threat: threats[0] }); // values leave the frame, memory does not
/// }
///
/// let mut app = App::new();
/// app.add_plugins(framealloc::bevy::SmartAllocPlugin::default())
///     .add_systems(Update, pick_targets);
/// app.world_mut().spawn_batch([9, 1, 5].map(|threat| Enemy { threat }));
/// app.update();
/// ```
#[proc_macro_attribute]
pub fn frame_system(args: TokenStream, item: TokenStream) -> TokenStream {
    frame_system::frame_system(args.into(), item.into()).into()
}

/// The text format of a diagnostic line, as a string literal:
/// `__diagnostic_format!(header)` or `__diagnostic_format!(line)`. The
/// runtime's `Display` uses it as its format string. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn __diagnostic_format(input: TokenStream) -> TokenStream {
    render::diagnostic_format_impl(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The table of diagnostic codes as an array literal of `CodeInfo` values,
/// for `framealloc::diagnostics::CODES`. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn __diagnostic_table(input: TokenStream) -> TokenStream {
    table::diagnostic_table_impl(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `__check_code!(FA001)` expands to nothing when `FA001` is in the table of
/// diagnostic codes, and to a `compile_error!` naming the code and the known
/// ones when it is not, spanned on the code. The runtime emission macros
/// (`fa_emit!` and friends) call it so that an unknown code stops
/// `cargo check`, not only a full build. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn __check_code(input: TokenStream) -> TokenStream {
    let code = syn::parse_macro_input!(input as syn::Ident);
    match codes::lookup(&code.to_string()) {
        Some(_) => TokenStream::new(),
        None => syn::Error::new(
            code.span(),
            format!(
                "unknown framealloc diagnostic code `{code}`; known codes: {}",
                codes::known_codes()
            ),
        )
        .into_compile_error()
        .into(),
    }
}
