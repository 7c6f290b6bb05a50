//! Rust ⇄ wasm value-type mapping used for typed calls and host functions.
//!
//! wasmtime has its own traits for this, but their type-describing methods are
//! hidden; spindle needs the wasm signature of a Rust type *before* any call
//! happens, so that a mismatch can be reported with both signatures.

use std::fmt;
use wasmtime::{ExternType, FuncType, ValType, WasmParams, WasmResults, WasmRet, WasmTy};

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that maps one-to-one onto a wasm value type.
///
/// `u32`/`u64` map onto `i32`/`i64` (wasm integers carry no sign).
pub trait Val: WasmTy + sealed::Sealed + Copy + Send + Sync + 'static {
    /// The wasm value type this Rust type stands for.
    fn val_type() -> ValType;
    #[doc(hidden)]
    fn into_val(self) -> wasmtime::Val;
    #[doc(hidden)]
    fn from_val(v: &wasmtime::Val) -> Self;
}

macro_rules! val {
    ($($t:ty => $v:ident, $into:expr, $from:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Val for $t {
            fn val_type() -> ValType { ValType::$v }
            fn into_val(self) -> wasmtime::Val { $into(self) }
            fn from_val(v: &wasmtime::Val) -> Self { $from(v) }
        }
    )*};
}
// The `as` casts reinterpret bits: wasm integers carry no sign.
val! {
    i32 => I32, wasmtime::Val::I32, |v: &wasmtime::Val| v.unwrap_i32();
    u32 => I32, |x: u32| wasmtime::Val::I32(x as i32), |v: &wasmtime::Val| v.unwrap_i32() as u32;
    i64 => I64, wasmtime::Val::I64, |v: &wasmtime::Val| v.unwrap_i64();
    u64 => I64, |x: u64| wasmtime::Val::I64(x as i64), |v: &wasmtime::Val| v.unwrap_i64() as u64;
    f32 => F32, |x: f32| wasmtime::Val::F32(x.to_bits()), |v: &wasmtime::Val| v.unwrap_f32();
    f64 => F64, |x: f64| wasmtime::Val::F64(x.to_bits()), |v: &wasmtime::Val| v.unwrap_f64();
}

/// A list of wasm values: `()`, a single [`Val`], or a tuple of up to 8 of them.
///
/// Used for both parameters and results of typed calls and host functions.
pub trait Values: WasmParams + WasmResults + WasmRet + Send + Sync + 'static {
    /// The wasm types of the list, in order.
    fn val_types() -> Vec<ValType>;
    /// The values as untyped wasmtime values (for calls through `Func::call_async`).
    #[doc(hidden)]
    fn into_vals(self) -> Vec<wasmtime::Val>;
    /// Reads the values back; `vals` has the types of [`Values::val_types`].
    #[doc(hidden)]
    fn from_vals(vals: &[wasmtime::Val]) -> Self;
}

impl<V: Val> Values for V {
    fn val_types() -> Vec<ValType> {
        vec![V::val_type()]
    }
    fn into_vals(self) -> Vec<wasmtime::Val> {
        vec![self.into_val()]
    }
    fn from_vals(vals: &[wasmtime::Val]) -> Self {
        V::from_val(&vals[0])
    }
}

macro_rules! values_tuple {
    ($($t:ident)*) => {
        impl<$($t: Val),*> Values for ($($t,)*) {
            fn val_types() -> Vec<ValType> {
                vec![$($t::val_type()),*]
            }
            #[allow(non_snake_case)]
            fn into_vals(self) -> Vec<wasmtime::Val> {
                let ($($t,)*) = self;
                vec![$($t.into_val()),*]
            }
            #[allow(unused_variables, unused_mut, clippy::unused_unit)]
            fn from_vals(vals: &[wasmtime::Val]) -> Self {
                let mut it = vals.iter();
                ($($t::from_val(it.next().expect("checked signature")),)*)
            }
        }
    };
}
values_tuple!();
values_tuple!(A);
values_tuple!(A B);
values_tuple!(A B C);
values_tuple!(A B C D);
values_tuple!(A B C D E);
values_tuple!(A B C D E F);
values_tuple!(A B C D E F G);
values_tuple!(A B C D E F G H);

/// A function signature, displayed in WebAssembly text form:
/// `(func (param i32 i32) (result i32))`.
#[derive(Clone, Debug)]
pub struct Signature {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl Signature {
    /// Signature of a function taking `P` and returning `R`.
    pub fn of<P: Values, R: Values>() -> Self {
        Signature {
            params: P::val_types(),
            results: R::val_types(),
        }
    }

    pub(crate) fn new(params: Vec<ValType>, results: Vec<ValType>) -> Self {
        Signature { params, results }
    }

    pub(crate) fn from_func_type(ty: &FuncType) -> Self {
        Signature {
            params: ty.params().collect(),
            results: ty.results().collect(),
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// Whether a function of this signature may stand where `wanted` is
    /// required (wasm subtyping; for numeric types this is equality).
    pub(crate) fn fits(&self, wanted: &Signature) -> bool {
        self.params.len() == wanted.params.len()
            && self.results.len() == wanted.results.len()
            // Parameters are contravariant, results covariant.
            && wanted.params.iter().zip(&self.params).all(|(w, s)| w.matches(s))
            && self.results.iter().zip(&wanted.results).all(|(s, w)| s.matches(w))
    }
}

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        self.fits(other) && other.fits(self)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        if !self.params.is_empty() {
            f.write_str(" (param")?;
            for p in &self.params {
                write!(f, " {p}")?;
            }
            f.write_str(")")?;
        }
        if !self.results.is_empty() {
            f.write_str(" (result")?;
            for r in &self.results {
                write!(f, " {r}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(")")
    }
}

/// Describes any import/export type in WebAssembly text form.
pub(crate) fn extern_wat(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => Signature::from_func_type(f).to_string(),
        ExternType::Memory(m) => {
            let mut s = String::from("(memory");
            if m.is_64() {
                s.push_str(" i64");
            }
            s.push_str(&format!(" {}", m.minimum()));
            if let Some(max) = m.maximum() {
                s.push_str(&format!(" {max}"));
            }
            if m.is_shared() {
                s.push_str(" shared");
            }
            s.push(')');
            s
        }
        ExternType::Table(t) => {
            let mut s = format!("(table {}", t.minimum());
            if let Some(max) = t.maximum() {
                s.push_str(&format!(" {max}"));
            }
            s.push_str(&format!(" {})", t.element()));
            s
        }
        ExternType::Global(g) => match g.mutability() {
            wasmtime::Mutability::Var => format!("(global (mut {}))", g.content()),
            wasmtime::Mutability::Const => format!("(global {})", g.content()),
        },
        ExternType::Tag(_) => "(tag)".to_string(),
    }
}
