//! Which Rust types cross the boundary as bytes (the guest contract's
//! `list<u8>`) and which as plain wasm values, decided from the syntax: the
//! import macro must pick the core signature before any type is resolved.

use syn::{GenericArgument, PathArguments, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `&str`, `&[u8]`, `String`, `Vec<u8>`: a `(ptr, len)` pair.
    List,
    /// `i32`, `u32`, `i64`, `u64`, `f32`, `f64`: one wasm value.
    Scalar,
    Other,
}

pub fn kind(ty: &Type) -> Kind {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Path(p) if last_is(p, "str") => Kind::List,
            Type::Slice(s) if is_u8(&s.elem) => Kind::List,
            _ => Kind::Other,
        },
        Type::Path(p) if p.qself.is_none() => {
            let Some(seg) = p.path.segments.last() else {
                return Kind::Other;
            };
            let name = seg.ident.to_string();
            match (name.as_str(), &seg.arguments) {
                ("String", PathArguments::None) => Kind::List,
                ("Vec", PathArguments::AngleBracketed(a)) => match a.args.first() {
                    Some(GenericArgument::Type(t)) if a.args.len() == 1 && is_u8(t) => Kind::List,
                    _ => Kind::Other,
                },
                ("i32" | "u32" | "i64" | "u64" | "f32" | "f64", PathArguments::None)
                    if p.path.segments.len() == 1 =>
                {
                    Kind::Scalar
                }
                _ => Kind::Other,
            }
        }
        Type::Paren(p) => kind(&p.elem),
        Type::Group(g) => kind(&g.elem),
        _ => Kind::Other,
    }
}

/// `String` or `Vec<u8>`: an owned list a host function can return.
pub fn is_owned_list(ty: &Type) -> bool {
    kind(ty) == Kind::List && !matches!(ty, Type::Reference(_))
}

fn last_is(p: &syn::TypePath, name: &str) -> bool {
    p.qself.is_none() && p.path.segments.len() == 1 && p.path.segments[0].ident == name
}

fn is_u8(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if last_is(p, "u8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Kind {
        kind(&syn::parse_str(s).unwrap())
    }

    #[test]
    fn the_four_list_types_and_the_six_scalars_are_recognised() {
        for t in [
            "&str",
            "&[u8]",
            "String",
            "Vec<u8>",
            "&'a str",
            "std::string::String",
        ] {
            assert_eq!(k(t), Kind::List, "{t}");
        }
        for t in ["i32", "u32", "i64", "u64", "f32", "f64"] {
            assert_eq!(k(t), Kind::Scalar, "{t}");
        }
        for t in [
            "&mut str",
            "Vec<u32>",
            "*const u8",
            "usize",
            "bool",
            "&[u16]",
            "core::primitive::u32",
        ] {
            assert_eq!(k(t), Kind::Other, "{t}");
        }
        assert!(is_owned_list(&syn::parse_str("Vec<u8>").unwrap()));
        assert!(!is_owned_list(&syn::parse_str("&[u8]").unwrap()));
    }
}
