#!/usr/bin/env bash
# The whole test suite: README's test command, and what CI runs.
#   formatting, clippy (all targets, warnings are errors), every workspace
#   test (including the LTO matrices), wasmtime's fibers replaced by Spindle's
#   for the tests that exercise them, and spindle-fiber's suite again with the
#   portable backend forced, on aarch64, riscv64, ppc64le, s390x and armv7
#   under qemu and i686 natively (IA-32 mode), on
#   x86_64 Windows under Wine (both Windows backends; wasmtime's async there
#   on its own fibers and patched) and on rustc 1.85.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step starts with the disk left and this checkout's build output: a
# CI run once died of a full disk, so every log says where space goes.
step() {
    printf '\n==> %s\n' "$*"
    printf '    (disk: %s free; target %s, fuzz/target %s)\n' \
        "$(df -h --output=avail . | tail -n 1 | tr -d ' ')" \
        "$(du -sh target 2>/dev/null | cut -f1)" "$(du -sh fuzz/target 2>/dev/null | cut -f1)"
}
# On CI (a fresh clone, run once) nothing is built twice incrementally, and
# the build directories of a finished step that no later step reads are
# removed; a developer's rerun keeps both. On CI, setup installed every tool,
# so a test that would report NOT RUN for a missing one fails instead
# (SPINDLE_REQUIRE_ALL; set it by hand to get the same anywhere).
if [[ -n ${CI:-} ]]; then
    export CARGO_INCREMENTAL=0
    export SPINDLE_REQUIRE_ALL=1
fi
drop_on_ci() {
    if [[ -n ${CI:-} ]]; then
        rm -rf "$@"
    fi
}
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test --workspace (includes the LTO matrices; wasmtime on its own fibers)"
# Also `spindle patch`: its unit and workspace tests (cli/tests/all/patch.rs,
# cargo metadata only, ~15 s) and one proof cell, wasmtime 46.0.3 patched,
# built in release, run and inspected (tests/tests/patch_cells.rs; 3.4 min
# cold measured here; every cell: `cargo patch-full`).
SPINDLE_EXPECT_FIBER=wasmtime cargo test --workspace --no-fail-fast
# The nested builds of the LTO, seed, patch-cell, async-probe and probe
# tests (target/debug stays: the patched steps and the soak step reuse it).
drop_on_ci target/lto-matrix target/lto-runtime target/lto-cross target/seed target/patch-cells target/tmp target/async-probe

# The same wasmtime tests with wasmtime-internal-fiber replaced by
# fiber/wasmtime-compat, through the [patch.crates-io] line a user adds (here
# as `--config`, so the workspace manifest stays unpatched). The patched build
# rewrites Cargo.lock; any later plain cargo command puts it back. (Not
# `--offline`: metadata reads every package in the lock file, including the
# Extism bench's optional ones that no build here downloads.)
patch='patch.crates-io.wasmtime-internal-fiber.path="fiber/wasmtime-compat"'
trap 'cargo metadata --format-version 1 >/dev/null 2>&1 || true' EXIT

step "wasmtime on Spindle's fibers: async stacks, pooling, custom stacks, traps, fuel, epochs"
SPINDLE_EXPECT_FIBER=spindle cargo test -p spindle-tests --test wasmtime_fibers --config "$patch"

step "spindle-runtime (resumable calls included) on Spindle's fibers"
cargo test -p spindle-runtime --features wasi --config "$patch"
cargo metadata --format-version 1 >/dev/null

# --- issue 17: drop-ins for wasmtime 38.0.3 and 36.0.20
# The seed's patched thin-LTO aarch64-apple-darwin link on rustc 1.91.1 is a
# test of the workspace run above (tests/tests/seed.rs; a cold wasmtime
# release build, 16 min measured cold on this shared machine). Here: the
# shared unit tests on the two older drop-ins, on the seed's compiler
# (about 40 s cold). The rest of the proof: `cargo seed-full`.
step "the wasmtime 38.0.3 and 36.0.20 drop-ins' own tests on rustc 1.91.1"
cargo +1.91.1 test --locked --manifest-path fiber/wasmtime-compat-38/Cargo.toml --target-dir target/compat-versions
cargo +1.91.1 test --locked --manifest-path fiber/wasmtime-compat-36/Cargo.toml --target-dir target/compat-versions
drop_on_ci target/compat-versions
# --- end of issue 17: drop-ins for wasmtime 38.0.3 and 36.0.20
# --- issue 14: plugin kit
# The kit itself on its wasm targets (the workspace clippy above only sees it
# natively): std, and no_std with its allocator and panic handler; and the
# kit's plugin, so clippy sees the expansions. ~40 s cold here.
# Its plugins are built and run by `cargo test --workspace`
# (examples/tests/pdk.rs, cli/tests/all/c_plugin.rs).
step "spindle-pdk on wasm32-unknown-unknown and wasm32-wasip1 (std and no_std)"
for t in wasm32-unknown-unknown wasm32-wasip1; do
    cargo clippy -p spindle-pdk --target "$t" --quiet -- -D warnings
    cargo clippy -p spindle-pdk --target "$t" --quiet --no-default-features \
        --features allocator,panic-handler -- -D warnings
done
# The macros' expansions as a user's clippy sees them, in the kit's plugin.
for f in std no-std; do
    (cd examples/plugins/pdk-greeter &&
        cargo clippy --quiet --locked --offline --target wasm32-unknown-unknown \
            --target-dir ../../../target/pdk-greeter-clippy \
            --no-default-features --features "$f" -- -D warnings)
done
drop_on_ci target/pdk-greeter-clippy
# --- end of issue 14: plugin kit

step "spindle-fiber with the portable backend as the native one (feature fallback)"
cargo test -p spindle-fiber --features fallback

# --- issue 15: sanitizers, valgrind, Miri (fiber/README.md)
# Aliases in .cargo/config.toml. Measured cold here (2 shared cores): ASan
# 79 s + 49 s, memcheck about 2 min (binaries from the workspace test run),
# Miri (not run here) about 2 min plus 1.5 min for its sysroot. The drop-in's
# tests and wasmtime's async tests under ASan (`cargo +nightly asan-full`, a
# whole wasmtime build under ASan) are not run here: about 9 minutes cold.
step "spindle-fiber and the drop-in under AddressSanitizer (nightly), asm then ucontext backend"
cargo +nightly asan
cargo +nightly asan-fallback
step "spindle-fiber's tests under Valgrind memcheck"
cargo memcheck
# Miri (`cargo +nightly miri test -p spindle-fiber`, about 3.5 min cold with
# its sysroot) is left to that documented command to keep CI under 50 min.
# --- end of issue 15: sanitizers, valgrind, Miri

step "spindle-fiber on aarch64-unknown-linux-gnu under qemu-aarch64 (both backends)"
# One test thread: the crash tests fork a child, and qemu-user's fork can
# deadlock (child stuck on a lock another guest thread held) when the guest
# is multithreaded. Seen here as a hang; single-threaded it cannot happen.
cargo test -p spindle-fiber --target aarch64-unknown-linux-gnu -- --test-threads=1

# --- Issue 13: glibc cross targets and older compilers (a representative
# subset; everything with `cargo cross-full` and `cargo pulley-async`).
step "spindle-fiber on rustc 1.85, its rust-version"
CARGO_TARGET_DIR=target/msrv cargo +1.85 test -p spindle-fiber
drop_on_ci target/msrv

step "ucontext_t of spindle-fiber's own declarations = glibc's headers (riscv64, armv7)"
cargo test -p spindle-ucontext-layout --target riscv64gc-unknown-linux-gnu
cargo test -p spindle-ucontext-layout --target armv7-unknown-linux-gnueabihf

step "spindle-fiber on riscv64gc-unknown-linux-gnu under qemu-riscv64 (riscv64 asm and ucontext)"
cargo test -p spindle-fiber --target riscv64gc-unknown-linux-gnu -- --test-threads=1

step "spindle-fiber on powerpc64le-unknown-linux-gnu under qemu-ppc64le, 64 KiB pages (powerpc64 asm and ucontext)"
cargo test -p spindle-fiber --target powerpc64le-unknown-linux-gnu -- --test-threads=1
# --- end of issue 13
# --- issue 27: assembly switches for s390x, arm, x86, powerpc64le, loongarch64
# The suites (each backend of the target, ABI audits, overflow, backtrace)
# of the targets that got assembly; powerpc64le's is the step above. The
# rest: `cargo cross-full` (every LTO cell, Thumb-2, `fallback`),
# `cargo async-cross` (wasmtime's async with wasm on each),
# `cargo +nightly loongarch64` and scripts/cross-switch.sh (performance).
# `cargo test --workspace` ran powerpc64le's fiber-app LTO cell and
# wasmtime's async on s390x (tests/tests/lto_cross.rs, async_cross.rs).
# Measured cold here, with two other engineers' builds on the 2 cores: this
# clippy 22 s, the three suites 70 + 59 + 35 s, and in earlier steps the
# s390x wasmtime cell 80 s, the powerpc64le LTO cell about 15 s and the
# powerpc64le suite about 30 s more (it runs the assembly backend too now):
# about 5.2 minutes in all.
step "clippy on spindle-fiber for the targets with new assembly (the workspace clippy sees x86_64 only)"
cargo clippy -p spindle-fiber --all-targets --quiet --target s390x-unknown-linux-gnu \
    --target armv7-unknown-linux-gnueabihf --target thumbv7neon-unknown-linux-gnueabihf \
    --target i686-unknown-linux-gnu --target powerpc64le-unknown-linux-gnu -- -D warnings
step "spindle-fiber on s390x-unknown-linux-gnu under qemu-s390x (s390x asm and ucontext)"
cargo test -p spindle-fiber --target s390x-unknown-linux-gnu -- --test-threads=1
step "spindle-fiber on armv7-unknown-linux-gnueabihf under qemu-arm (arm asm in A32, and ucontext)"
cargo test -p spindle-fiber --target armv7-unknown-linux-gnueabihf -- --test-threads=1
step "spindle-fiber on i686-unknown-linux-gnu natively, IA-32 compatibility mode (x86 asm and ucontext)"
cargo test -p spindle-fiber --target i686-unknown-linux-gnu -- --test-threads=1
# --- end of issue 27
step "spindle-fiber on x86_64-pc-windows-gnu under Wine (x86_64-windows-asm, then windows-fibers)"
# Linked with mingw-w64, run by scripts/wine-run.sh (.cargo/config.toml).
cargo test -p spindle-fiber --target x86_64-pc-windows-gnu
cargo test -p spindle-fiber --target x86_64-pc-windows-gnu --features fallback

# --- issue 12: wasmtime on Windows
step "the drop-in's own tests on x86_64-pc-windows-gnu under Wine (x86_64-windows-asm, then windows-fibers)"
cargo test -p wasmtime-internal-fiber --target x86_64-pc-windows-gnu
cargo test -p wasmtime-internal-fiber --target x86_64-pc-windows-gnu --features spindle-wasmtime-fiber/fallback

# --nocapture: the cells that cannot run (custom stacks on Win32 Fibers) and
# what Wine does after a stack overflow on one are printed, not hidden.
# wasmtime's async on its own Win32 fibers (the unpatched control, a second
# Windows wasmtime build, about 3 min) is `cargo wasmtime-windows-own`: kept
# out of CI when issues 14 and 17 brought a cold run to 49.6 min.
step "wasmtime's async on x86_64-pc-windows-gnu under Wine: on Spindle's switch (patched)"
SPINDLE_EXPECT_FIBER=spindle cargo test -p spindle-tests --test wasmtime_fibers \
    --target x86_64-pc-windows-gnu --config "$patch" -- --nocapture
# (on spindle's windows-fibers backend: `cargo wasmtime-windows-fibers`)
cargo metadata --format-version 1 >/dev/null
drop_on_ci target/x86_64-pc-windows-gnu
# --- end of issue 12: wasmtime on Windows
# --- issue 15: fuzzing and soak
step "fuzz targets: every committed seed replayed, then 10 s of each of the nine (unoptimized build)"
# Unoptimized: the instrumented wasmtime build is most of this step's cost.
# The long run is `scripts/fuzz.sh 3600` (fuzz/README.md).
FUZZ_PROFILE=dev scripts/fuzz.sh 10
drop_on_ci fuzz/target

step "soak tests at 1 % of their counts, unoptimized (full counts: scripts/soak.sh, RELIABILITY.md)"
# --workspace: the same features as the workspace test step, so nothing is
# rebuilt (scripts/soak.sh builds per package, which rebuilds wasmtime).
SPINDLE_SOAK_SCALE=0.01 cargo test --workspace --test soak -- --ignored --nocapture --test-threads=1
# --- end of issue 15: fuzzing and soak

step "done"
printf '\n==> all tests passed in %ss\n' "$((SECONDS - started))"
