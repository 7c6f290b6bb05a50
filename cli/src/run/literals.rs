//! The literals `spindle run` takes for wasm values, one per parameter of
//! the export, and how it prints results: one grammar for i32, i64, f32
//! and f64, and a printed result reads back to the same value.

use spindle_runtime::wasmtime::{Val, ValType};

/// Parses one command-line argument as a value of wasm type `ty`.
///
/// One grammar for all four types, and nothing outside it: an optional sign,
/// then digits. Integers take decimal or `0x` hex digits, `_` allowed
/// between digits, and the unsigned range too (4294967295 is i32 -1).
/// Floats take decimal notation (`1.5`, `-2e-3`, `.5`, `5.`), `inf`,
/// `infinity` and `nan` (any case, signed), parsed straight into the
/// parameter's type: correctly rounded once, never through f64 for an f32.
/// A finite number too large for the type is refused (not made infinite),
/// and so is a non-zero number too small for it (not made zero).
pub fn parse_value(text: &str, ty: &ValType) -> Result<Val, String> {
    match ty {
        ValType::I32 => parse_int(text, 32).map(|v| Val::I32(v as i32)),
        ValType::I64 => parse_int(text, 64).map(Val::I64),
        ValType::F32 => parse_float::<f32>(text).map(|v| Val::F32(v.to_bits())),
        ValType::F64 => parse_float::<f64>(text).map(|v| Val::F64(v.to_bits())),
        other => Err(format!(
            "has type {other}, which cannot be given on the command line"
        )),
    }
}

/// The sign and the rest: `-` or `+` at most once.
fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Digits in `radix` with `_` only between two of them; the `_`s removed.
fn digits(body: &str, radix: u32) -> Option<String> {
    let bytes = body.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.iter().enumerate().all(|(i, &b)| {
            (b as char).is_digit(radix)
                || (b == b'_'
                    && i > 0
                    && i + 1 < bytes.len()
                    && (bytes[i - 1] as char).is_digit(radix)
                    && (bytes[i + 1] as char).is_digit(radix))
        });
    ok.then(|| body.replace('_', ""))
}

fn parse_int(text: &str, bits: u32) -> Result<i64, String> {
    let (neg, body) = split_sign(text);
    let (radix, body) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => (16, hex),
        None => (10, body),
    };
    let digits = digits(body, radix).ok_or_else(|| "is not an integer".to_string())?;
    let (min, max_unsigned) = if bits == 32 {
        (-(1i128 << 31), (1i128 << 32) - 1)
    } else {
        (-(1i128 << 63), (1i128 << 64) - 1)
    };
    let range = || format!("is out of range for i{bits} ({min} to {max_unsigned})");
    // Only overflow is left to fail: the digits are valid.
    let magnitude = i128::from_str_radix(&digits, radix).map_err(|_| range())?;
    let v = if neg { -magnitude } else { magnitude };
    if v < min || v > max_unsigned {
        return Err(range());
    }
    // Wasm integers carry no sign: the unsigned range wraps.
    Ok(if bits == 32 {
        v as u32 as i32 as i64
    } else {
        v as u64 as i64
    })
}

/// What [`parse_float`] needs of f32 and f64.
trait Float: std::str::FromStr + Copy + std::fmt::Display + std::fmt::LowerExp {
    const NAME: &'static str;
    const MAX: Self;
    const MIN_POSITIVE_SUBNORMAL: Self;
    const INFINITY: Self;
    const NAN: Self;
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
    fn negate(self) -> Self;
}

macro_rules! float_impl {
    ($t:ty, $name:literal) => {
        impl Float for $t {
            const NAME: &'static str = $name;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE_SUBNORMAL: Self = <$t>::from_bits(1);
            const INFINITY: Self = <$t>::INFINITY;
            const NAN: Self = <$t>::NAN;
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_zero(self) -> bool {
                self == 0.0
            }
            fn negate(self) -> Self {
                -self
            }
        }
    };
}
float_impl!(f32, "f32");
float_impl!(f64, "f64");

fn parse_float<F: Float>(text: &str) -> Result<F, String> {
    let (neg, body) = split_sign(text);
    let sign = |v: F| if neg { v.negate() } else { v };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Ok(sign(F::INFINITY)),
        "nan" => return Ok(sign(F::NAN)),
        _ => {}
    }
    // mantissa [e exponent]; the mantissa has a digit on some side of `.`.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) || !exponent_ok {
        return Err("is not a number".to_string());
    }
    let value: F = body.parse().map_err(|_| "is not a number".to_string())?;
    if value.is_infinite() {
        return Err(format!(
            "is too large for {} (largest finite: {:e})",
            F::NAME,
            F::MAX
        ));
    }
    let nonzero = int.bytes().chain(frac.bytes()).any(|b| b != b'0');
    if value.is_zero() && nonzero {
        return Err(format!(
            "is too small for {}: it would be 0 (smallest non-zero: {:e})",
            F::NAME,
            F::MIN_POSITIVE_SUBNORMAL
        ));
    }
    Ok(sign(value))
}

/// A result as `run` prints it. [`parse_value`] reads it back to the same
/// value: the same bits, except that a NaN prints without sign or payload.
#[doc(hidden)]
pub fn show_value(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let i = |t| parse_value(t, &ValType::I32).map(|v| v.unwrap_i32());
        assert_eq!(i("-5"), Ok(-5));
        assert_eq!(i("0x10"), Ok(16));
        assert_eq!(i("4294967295"), Ok(-1));
        assert!(i("4294967296").unwrap_err().contains("out of range"));
        assert!(i("1.5").unwrap_err().contains("not an integer"));
        let l = |t| parse_value(t, &ValType::I64).map(|v| v.unwrap_i64());
        assert_eq!(l("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(l("18446744073709551615"), Ok(-1));
        let f = |t| parse_value(t, &ValType::F64).map(|v| v.unwrap_f64());
        assert_eq!(f("-1.5"), Ok(-1.5));
        assert_eq!(f("inf"), Ok(f64::INFINITY));
        assert!(f("one").is_err());
        assert!(f("1e309").unwrap_err().contains("too large"));
        assert!(f("-1e-400").unwrap_err().contains("too small"));
        assert_eq!(f("0e-400"), Ok(0.0));
        assert!(f("nan").unwrap().is_nan());
        assert!(f("-NaN").unwrap().is_sign_negative());
        assert!(f(".").is_err() && f("e5").is_err() && f("1.5e+").is_err() && f("--1").is_err());
        let s = |t| parse_value(t, &ValType::F32).map(|v| v.unwrap_f32());
        assert!(s("1e39").unwrap_err().contains("too large for f32"));
        assert!(s("1e-50").unwrap_err().contains("too small for f32"));
        assert_eq!(s("3.4028235e38"), Ok(f32::MAX));
        assert_eq!(
            s("1.00000005960464477539062500001").map(f32::to_bits),
            Ok(0x3f80_0001)
        );
        assert!(i("+0x+5").is_err() && l("+0x+5").is_err());
        assert!(i("_1").is_err() && i("1_").is_err() && i("1__0").is_err());
        assert_eq!(i("1_000"), Ok(1000));
        assert!(
            l("99999999999999999999999999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
