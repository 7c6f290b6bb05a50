#![no_main]
//! The linker-log reader of `spindle doctor --log`: known linker lines (GNU
//! ld, gold, ld64 old and new, lld for ELF, Mach-O, COFF and wasm, zig,
//! link.exe), each naming a random symbol, library or file, embedded in
//! random noise, with rustc's `= note:` framing, indentation, ANSI colours
//! and `\r\n` line ends sometimes.
//!
//! What must hold:
//!
//! * every embedded known line is recognised: its symbol is among the
//!   undefined ones, its library among the missing ones, its file among
//!   the ignored ones;
//! * the whole diagnosis (`doctor --log` without the printing) never
//!   panics, on these logs and on arbitrary bytes;
//! * memory stays bounded by the input: the peak of what the reader and
//!   the diagnosis allocate is at most 64 bytes per input byte plus 1 MiB,
//!   whatever counts or sizes the log claims (a counting allocator
//!   measures it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; the counters are
// only bookkeeping and never affect what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[derive(Arbitrary, Debug)]
enum Piece {
    Known { shape: u8, name: String, frame: u8 },
    Noise(String),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Log { pieces: Vec<Piece>, crlf: bool },
    Bytes(Vec<u8>),
}

/// What a known line must make the reader keep.
enum Expect {
    Undefined(String),
    Missing(String),
    Ignored(String),
}

/// A known line (or block) of `shape` naming `n`, and what it must yield.
fn known(shape: u8, n: &str) -> (String, Expect) {
    use Expect::*;
    match shape % 20 {
        0 => (
            format!(
                "/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0xa): undefined reference to `{n}'"
            ),
            Undefined(n.into()),
        ),
        1 => (
            format!("/usr/bin/ld: a.o:a.c:(.text+0x13): undefined reference to `{n}'"),
            Undefined(n.into()),
        ),
        2 => (
            format!(
                "/usr/bin/x86_64-w64-mingw32-ld: a.o:a.c:(.text+0x13): undefined reference to `{n}'"
            ),
            Undefined(n.into()),
        ),
        3 => (
            format!("/tmp/x.o:main.c:function main: error: undefined reference to '{n}'"),
            Undefined(n.into()),
        ),
        4 => (format!("/usr/bin/ld: cannot find -l{n}"), Missing(n.into())),
        5 => (
            format!("/usr/bin/ld.gold: error: cannot find -l{n}"),
            Missing(n.into()),
        ),
        6 => (
            format!(
                "Undefined symbols for architecture x86_64:\n  \"_{n}\", referenced from:\n      _main in main.o\nld: symbol(s) not found for architecture x86_64"
            ),
            Undefined(format!("_{n}")),
        ),
        7 => (
            format!("ld: library not found for -l{n}"),
            Missing(n.into()),
        ),
        8 => (
            format!(
                "ld: warning: ignoring file '/b/lib{n}.a[2](foo.o)': found architecture 'arm64', required architecture 'x86_64'"
            ),
            Ignored(format!("/b/lib{n}.a[2](foo.o)")),
        ),
        9 => (
            format!(
                "ld.lld: error: undefined symbol: {n}\n>>> referenced by main.c\n>>>               main.o:(main)"
            ),
            Undefined(n.into()),
        ),
        10 => (
            format!("rust-lld: error: p.p.1234-cgu.0.rcgu.o: undefined symbol: {n}"),
            Undefined(n.into()),
        ),
        11 => (
            format!("wasm-ld: error: a.o: undefined symbol: {n}"),
            Undefined(n.into()),
        ),
        12 => (
            format!("ld.lld: error: unable to find library -l{n}"),
            Missing(n.into()),
        ),
        13 => (
            format!("lld-link: error: could not open '{n}.lib': no such file or directory"),
            Missing(format!("{n}.lib")),
        ),
        14 => (
            format!("error: undefined symbol: _{n}\n    note: referenced by /c/main.o:_main"),
            Undefined(format!("_{n}")),
        ),
        15 => (
            format!(
                "error: unable to find dynamic system library '{n}' using strategy 'paths_first'. searched paths: none"
            ),
            Missing(n.into()),
        ),
        16 => (
            format!(
                "main.obj : error LNK2019: unresolved external symbol {n} referenced in function main"
            ),
            Undefined(n.into()),
        ),
        17 => (
            format!("lib.rlib(x.o) : error LNK2001: unresolved external symbol {n}"),
            Undefined(n.into()),
        ),
        18 => (
            format!("LINK : fatal error LNK1181: cannot open input file '{n}.lib'"),
            Missing(format!("{n}.lib")),
        ),
        _ => (
            format!(
                "ld64.lld: warning: lib{n}.a has architecture arm64 which is incompatible with target architecture x86_64"
            ),
            Ignored(format!("lib{n}.a")),
        ),
    }
}

/// rustc's framing, indentation or colours around each line of `text`.
fn framed(text: &str, frame: u8) -> String {
    text.lines()
        .map(|l| match frame % 4 {
            0 => l.to_string(),
            1 => format!("  = note: {l}"),
            2 => format!("          {l}"),
            _ => format!("\x1b[1m\x1b[31m{l}\x1b[0m"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fuzz_target!(|input: Input| {
    let (text, expected) = match input {
        Input::Bytes(b) => (String::from_utf8_lossy(&b).into_owned(), Vec::new()),
        Input::Log { pieces, crlf } => {
            let mut lines = Vec::new();
            let mut expected = Vec::new();
            for (i, p) in pieces.iter().take(64).enumerate() {
                match p {
                    Piece::Known { shape, name, frame } => {
                        let mut n: String = name
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .take(40)
                            .collect();
                        // Unique per piece: a name seen twice is kept once.
                        n.push_str(&format!("_{i}"));
                        let (line, e) = known(*shape, &n);
                        lines.push(framed(&line, *frame));
                        expected.push((line, e));
                    }
                    // A noise line is one line: a line break in it could
                    // turn the next known block into something else.
                    Piece::Noise(s) => lines.push(s.replace(['\n', '\r'], " ")),
                }
            }
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            (text, expected)
        }
    };

    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let contents = spindle_cli::doctor::read_log_quietly(&text);
    let _ = spindle_cli::doctor::diagnose_log_quietly(&text, None);
    let _ = spindle_cli::doctor::diagnose_log_quietly(&text, Some("aarch64-apple-darwin".into()));
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let bound = 64 * text.len() + (1 << 20);
    assert!(
        peak <= bound,
        "reading a {}-byte log allocated {peak} bytes at its peak (bound {bound})",
        text.len()
    );

    for (line, e) in &expected {
        let (list, want) = match e {
            Expect::Undefined(s) => (&contents.undefined, s),
            Expect::Missing(s) => (&contents.missing_libraries, s),
            Expect::Ignored(s) => (&contents.ignored, s),
        };
        assert!(
            list.contains(want),
            "{want:?} from {line:?} was not recognised in {text:?}: {contents:#?}"
        );
    }
});
