//! `#[export]`: a Rust function becomes an export of the guest contract,
//! `NAME(ptr, len) -> result_area` plus `cabi_post_NAME(result_area)`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType};

use crate::args;

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::parse(attr, &["name"])?;
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("#[spindle_pdk::export] goes on a function: {e}"),
        )
    })?;
    check(&func)?;
    let export_name = args::get(&args, "name")
        .map(|s| s.value())
        .unwrap_or_else(|| func.sig.ident.to_string());
    let post_name = format!("cabi_post_{export_name}");
    let ident = &func.sig.ident;
    let wrapper = format_ident!("__spindle_export_{}", ident);
    let post = format_ident!("__spindle_post_{}", ident);

    let call = match func.sig.inputs.first() {
        None => quote! { #ident() },
        Some(FnArg::Typed(pt)) => {
            let ty = &pt.ty;
            let arg = quote_spanned! {ty.span()=>
                <#ty as ::spindle_pdk::__private::FromInput<'_>>::from_input(&mut input)
            };
            quote! {
                match #arg {
                    ::core::result::Result::Ok(arg) => #ident(arg),
                    ::core::result::Result::Err(e) => {
                        return ::spindle_pdk::__private::finish(::core::result::Result::Err(e));
                    }
                }
            }
        }
        Some(FnArg::Receiver(_)) => unreachable!("rejected by check"),
    };
    let ret_span = match &func.sig.output {
        ReturnType::Default => func.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let into_output = quote_spanned! {ret_span=>
        ::spindle_pdk::__private::IntoOutput::into_output(out)
    };

    Ok(quote! {
        #func

        const _: () = {
            #[unsafe(export_name = #export_name)]
            unsafe extern "C" fn #wrapper(ptr: *mut u8, len: usize) -> *const usize {
                // SAFETY: the guest contract: the host allocated these `len`
                // bytes with this module's `cabi_realloc` (align 1), filled
                // them and hands them over with this call.
                let mut input = unsafe { ::spindle_pdk::__private::Input::adopt(ptr, len) };
                let out = #call;
                let out = #into_output;
                ::core::mem::drop(input);
                ::spindle_pdk::__private::finish(out)
            }

            #[unsafe(export_name = #post_name)]
            unsafe extern "C" fn #post(area: *mut usize) {
                // SAFETY: the host passes back the result area the export
                // just returned, once; `post` checks it is the kit's own.
                unsafe { ::spindle_pdk::__private::post(area) }
            }
        };
    })
}

fn check(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let fail = |tokens: &dyn quote::ToTokens, msg: &str| Err(syn::Error::new_spanned(tokens, msg));
    if let Some(a) = &sig.asyncness {
        return fail(
            a,
            "an exported function cannot be `async`: the host calls it synchronously",
        );
    }
    if let Some(c) = &sig.constness {
        return fail(c, "an exported function cannot be `const`");
    }
    if let Some(abi) = &sig.abi {
        return fail(
            abi,
            "leave out the ABI: #[export] writes the `extern \"C\"` wrapper itself",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return fail(&sig.generics, "an exported function cannot be generic");
    }
    if let Some(v) = &sig.variadic {
        return fail(v, "an exported function cannot be variadic");
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return fail(r, "an exported function is a free function, without `self`");
    }
    if sig.inputs.len() > 1 {
        return fail(
            &sig.inputs,
            "an exported function takes at most one parameter (the input: \
             `String`, `&str`, `Vec<u8>` or `&[u8]`)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(attr: &str, item: &str) -> String {
        expand(attr.parse().unwrap(), item.parse().unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn generates_the_export_and_its_post_return() {
        let out = expand(
            TokenStream::new(),
            "fn greet(name: String) -> String { name }".parse().unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("export_name = \"greet\""), "{out}");
        assert!(out.contains("export_name = \"cabi_post_greet\""), "{out}");
        assert!(out.contains("FromInput"), "{out}");
        // The function itself is kept, callable from Rust.
        assert!(out.starts_with("fn greet"), "{out}");
        let renamed = expand(
            "name = \"hi\"".parse().unwrap(),
            "fn greet() {}".parse().unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(renamed.contains("export_name = \"hi\""), "{renamed}");
        assert!(
            renamed.contains("export_name = \"cabi_post_hi\""),
            "{renamed}"
        );
    }

    #[test]
    fn bad_input_is_named() {
        assert!(err("", "fn f(a: &str, b: &str) {}").contains("at most one parameter"));
        assert!(err("", "async fn f() {}").contains("cannot be `async`"));
        assert!(err("", "fn f<T>(t: T) {}").contains("cannot be generic"));
        assert!(err("", "extern \"C\" fn f() {}").contains("leave out the ABI"));
        assert!(err("", "struct S;").contains("goes on a function"));
        assert!(err("module = \"x\"", "fn f() {}").contains("unknown argument"));
        assert!(err("name = 3", "fn f() {}").contains("string literal"));
        assert!(err("name = \"\"", "fn f() {}").contains("cannot be empty"));
    }
}
