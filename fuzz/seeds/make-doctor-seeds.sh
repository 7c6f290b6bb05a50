#!/usr/bin/env bash
# Regenerates fuzz/corpus/doctor/: small build outputs of the kinds
# `spindle doctor` reads, made the way cli/tests/all/doctor.rs makes its own:
# `rustc --emit=obj` of a no_std object referencing spindle's switch symbol
# for ELF and Mach-O targets, a hand-written ar archive and rlib, a fat
# Mach-O, a linked ELF executable, and wasm/WAT plugins. Each file is a few
# KiB at most; only these seeds are committed, never what the fuzzer adds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../corpus/doctor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

cat > "$work/obj.rs" <<'RS'
#![no_std]
unsafe extern "C" {
    fn spindle_fiber_0_1_0_resume();
}
#[unsafe(no_mangle)]
pub extern "C" fn seed_fn() {
    // SAFETY: never called; the object exists to carry the undefined reference.
    unsafe { spindle_fiber_0_1_0_resume() }
}
RS
for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu aarch64-apple-darwin x86_64-apple-darwin riscv64gc-unknown-linux-gnu wasm32-unknown-unknown; do
    rustc --crate-type=lib --emit=obj -O -C debuginfo=0 --target "$t" "$work/obj.rs" -o "$work/$t.o"
done
cp "$work/x86_64-unknown-linux-gnu.o" "$out/elf-x86_64.o"
cp "$work/aarch64-unknown-linux-gnu.o" "$out/elf-aarch64.o"
cp "$work/riscv64gc-unknown-linux-gnu.o" "$out/elf-riscv64.o"
cp "$work/aarch64-apple-darwin.o" "$out/macho-arm64.o"
cp "$work/x86_64-apple-darwin.o" "$out/macho-x86_64.o"

python3 - "$work" "$out" <<'PY'
import struct, sys
work, out = sys.argv[1], sys.argv[2]
def read(n): return open(f"{work}/{n}", "rb").read()

def archive(members):
    data = b"!<arch>\n"
    for name, body in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{644:<8}{len(body):<10}`\n".encode()
        assert len(header) == 60
        data += header + body + (b"\n" if len(body) % 2 else b"")
    return data

x86 = read("x86_64-unknown-linux-gnu.o")
arm = read("aarch64-apple-darwin.o")
wasm = read("wasm32-unknown-unknown.o")
open(f"{out}/mixed.a", "wb").write(archive([("a.o", x86), ("b.o", read("aarch64-unknown-linux-gnu.o"))]))
# rlib-like: metadata member, an object, a bitcode member, a wasm object.
open(f"{out}/libseed.rlib", "wb").write(archive([
    ("lib.rmeta", b"rust\0\0\0\x08meta"), ("seed.o", x86),
    ("seed.bc", b"BC\xc0\xde\x35\x14\0\0"), ("w.o", wasm)]))

def fat(slices, align=4):
    # fat_header + fat_arch (big-endian); small alignment keeps the seed small.
    hdr = struct.pack(">II", 0xcafebabe, len(slices))
    offset = 8 + 20 * len(slices)
    placed = []
    for cpu, sub, body in slices:
        offset = (offset + (1 << align) - 1) & ~((1 << align) - 1)
        hdr += struct.pack(">IIIII", cpu, sub, offset, len(body), align)
        placed.append((offset, body))
        offset += len(body)
    data = bytearray(hdr)
    for at, body in placed:
        data += b"\0" * (at - len(data))
        data += body
    return bytes(data)
open(f"{out}/universal", "wb").write(fat([(0x01000007, 3, read("x86_64-apple-darwin.o")), (0x0100000c, 0, arm)]))
PY

# A linked ELF executable, as small as the C toolchain makes it.
printf 'int main(void){return 0;}\n' > "$work/m.c"
cc -Os -s -o "$work/exe" "$work/m.c"
cp "$work/exe" "$out/elf-exe"

# Plugins: a WAT file and its binary form, with imports doctor checks.
cat > "$out/plugin.wat" <<'WAT'
(module
  (import "spindle" "log" (func (param i32 i32)))
  (import "env" "missing" (func (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (param i32) (result i32) (local.get 0)))
WAT
python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
# (module (import "spindle" "log" (func (param i32 i32))) (func (export "run")))
def sec(i, body): return bytes([i, len(body)]) + body
wasm = b"\0asm\x01\0\0\0"
wasm += sec(1, bytes([2, 0x60, 2, 0x7f, 0x7f, 0, 0x60, 0, 0]))
wasm += sec(2, bytes([1, 7]) + b"spindle" + bytes([3]) + b"log" + bytes([0, 0]))
wasm += sec(3, bytes([1, 1]))
wasm += sec(7, bytes([1, 3]) + b"run" + bytes([0, 1]))
wasm += sec(10, bytes([1, 2, 0, 0x0b]))
open(f"{out}/plugin.wasm", "wb").write(wasm)
PY
cp "$work/wasm32-unknown-unknown.o" "$out/wasm-object.wasm"
ls -l "$out"
