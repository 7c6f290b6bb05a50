//! `#[import(module = "...")]`: an `unsafe extern "C"` block of host
//! functions becomes safe functions of the same names, over a raw block
//! that always carries `#[link(wasm_import_module = "...")]`.
//!
//! The attribute is the point: without it, rustc up to 1.95 silently
//! imports undeclared functions from `"env"` (wasm-ld's --allow-undefined),
//! and 1.96+ (rust-lang/rust#149868) fails to link with `undefined symbol`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{FnArg, ForeignItem, ForeignItemFn, ItemForeignMod, Pat, ReturnType, Type};

use crate::args;
use crate::types::{self, Kind};

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::parse(attr, &["module"])?;
    let Some(module) = args::get(&args, "module").cloned() else {
        return Err(args::call_site_error(
            "#[spindle_pdk::import] needs `module = \"...\"`: the wasm import module \
             the host registered the functions under (never `env` by default)",
        ));
    };
    let block: ItemForeignMod = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "#[spindle_pdk::import] goes on an `unsafe extern \"C\" {{ fn ...; }}` block: {e}"
            ),
        )
    })?;
    // Not a let chain: the kit keeps building on Rust 1.85.
    if let Some(name) = &block.abi.name {
        if name.value() != "C" {
            return Err(syn::Error::new_spanned(
                name,
                "host functions use the \"C\" ABI: write `unsafe extern \"C\"`",
            ));
        }
    }
    for attr in &block.attrs {
        if attr.path().is_ident("link") {
            return Err(syn::Error::new_spanned(
                attr,
                "remove this #[link]: the macro emits #[link(wasm_import_module)] from `module`",
            ));
        }
    }
    let block_attrs = &block.attrs;

    let mut raw = Vec::new();
    let mut safe = Vec::new();
    for item in &block.items {
        let ForeignItem::Fn(f) = item else {
            return Err(syn::Error::new_spanned(
                item,
                "only functions can be imported from the host",
            ));
        };
        let (r, s) = one(f)?;
        raw.push(r);
        safe.push(s);
    }
    Ok(quote! {
        #(#block_attrs)*
        #[link(wasm_import_module = #module)]
        unsafe extern "C" {
            #(#raw)*
        }
        #(#safe)*
    })
}

/// The raw declaration and the safe wrapper of one host function.
fn one(f: &ForeignItemFn) -> syn::Result<(TokenStream, TokenStream)> {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a host function cannot be generic",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            v,
            "a host function cannot be variadic",
        ));
    }
    let mut link_name = sig.ident.to_string();
    let mut docs = Vec::new();
    let mut cfgs = Vec::new();
    for attr in &f.attrs {
        if attr.path().is_ident("link_name") {
            let nv = attr.meta.require_name_value()?;
            match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => link_name = s.value(),
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`link_name` takes a string literal",
                    ));
                }
            }
        } else if attr.path().is_ident("doc") {
            docs.push(attr);
        } else if attr.path().is_ident("cfg") {
            cfgs.push(attr);
        } else {
            return Err(syn::Error::new_spanned(
                attr,
                "only doc comments, #[cfg] and #[link_name = \"...\"] are allowed here",
            ));
        }
    }

    let mut params = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "a host function has no `self`",
            ));
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new_spanned(
                &pt.pat,
                "name each parameter with a plain identifier",
            ));
        };
        let kind = types::kind(&pt.ty);
        if kind == Kind::Other {
            return Err(unsupported(&pt.ty));
        }
        params.push((&pi.ident, &*pt.ty, kind));
    }
    let ret = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => {
            let kind = types::kind(ty);
            if kind == Kind::Other {
                return Err(unsupported(ty));
            }
            Some((&**ty, kind))
        }
    };

    let vis = &f.vis;
    let ident = &sig.ident;
    let raw_ident = format_ident!("__spindle_import_{}", ident);
    let output = &sig.output;
    let any_list = params.iter().any(|p| p.2 == Kind::List) || matches!(ret, Some((_, Kind::List)));
    if !any_list {
        let names: Vec<_> = params.iter().map(|p| p.0).collect();
        let tys: Vec<_> = params.iter().map(|p| p.1).collect();
        let raw = quote! {
            #(#cfgs)*
            #[link_name = #link_name]
            fn #raw_ident(#(#names: #tys),*) #output;
        };
        let wrapper = quote! {
            #(#cfgs)*
            #(#docs)*
            #[inline]
            #vis fn #ident(#(#names: #tys),*) #output {
                // SAFETY: only plain wasm values cross (the macro accepts
                // nothing else here); the host checks its arguments.
                unsafe { #raw_ident(#(#names),*) }
            }
        };
        return Ok((raw, wrapper));
    }

    // A bytes host function: the guest contract's `(ptr, len, ret)`.
    let (Some((ret_ty, _)), [(name, ty, Kind::List)]) = (ret, params.as_slice()) else {
        return Err(syn::Error::new_spanned(
            sig,
            "a host function that takes or returns bytes has the guest contract's type: \
             one parameter (`&str`, `&[u8]`, `String` or `Vec<u8>`) and a return of \
             `String` or `Vec<u8>` (docs/guest-contract.md)",
        ));
    };
    if !types::is_owned_list(ret_ty) {
        return Err(syn::Error::new_spanned(
            ret_ty,
            "a host function returns its bytes as `String` or `Vec<u8>` (the plugin owns them)",
        ));
    }
    let raw = quote! {
        #(#cfgs)*
        #[link_name = #link_name]
        fn #raw_ident(ptr: *const u8, len: usize, ret: *mut usize);
    };
    let wrapper = quote! {
        #(#cfgs)*
        #(#docs)*
        #vis fn #ident(#name: #ty) -> #ret_ty {
            // SAFETY: `#raw_ident` is a host function of the guest
            // contract's `(ptr, len, ret)` type, as `call_list` requires.
            let out = unsafe {
                ::spindle_pdk::__private::call_list(
                    ::core::convert::AsRef::<[u8]>::as_ref(&#name),
                    #raw_ident,
                )
            };
            <#ret_ty as ::spindle_pdk::__private::FromHostOutput>::from_host_output(out)
        }
    };
    Ok((raw, wrapper))
}

fn unsupported(ty: &Type) -> syn::Error {
    syn::Error::new_spanned(
        ty,
        "unsupported type for a host function: use a wasm value (`i32`, `u32`, `i64`, \
         `u64`, `f32`, `f64`) or bytes (`&str`, `&[u8]`, `String`, `Vec<u8>`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(attr: &str, item: &str) -> String {
        expand(attr.parse().unwrap(), item.parse().unwrap())
            .unwrap()
            .to_string()
    }

    fn err(attr: &str, item: &str) -> String {
        expand(attr.parse().unwrap(), item.parse().unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn always_names_the_import_module_and_wraps_safely() {
        let out = ok(
            "module = \"app\"",
            "unsafe extern \"C\" { fn visits(delta: u32) -> u32; pub fn shout(s: &str) -> String; }",
        );
        assert!(out.contains("link (wasm_import_module = \"app\")"), "{out}");
        assert!(out.contains("link_name = \"visits\""), "{out}");
        assert!(out.contains("fn visits (delta : u32) -> u32"), "{out}");
        assert!(out.contains("pub fn shout (s : & str) -> String"), "{out}");
        assert!(
            out.contains(
                "fn __spindle_import_shout (ptr : * const u8 , len : usize , ret : * mut usize)"
            ),
            "{out}"
        );
        // `link_name` renames the import, not the Rust function.
        let out = ok(
            "module = \"m\"",
            "unsafe extern \"C\" { #[link_name = \"log-line\"] fn log(x: i32); }",
        );
        assert!(out.contains("link_name = \"log-line\""), "{out}");
        assert!(out.contains("fn log (x : i32)"), "{out}");
    }

    #[test]
    fn bad_input_is_named() {
        let block = "unsafe extern \"C\" { fn f(); }";
        assert!(err("", block).contains("needs `module = \"...\"`"));
        assert!(err("modul = \"app\"", block).contains("unknown argument"));
        assert!(err("module = \"app\"", "fn f() {}").contains("goes on an `unsafe extern"));
        assert!(
            err("module = \"app\"", "unsafe extern \"Rust\" { fn f(); }").contains("\"C\" ABI")
        );
        assert!(
            err(
                "module = \"app\"",
                "#[link(wasm_import_module = \"x\")] unsafe extern \"C\" { fn f(); }"
            )
            .contains("remove this #[link]")
        );
        assert!(
            err(
                "module = \"app\"",
                "unsafe extern \"C\" { fn f(p: *const u8); }"
            )
            .contains("unsupported type")
        );
        assert!(
            err(
                "module = \"app\"",
                "unsafe extern \"C\" { fn f() -> bool; }"
            )
            .contains("unsupported type")
        );
        assert!(
            err(
                "module = \"app\"",
                "unsafe extern \"C\" { fn f(a: &str, b: u32) -> String; }"
            )
            .contains("guest contract's type")
        );
        assert!(
            err("module = \"app\"", "unsafe extern \"C\" { fn f(a: &str); }")
                .contains("guest contract's type")
        );
        assert!(
            err(
                "module = \"app\"",
                "unsafe extern \"C\" { fn f(a: &str) -> &str; }"
            )
            .contains("`String` or `Vec<u8>`")
        );
        assert!(
            err("module = \"app\"", "unsafe extern \"C\" { static X: u32; }")
                .contains("only functions")
        );
    }
}
