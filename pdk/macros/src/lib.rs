//! The two attributes of `spindle-pdk`. Their expansion lives in
//! [`export`] and [`import`] as functions on `proc_macro2` tokens, so the
//! unit tests below each can run them without a compiler invocation.

use proc_macro::TokenStream;

mod args;
mod export;
mod import;
mod types;

/// Exports a function through the guest contract. See the `spindle-pdk`
/// crate's documentation.
#[proc_macro_attribute]
pub fn export(attr: TokenStream, item: TokenStream) -> TokenStream {
    export::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares host functions of one import module as safe functions. See the
/// `spindle-pdk` crate's documentation.
#[proc_macro_attribute]
pub fn import(attr: TokenStream, item: TokenStream) -> TokenStream {
    import::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
