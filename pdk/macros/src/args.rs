//! `key = "value"` attribute arguments, the only form both attributes take.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, MetaNameValue, Token};

/// Parses `a = "x", b = "y"`, accepting only the keys in `allowed`.
pub fn parse(attr: TokenStream, allowed: &[&str]) -> syn::Result<Vec<(String, LitStr)>> {
    let list = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(attr)?;
    let mut out: Vec<(String, LitStr)> = Vec::new();
    for nv in list {
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(syn::Error::new_spanned(
                &nv.path,
                format!("unknown argument; expected {}", expected(allowed)),
            ));
        }
        let Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        else {
            return Err(syn::Error::new_spanned(
                &nv.value,
                format!("`{key}` takes a string literal, as in `{key} = \"...\"`"),
            ));
        };
        if s.value().is_empty() {
            return Err(syn::Error::new_spanned(
                s,
                format!("`{key}` cannot be empty"),
            ));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(syn::Error::new_spanned(
                &nv.path,
                format!("`{key}` given twice"),
            ));
        }
        out.push((key, s.clone()));
    }
    Ok(out)
}

fn expected(allowed: &[&str]) -> String {
    let keys: Vec<String> = allowed.iter().map(|k| format!("`{k} = \"...\"`")).collect();
    keys.join(" or ")
}

pub fn get<'a>(args: &'a [(String, LitStr)], key: &str) -> Option<&'a LitStr> {
    args.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

pub fn call_site_error(msg: &str) -> syn::Error {
    syn::Error::new(Span::call_site(), msg)
}
