#!/usr/bin/env bash
# The whole test suite: README's test command, and what CI runs.
#   formatting, clippy (all targets, warnings are errors), every workspace
#   test (including the LTO matrices), wasmtime's fibers replaced by Spindle's
#   for the tests that exercise them, and spindle-fiber's suite again with the
#   portable backend forced, on aarch64, riscv64 and ppc64le under qemu, on
#   x86_64 Windows under Wine (both Windows backends) and on rustc 1.85.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test --workspace (includes the LTO matrices; wasmtime on its own fibers)"
SPINDLE_EXPECT_FIBER=wasmtime cargo test --workspace --no-fail-fast

# The same wasmtime tests with wasmtime-internal-fiber replaced by
# fiber/wasmtime-compat, through the [patch.crates-io] line a user adds (here
# as `--config`, so the workspace manifest stays unpatched). The patched build
# rewrites Cargo.lock; any later plain cargo command puts it back.
patch='patch.crates-io.wasmtime-internal-fiber.path="fiber/wasmtime-compat"'
trap 'cargo metadata --format-version 1 --offline >/dev/null 2>&1 || true' EXIT

step "wasmtime on Spindle's fibers: async stacks, pooling, custom stacks, traps, fuel, epochs"
SPINDLE_EXPECT_FIBER=spindle cargo test -p spindle-tests --test wasmtime_fibers --config "$patch"

step "spindle-runtime (resumable calls included) on Spindle's fibers"
cargo test -p spindle-runtime --config "$patch"
cargo metadata --format-version 1 --offline >/dev/null

step "spindle-fiber with the portable backend as the native one (feature fallback)"
cargo test -p spindle-fiber --features fallback

step "spindle-fiber on aarch64-unknown-linux-gnu under qemu-aarch64 (both backends)"
# One test thread: the crash tests fork a child, and qemu-user's fork can
# deadlock (child stuck on a lock another guest thread held) when the guest
# is multithreaded. Seen here as a hang; single-threaded it cannot happen.
cargo test -p spindle-fiber --target aarch64-unknown-linux-gnu -- --test-threads=1

# --- Issue 13: glibc cross targets and older compilers (a representative
# subset; everything with `cargo cross-full` and `cargo pulley-async`).
step "spindle-fiber on rustc 1.85, its rust-version"
CARGO_TARGET_DIR=target/msrv cargo +1.85 test -p spindle-fiber

step "ucontext_t of spindle-fiber's own declarations = glibc's headers (riscv64, armv7)"
cargo test -p spindle-ucontext-layout --target riscv64gc-unknown-linux-gnu
cargo test -p spindle-ucontext-layout --target armv7-unknown-linux-gnueabihf

step "spindle-fiber on riscv64gc-unknown-linux-gnu under qemu-riscv64 (riscv64 asm and ucontext)"
cargo test -p spindle-fiber --target riscv64gc-unknown-linux-gnu -- --test-threads=1

step "spindle-fiber on powerpc64le-unknown-linux-gnu under qemu-ppc64le, 64 KiB pages (ucontext)"
cargo test -p spindle-fiber --target powerpc64le-unknown-linux-gnu -- --test-threads=1
# --- end of issue 13
step "spindle-fiber on x86_64-pc-windows-gnu under Wine (x86_64-windows-asm, then windows-fibers)"
# Linked with mingw-w64, run by scripts/wine-run.sh (.cargo/config.toml).
cargo test -p spindle-fiber --target x86_64-pc-windows-gnu
cargo test -p spindle-fiber --target x86_64-pc-windows-gnu --features fallback

# --- issue 15: fuzzing and soak
step "fuzz targets, 15 s each: fibers (both backends), import_report, doctor (unoptimized build)"
# Unoptimized: the instrumented wasmtime build is most of this step's cost.
FUZZ_PROFILE=dev scripts/fuzz.sh 15

step "soak tests at 1 % of their counts, unoptimized (full counts: scripts/soak.sh, RELIABILITY.md)"
SPINDLE_SOAK_SCALE=0.01 SPINDLE_SOAK_PROFILE=dev scripts/soak.sh
# --- end of issue 15: fuzzing and soak

printf '\n==> all tests passed in %ss\n' "$((SECONDS - started))"
