//! `spindle run --input`: an export of the guest contract called with text
//! or a file's contents, its output on stdout byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn spindle(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        // A pipe, never a terminal: the output is compared byte for byte.
        .stdout(Stdio::piped())
        .output()
        .expect("running spindle")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-run-input");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The runtime's hand-written contract plugin (upper, echo, fail).
fn upper() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/tests/data/upper.wat")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn input_text_goes_in_and_the_output_comes_out_unchanged() {
    let p = upper();
    let o = spindle(&["run", "--input", "hello, world", &p, "upper"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"HELLO, WORLD");
    assert_eq!(stderr(&o), "");
    // `@@` escapes a leading `@`.
    let o = spindle(&["run", "--input", "@@home", &p, "echo"]);
    assert_eq!(
        (code(&o), o.stdout.as_slice()),
        (0, &b"@home"[..]),
        "{}",
        stderr(&o)
    );
    // An empty input is an input too.
    let o = spindle(&["run", "--input", "", &p, "echo"]);
    assert_eq!(
        (code(&o), o.stdout.as_slice()),
        (0, &b""[..]),
        "{}",
        stderr(&o)
    );
}

#[test]
fn input_from_a_file_may_be_binary() {
    let p = upper();
    let file = scratch("input.bin");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    std::fs::write(&file, &bytes).unwrap();
    let arg = format!("@{}", file.display());
    let o = spindle(&["run", "--input", &arg, &p, "echo"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, bytes);

    let o = spindle(&["run", "--input", "@/definitely/not/here", &p, "echo"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot read input file /definitely/not/here"),
        "{}",
        stderr(&o)
    );
    let o = spindle(&["run", "--input", "@", &p, "echo"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_guest_error_and_a_too_long_output_fail_with_exit_1() {
    let p = upper();
    let o = spindle(&["run", "--input", "xyz", &p, "fail"]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("calling `fail`: `fail` returned an error: bad input: xyz"),
        "{}",
        stderr(&o)
    );
    let o = spindle(&[
        "run",
        "--input",
        "0123456789",
        "--max-output",
        "9",
        &p,
        "echo",
    ]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("output is 10 bytes, over the 9-byte max_output_bytes limit"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("hint: raise --max-output"),
        "{}",
        stderr(&o)
    );
    let o = spindle(&[
        "run",
        "--input",
        "012345678",
        "--max-output",
        "9",
        &p,
        "echo",
    ]);
    assert_eq!(
        (code(&o), o.stdout.as_slice()),
        (0, &b"012345678"[..]),
        "{}",
        stderr(&o)
    );
}

#[test]
fn input_misuse_is_a_usage_error() {
    let p = upper();
    // Not an export of the contract.
    let o = spindle(&["run", "--input", "x", &p, "heap_top"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--input needs an export of the guest contract"),
        "{}",
        stderr(&o)
    );
    // Arguments besides the input.
    let o = spindle(&["run", "--input", "x", &p, "echo", "1"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot be combined"), "{}", stderr(&o));
    // --max-output without --input.
    let o = spindle(&["run", "--max-output", "1KiB", &p, "heap_top"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--max-output only applies"),
        "{}",
        stderr(&o)
    );
    // A plugin without cabi_realloc is named as breaking the contract.
    let bare = scratch("bare.wat");
    std::fs::write(
        &bare,
        r#"(module (memory (export "memory") 1)
             (func (export "f") (param i32 i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let o = spindle(&["run", "--input", "x", bare.to_str().unwrap(), "f"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no function `cabi_realloc`"),
        "{}",
        stderr(&o)
    );
}
