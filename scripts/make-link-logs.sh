#!/usr/bin/env bash
# Re-creates the real linker logs under cli/tests/fixtures/logs/ by running
# links that fail, with the tools installed here (scripts/setup.sh installs
# them). Every log is what the tool printed, with the scratch directory's
# path replaced by /tmp/spindle-logs so the files do not change from run to
# run. A tool that is missing is named on stderr and its logs are left as
# they were; the script then exits 1, so nothing is skipped silently.
#
#   bash scripts/make-link-logs.sh            # all of them
set -uo pipefail
cd "$(dirname "$0")/.."
out=cli/tests/fixtures/logs
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
missing=0
need() { command -v "$1" >/dev/null || { echo "make-link-logs: $1 not found: $2 not re-created" >&2; missing=1; return 1; }; }
# Runs a link that must fail and keeps what it printed.
capture() {
    local name=$1; shift
    if (cd "$scratch" && "$@") >"$scratch/$name.raw" 2>&1; then
        echo "make-link-logs: $name: the link succeeded; it was meant to fail" >&2
        exit 1
    fi
    # gcc's temporary objects get a new random name on every run.
    sed -E -e "s#$scratch#/tmp/spindle-logs#g" -e 's#/tmp/cc[A-Za-z0-9]{6}\.o#/tmp/ccXXXXXX.o#g' \
        -e 's#/[^ :]*/o/[0-9a-f]{32}/#<zig-cache>/o/<hash>/#g' \
        "$scratch/$name.raw" >"$out/$name"
}

cat >"$scratch/main.c" <<'C'
extern int spindle_probe_helper(int);
int main(void) { return spindle_probe_helper(1); }
C
cat >"$scratch/helper.c" <<'C'
int spindle_probe_helper(int x) { return x + 1; }
C

# GNU ld and gold: a native library that is not installed, and a symbol
# nothing defines.
if need gcc "gnu-ld-missing-lib.log, gnu-ld-undefined.log"; then
    capture gnu-ld-missing-lib.log gcc main.c -o main -lspindle_nosuch
    capture gnu-ld-undefined.log gcc main.c -o main
    if need ld.gold gold-undefined.log; then
        capture gold-undefined.log gcc -fuse-ld=gold main.c -o main
    fi
fi

# lld, ELF flavour (rust-lld from the stable toolchain, driven by gcc).
sysroot=$(rustc --print sysroot)
gcc_ld="$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld"
if [ -x "$gcc_ld/ld.lld" ]; then
    capture lld-elf-undefined.log gcc -B"$gcc_ld" -fuse-ld=lld main.c -o main
else
    echo "make-link-logs: $gcc_ld/ld.lld not found: lld-elf-undefined.log not re-created" >&2
    missing=1
fi

# GNU ld: an aarch64 archive in an x86_64 link.
if need aarch64-linux-gnu-gcc gnu-ld-arch-mismatch.log; then
    (cd "$scratch" && aarch64-linux-gnu-gcc -c helper.c -o helper-arm.o && ar rcs libarmhelper.a helper-arm.o) || exit 1
    capture gnu-ld-arch-mismatch.log gcc main.c -o main -L. -larmhelper
fi

# zig's linker: an arm64 static archive in an x86_64 Mach-O link.
if python3 -c "import ziglang" 2>/dev/null; then
    zig() { python3 -m ziglang "$@"; }
    (cd "$scratch" && zig cc -target aarch64-macos -c helper.c -o helper.o &&
        zig ar rcs libhelper.a helper.o) || { echo "make-link-logs: zig could not build the arm64 archive" >&2; exit 1; }
    capture zig-macho-arch-mismatch.log python3 -m ziglang cc -target x86_64-macos main.c -L. -lhelper -o main
    capture zig-macho-undefined.log python3 -m ziglang cc -target x86_64-macos main.c -o main
    # lld's Mach-O flavour (ld64.lld) on the same inputs.
    (cd "$scratch" && zig cc -target x86_64-macos -c main.c -o main.o) || exit 1
    capture lld-macho-arch-mismatch.log "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld" \
        -flavor darwin -arch x86_64 -platform_version macos 11.0 11.0 main.o libhelper.a -o main
else
    echo "make-link-logs: ziglang (PyPI) not found: zig-macho-arch-mismatch.log not re-created" >&2
    missing=1
fi

# mingw: a COFF link with GNU ld's PE flavour, missing library and symbol.
if need x86_64-w64-mingw32-gcc "mingw-coff-missing-lib.log, mingw-coff-undefined.log"; then
    capture mingw-coff-missing-lib.log x86_64-w64-mingw32-gcc main.c -o main.exe -lspindle_nosuch
    capture mingw-coff-undefined.log x86_64-w64-mingw32-gcc main.c -o main.exe
    # lld's COFF flavour (lld-link) on the same object.
    rust_lld="$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    (cd "$scratch" && x86_64-w64-mingw32-gcc -c main.c -o main.obj) || exit 1
    capture lld-coff-undefined.log "$rust_lld" -flavor link /nologo /entry:main /subsystem:console main.obj /out:main.exe
fi

# rustc nightly, wasm32-unknown-unknown: a host function declared without
# #[link(wasm_import_module = "...")] (Rust 1.96 no longer passes
# --allow-undefined to wasm-ld).
if rustup +nightly target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    cat >"$scratch/plugin.rs" <<'RS'
unsafe extern "C" {
    fn host_log(ptr: *const u8, len: usize);
    fn host_now_ns() -> i64;
}
#[unsafe(no_mangle)]
pub extern "C" fn run() -> i64 {
    let msg = "hello";
    // SAFETY: the host reads `len` bytes at `ptr`, which `msg` provides.
    unsafe { host_log(msg.as_ptr(), msg.len()) };
    // SAFETY: takes no arguments and only returns a number.
    unsafe { host_now_ns() }
}
RS
    capture rustc-wasm-missing-import-module.log rustc +nightly --edition 2024 --crate-type cdylib \
        --target wasm32-unknown-unknown -C opt-level=1 plugin.rs -o plugin.wasm
    sed -i -E 's/rustc [0-9][^ ]* \([0-9a-f]+ [0-9-]+\)/rustc (nightly)/' "$out/rustc-wasm-missing-import-module.log"
else
    echo "make-link-logs: nightly with wasm32-unknown-unknown not found: rustc-wasm-missing-import-module.log not re-created" >&2
    missing=1
fi
exit $missing
