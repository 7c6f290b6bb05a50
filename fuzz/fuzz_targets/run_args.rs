#![no_main]
//! `spindle run`'s argument grammar: `--dir`, `--env`, `--arg`, the call
//! arguments' number literals, and clap's parse of the whole command line.
//!
//! What must hold:
//!
//! * `--dir`: the verdict (a grant, or which of the documented errors)
//!   is what the documented grammar says (a small model here); a grant
//!   written back out (`HOST[:/GUEST]:ro|rw`) parses to the same grant; and
//!   a mode word a user could mean as read-only (any casing or spelling of
//!   `ro`, `r`, `read-only`, `rdonly`, ...) never yields a write grant.
//! * `--env`: accepted exactly when documented, and `KEY=VALUE` is the
//!   input again.
//! * Number literals: an accepted literal has the value the documented
//!   grammar gives it (Rust's correctly rounded parse, straight into the
//!   type); what `run` prints for it parses back to the same bits; every
//!   value of every type, written in each of the documented forms, parses
//!   to its own bits.
//! * The whole command line: the grants, environment, `--arg` values,
//!   export and its arguments are exactly the words given, in order; a
//!   refusal is explained by a value its own parser refuses.

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use spindle_cli::run::{DirGrant, parse_dir, parse_env, parse_run_words, parse_value, show_value};
use spindle_runtime::wasmtime::{Val, ValType};

/// Mode words and near misses, each tried in a random casing.
const MODES: &[&str] = &[
    "ro",
    "r",
    "readonly",
    "read-only",
    "read_only",
    "rw",
    "readwrite",
    "read-write",
    "read_write",
    "ro ",
    " ro",
    "r-o",
    "read only",
    "rdonly",
    "read",
    "readonlyy",
    "r0",
    "o",
    "w",
    "wr",
    "rwx",
    "write",
    "ro\0",
    "ｒｏ",
    "rо",
    "RO/",
    "/ro",
    "-ro",
    "+ro",
];

struct Scratch {
    dir: String,
    file: String,
    missing: String,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("spindle-fuzz-run-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        std::fs::write(dir.join("file"), b"x").expect("scratch file");
        let dir = dir.to_str().expect("a UTF-8 temp dir").to_string();
        assert!(!dir.contains(':'), "the temp dir has a `:`");
        Scratch {
            file: format!("{dir}/file"),
            missing: format!("{dir}/missing"),
            dir,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Word {
    Mode(u8, u8),
    Guest(String),
    Raw(String),
    Empty,
}

impl Word {
    fn render(&self) -> String {
        match self {
            Word::Mode(i, case) => MODES[usize::from(*i) % MODES.len()]
                .chars()
                .enumerate()
                .map(|(k, c)| {
                    if case >> (k % 8) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
            Word::Guest(g) => format!("/{g}"),
            Word::Raw(r) => r.clone(),
            Word::Empty => String::new(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct DirSpec {
    host: u8,
    parts: Vec<Word>,
}

impl DirSpec {
    fn render(&self) -> String {
        let s = scratch();
        let host = match self.host % 6 {
            0 => s.dir.clone(),
            1 => format!("{}/", s.dir),
            2 => s.file.clone(),
            3 => s.missing.clone(),
            4 => String::new(),
            _ => ".".to_string(),
        };
        let mut out = host;
        for p in self.parts.iter().take(4) {
            out.push(':');
            out.push_str(&p.render());
        }
        out
    }
}

#[derive(Arbitrary, Debug)]
enum Literal {
    Text(u8, String),
    I32(i32, u8),
    I64(i64, u8),
    F32(u32),
    F64(u64),
}

#[derive(Arbitrary, Debug)]
enum Flag {
    Dir(DirSpec, bool),
    DirRaw(String, bool),
    Env(String, String, bool),
    EnvRaw(String, bool),
    Arg(String, bool),
}

#[derive(Arbitrary, Debug)]
struct CommandLine {
    flags: Vec<Flag>,
    export: String,
    args: Vec<String>,
    dashdash: bool,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Dir(DirSpec),
    DirRaw(String),
    Env(String),
    Literal(Literal),
    CommandLine(CommandLine),
}

fuzz_target!(|input: Input| {
    match input {
        Input::Dir(d) => check_dir(&d.render()),
        Input::DirRaw(s) => check_dir(&s),
        Input::Env(s) => check_env(&s),
        Input::Literal(l) => check_literal(&l),
        Input::CommandLine(c) => check_command_line(&c),
    }
});

/// What the documented `--dir` grammar says about `s`: the grant, or the
/// words of the error that names the problem.
fn dir_model(s: &str) -> Result<DirGrant, &'static str> {
    let mode = |w: &str| match w.to_ascii_lowercase().as_str() {
        "ro" | "r" | "readonly" | "read-only" | "read_only" => Some(true),
        "rw" | "readwrite" | "read-write" | "read_write" => Some(false),
        _ => None,
    };
    let guest = |w: &str| -> Result<String, &'static str> {
        if w.starts_with('/') {
            Ok(w.to_string())
        } else if w.is_empty() {
            Err("names an empty guest path")
        } else {
            Err("is neither a mode nor an absolute guest path")
        }
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (host, g, ro) = match parts[..] {
        [h] => (h, None, false),
        [h, w] => match mode(w) {
            Some(ro) => (h, None, ro),
            None => (h, Some(guest(w)?), false),
        },
        [h, w, m] => {
            let ro = mode(m).ok_or("unknown mode")?;
            if mode(w).is_some() {
                return Err("is not an absolute guest path");
            }
            (h, Some(guest(w)?), ro)
        }
        _ => return Err("`:`-separated parts"),
    };
    if host.is_empty() {
        return Err("names no host directory");
    }
    match std::fs::metadata(host) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err("is not a directory"),
        Err(_) => return Err("cannot use"),
    }
    Ok(DirGrant {
        host: PathBuf::from(host),
        guest: g.unwrap_or_else(|| host.to_string()),
        read_only: ro,
    })
}

/// Whether a user could have meant `word` as "read-only": after dropping
/// everything but letters and digits, it starts with `r` and has no `w`
/// (a guest path, starting with `/`, is not a mode).
fn could_mean_read_only(word: &str) -> bool {
    if word.starts_with('/') {
        return false;
    }
    let w: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    (w.starts_with('r') || w.starts_with('ｒ')) && !w.contains('w') && !w.contains('ｗ')
}

fn check_dir(s: &str) {
    let got = parse_dir(s);
    match (&got, dir_model(s)) {
        (Ok(g), Ok(m)) => assert_eq!(g, &m, "--dir {s:?}"),
        (Err(e), Err(words)) => assert!(
            e.contains(words),
            "--dir {s:?}: the error should say {words:?}, it says {e:?}"
        ),
        (got, model) => panic!("--dir {s:?}: parsed to {got:?}, the grammar says {model:?}"),
    }
    let Ok(g) = got else { return };
    if !g.read_only {
        for part in s.split(':').skip(1) {
            assert!(
                !could_mean_read_only(part),
                "--dir {s:?} grants write, but {part:?} could mean read-only"
            );
        }
    }
    let host = g.host.to_str().expect("the host came from a str");
    let mode = if g.read_only { "ro" } else { "rw" };
    let again = if g.guest == host {
        format!("{host}:{mode}")
    } else {
        format!("{host}:{}:{mode}", g.guest)
    };
    assert_eq!(
        parse_dir(&again).as_ref(),
        Ok(&g),
        "{s:?} written back as {again:?}"
    );
}

fn check_env(s: &str) {
    let documented = match s.split_once('=') {
        Some((k, _)) => !k.is_empty() && !s.contains('\0'),
        None => false,
    };
    match parse_env(s) {
        Ok((k, v)) => {
            assert!(documented, "--env {s:?} accepted");
            assert!(!k.contains('='), "--env {s:?}: key {k:?}");
            assert_eq!(format!("{k}={v}"), s);
        }
        Err(e) => assert!(!documented, "--env {s:?} refused: {e}"),
    }
}

fn bits(v: &Val) -> (u8, u64) {
    match v {
        Val::I32(x) => (0, *x as u32 as u64),
        Val::I64(x) => (1, *x as u64),
        Val::F32(b) => (2, u64::from(*b)),
        Val::F64(b) => (3, *b),
        other => panic!("parse_value gave {other:?}"),
    }
}

fn is_nan(v: &Val) -> bool {
    match v {
        Val::F32(b) => f32::from_bits(*b).is_nan(),
        Val::F64(b) => f64::from_bits(*b).is_nan(),
        _ => false,
    }
}

/// The same value: the same bits, or two NaNs (printing drops a NaN's sign
/// and payload, which `show_value` documents).
fn same(a: &Val, b: &Val) -> bool {
    bits(a) == bits(b) || (is_nan(a) && is_nan(b) && bits(a).0 == bits(b).0)
}

/// The integer the documented grammar makes of `text` for `bits`: an
/// optional sign, decimal or `0x` digits with `_` only between two digits,
/// the signed and unsigned ranges both, wrapped to the type.
fn int_model(text: &str, bits: u32) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if body.len() >= 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        (16, &body[2..])
    } else {
        (10, body)
    };
    let chars: Vec<char> = body.chars().collect();
    if chars.is_empty() {
        return None;
    }
    let mut magnitude: i128 = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let between = i > 0
                && i + 1 < chars.len()
                && chars[i - 1].is_digit(radix)
                && chars[i + 1].is_digit(radix);
            if !between {
                return None;
            }
            continue;
        }
        magnitude = magnitude
            .checked_mul(i128::from(radix))?
            .checked_add(i128::from(c.to_digit(radix)?))?;
        if magnitude > 1 << 64 {
            return None;
        }
    }
    let v = if neg { -magnitude } else { magnitude };
    let (min, max) = if bits == 32 {
        (-(1i128 << 31), (1i128 << 32) - 1)
    } else {
        (-(1i128 << 63), (1i128 << 64) - 1)
    };
    if v < min || v > max {
        return None;
    }
    Some(if bits == 32 {
        i64::from(v as u32 as i32)
    } else {
        v as u64 as i64
    })
}

/// Whether `body` (no sign) is in the documented float grammar, as a
/// number (not inf/nan): digits, optional `.digits`, a digit somewhere in
/// the mantissa, optional exponent `e[+-]digits`.
fn float_grammar(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac) && exponent_ok
}

fn float_model<F>(text: &str) -> Option<Result<F, ()>>
where
    F: std::str::FromStr + std::ops::Neg<Output = F> + Copy + PartialEq + Default,
{
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let special = matches!(
        body.to_ascii_lowercase().as_str(),
        "inf" | "infinity" | "nan"
    );
    if !special && !float_grammar(body) {
        return None;
    }
    let v: F = body.to_ascii_lowercase().parse().ok()?;
    Some(Ok(if neg { -v } else { v }))
}

fn check_text(ty_pick: u8, text: &str) {
    let ty =
        [ValType::I32, ValType::I64, ValType::F32, ValType::F64][usize::from(ty_pick % 4)].clone();
    let got = parse_value(text, &ty);
    match ty {
        ValType::I32 | ValType::I64 => {
            let width = if matches!(ty, ValType::I32) { 32 } else { 64 };
            let model = int_model(text, width);
            let got_int = got.as_ref().ok().map(|v| match v {
                Val::I32(x) => i64::from(*x),
                Val::I64(x) => *x,
                other => panic!("{other:?}"),
            });
            assert_eq!(got_int, model, "{text:?} as i{width}: got {got:?}");
            if width == 32
                && let Some(v32) = got_int
            {
                let v64 = int_model(text, 64).expect("an i32 literal is an i64 literal");
                assert_eq!(v64 as u32, v32 as u32, "{text:?}: i32 and i64 disagree");
            }
        }
        ValType::F32 => check_float::<f32>(text, &got, |v| Val::F32(v.to_bits())),
        _ => check_float::<f64>(text, &got, |v| Val::F64(v.to_bits())),
    }
    if let Ok(v) = &got {
        let shown = show_value(v);
        let again = parse_value(&shown, &ty)
            .unwrap_or_else(|e| panic!("{text:?} parsed to {v:?}, printed {shown:?}: {e}"));
        assert!(
            same(v, &again),
            "{text:?} -> {v:?} -> {shown:?} -> {again:?}"
        );
    }
}

/// An accepted float is the documented grammar's correctly rounded value;
/// a refused one is outside the grammar, too large (would be infinite) or
/// too small (a non-zero literal that would be zero).
fn check_float<F>(text: &str, got: &Result<Val, String>, val: impl Fn(F) -> Val)
where
    F: std::str::FromStr + std::ops::Neg<Output = F> + Copy + PartialEq + Default,
{
    match (got, float_model::<F>(text)) {
        (Ok(v), Some(Ok(m))) => assert!(same(v, &val(m)), "{text:?}: {v:?}, model {:?}", val(m)),
        (Ok(v), _) => panic!("{text:?} accepted as {v:?}, outside the grammar"),
        (Err(e), Some(Ok(m))) => {
            let m = val(m);
            let infinite_or_zero = match m {
                Val::F32(b) => f32::from_bits(b).is_infinite() || f32::from_bits(b) == 0.0,
                Val::F64(b) => f64::from_bits(b).is_infinite() || f64::from_bits(b) == 0.0,
                _ => false,
            };
            assert!(
                infinite_or_zero && (e.contains("too large") || e.contains("too small")),
                "{text:?} refused ({e}), the grammar gives {m:?}"
            );
        }
        (Err(_), _) => {}
    }
}

fn check_literal(l: &Literal) {
    match l {
        Literal::Text(ty, text) => check_text(*ty, text),
        Literal::I32(x, form) => {
            for text in int_forms(i64::from(*x), u64::from(*x as u32), *form) {
                let got = parse_value(&text, &ValType::I32);
                assert_eq!(
                    got.as_ref().map(bits),
                    Ok((0, u64::from(*x as u32))),
                    "{text:?}"
                );
                check_text(0, &text);
            }
        }
        Literal::I64(x, form) => {
            for text in int_forms(*x, *x as u64, *form) {
                let got = parse_value(&text, &ValType::I64);
                assert_eq!(got.as_ref().map(bits), Ok((1, *x as u64)), "{text:?}");
                check_text(1, &text);
            }
        }
        Literal::F32(b) => {
            let v = f32::from_bits(*b);
            for text in [
                format!("{v}"),
                format!("{v:e}"),
                format!("{v:?}"),
                format!("{v:E}"),
            ] {
                let got = parse_value(&text, &ValType::F32)
                    .unwrap_or_else(|e| panic!("{v:?} written {text:?}: {e}"));
                assert!(same(&got, &Val::F32(*b)), "{text:?} -> {got:?}");
                check_text(2, &text);
            }
        }
        Literal::F64(b) => {
            let v = f64::from_bits(*b);
            for text in [
                format!("{v}"),
                format!("{v:e}"),
                format!("{v:?}"),
                format!("{v:E}"),
            ] {
                let got = parse_value(&text, &ValType::F64)
                    .unwrap_or_else(|e| panic!("{v:?} written {text:?}: {e}"));
                assert!(same(&got, &Val::F64(*b)), "{text:?} -> {got:?}");
                check_text(3, &text);
            }
        }
    }
}

/// `signed` written as the documented forms: decimal, with `+`, as its
/// unsigned twin, in hex (either case of `0x`), with `_` between digits.
fn int_forms(signed: i64, unsigned: u64, form: u8) -> Vec<String> {
    let every = |s: &str, n: usize| -> String {
        let n = n.max(1);
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && i % n == 0 {
                out.push('_');
            }
            out.push(*c);
        }
        out
    };
    let n = usize::from(form % 5) + 1;
    let mut v = vec![
        signed.to_string(),
        unsigned.to_string(),
        format!("+{unsigned}"),
        format!("0x{unsigned:x}"),
        format!("0X{unsigned:X}"),
        format!("0x{}", every(&format!("{unsigned:x}"), n)),
        every(&unsigned.to_string(), n),
    ];
    if signed < 0 {
        v.push(format!("-0x{:x}", signed.unsigned_abs()));
        v.push(format!("-{}", every(&signed.unsigned_abs().to_string(), n)));
    }
    v
}

fn check_command_line(c: &CommandLine) {
    let mut words = Vec::new();
    let mut want_dirs = Vec::new();
    let mut want_envs = Vec::new();
    let mut want_args = Vec::new();
    // A refusal must be explained by one of these.
    let mut explained = false;
    let push = |words: &mut Vec<String>, flag: &str, value: String, eq: bool| {
        if eq {
            words.push(format!("{flag}={value}"));
        } else {
            words.push(flag.to_string());
            words.push(value);
        }
    };
    for f in c.flags.iter().take(6) {
        match f {
            Flag::Dir(d, eq) => {
                let v = d.render();
                explained |= !eq && v.starts_with('-');
                match parse_dir(&v) {
                    Ok(g) => want_dirs.push(g),
                    Err(_) => explained = true,
                }
                push(&mut words, "--dir", v, *eq);
            }
            Flag::DirRaw(v, eq) => {
                explained |= !eq && v.starts_with('-');
                match parse_dir(v) {
                    Ok(g) => want_dirs.push(g),
                    Err(_) => explained = true,
                }
                push(&mut words, "--dir", v.clone(), *eq);
            }
            Flag::Env(k, v, eq) => {
                let s = format!("{k}={v}");
                explained |= !eq && s.starts_with('-');
                match parse_env(&s) {
                    Ok(kv) => want_envs.push(kv),
                    Err(_) => explained = true,
                }
                push(&mut words, "--env", s, *eq);
            }
            Flag::EnvRaw(s, eq) => {
                explained |= !eq && s.starts_with('-');
                match parse_env(s) {
                    Ok(kv) => want_envs.push(kv),
                    Err(_) => explained = true,
                }
                push(&mut words, "--env", s.clone(), *eq);
            }
            Flag::Arg(v, eq) => {
                want_args.push(v.clone());
                push(&mut words, "--arg", v.clone(), *eq);
            }
        }
    }
    words.push("plugin.wasm".to_string());
    let export: String = c
        .export
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let export = if export.is_empty() {
        "f".to_string()
    } else {
        export
    };
    words.push(export.clone());
    let args: Vec<String> = c.args.iter().take(6).cloned().collect();
    // Without `--`, an argument starting with `-` may be read as a flag
    // (the help says to put `--` first): nothing is promised then.
    let ambiguous = !c.dashdash && args.iter().any(|a| a.starts_with('-'));
    if c.dashdash {
        words.push("--".to_string());
    }
    words.extend(args.iter().cloned());
    match parse_run_words(&words) {
        Ok(_) if ambiguous => {}
        Ok(p) => {
            assert_eq!(p.dirs, want_dirs, "{words:?}");
            assert_eq!(p.envs, want_envs, "{words:?}");
            assert_eq!(p.wasi_args, want_args, "{words:?}");
            assert_eq!(p.export.as_deref(), Some(export.as_str()), "{words:?}");
            assert_eq!(p.args, args, "{words:?}");
        }
        Err(e) => assert!(explained || ambiguous, "{words:?} refused: {e}"),
    }
}
