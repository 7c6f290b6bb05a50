#!/usr/bin/env bash
# The whole test suite: README's test command, and what CI runs.
#
#   scripts/test.sh              every step, in order (what .ci/run runs)
#   scripts/test.sh --list       the steps' names and what each runs
#   scripts/test.sh STEP...      only these steps, in the order given
#
# A plain `cargo test --workspace` is the fast loop: it leaves out the tests
# that build other projects in release or under LTO (they are `#[ignore]`d
# with a reason); the `nested-builds` step runs CI's cells of those, and the
# cargo aliases in .cargo/config.toml run every cell (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

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

# wasmtime-internal-fiber replaced by fiber/wasmtime-compat through the
# [patch.crates-io] line a user adds, here as `--config` so the workspace
# manifest stays unpatched. A patched build rewrites Cargo.lock; any later
# plain cargo command puts it back, and so does this script on exit. (Not
# `--offline`: metadata reads every package in the lock file, including the
# Extism bench's optional ones that no build here downloads.)
patch='patch.crates-io.wasmtime-internal-fiber.path="fiber/wasmtime-compat"'
restore_lock() { cargo metadata --format-version 1 >/dev/null; }

# `run_in_pairs FUNCTION ARG...` runs FUNCTION once per ARG, two at a time
# (each in its own subshell, stopping at its first failing command), then
# prints each run's whole output in the order given, so the logs of
# parallel runs never interleave.
run_in_pairs() {
    local fn=$1 dir i=0 arg failed=()
    shift
    dir=$(mktemp -d)
    for arg in "$@"; do
        while (($(jobs -rp | wc -l) >= 2)); do
            sleep 1
        done
        (
            set +e
            (
                set -e
                "$fn" "$arg"
            ) >"$dir/$i.log" 2>&1
            echo $? >"$dir/$i.status"
        ) &
        i=$((i + 1))
    done
    wait
    i=0
    for arg in "$@"; do
        printf -- '--- %s %s: exit %s\n' "$fn" "$arg" "$(cat "$dir/$i.status")"
        cat "$dir/$i.log"
        [[ $(cat "$dir/$i.status") == 0 ]] || failed+=("$arg")
        i=$((i + 1))
    done
    rm -rf "$dir"
    if ((${#failed[@]})); then
        echo "error: $fn failed for: ${failed[*]}" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------
# The steps, in the order a full run takes them. `step NAME "what it runs"`
# registers one; its body is the function run_NAME (dashes as underscores).
names=()
declare -A about
step() {
    names+=("$1")
    about[$1]=$2
}

step fmt "cargo fmt --check"
run_fmt() { cargo fmt --all -- --check; }

# Every committed lock file is current: a build from it resolves exactly
# what it names (the workspace's and those of the projects tests build).
step locks "cargo metadata --locked for every manifest with a committed Cargo.lock"
run_locks() {
    local lock stale=()
    while IFS= read -r lock; do
        cargo metadata --locked --format-version 1 \
            --manifest-path "$(dirname "$lock")/Cargo.toml" >/dev/null || stale+=("$lock")
    done < <(git ls-files '*Cargo.lock')
    if ((${#stale[@]})); then
        echo "error: stale lock files (run cargo metadata in their directory): ${stale[*]}" >&2
        return 1
    fi
}

step clippy "cargo clippy --workspace --all-targets -- -D warnings"
run_clippy() { cargo clippy --workspace --all-targets --locked --quiet -- -D warnings; }

step workspace "cargo test --workspace: every crate's tests, wasmtime on its own fibers"
run_workspace() {
    SPINDLE_EXPECT_FIBER=wasmtime cargo test --workspace --locked --no-fail-fast
}

# CI's cells of the tests that build other projects (each `#[ignore]`d in
# plain `cargo test`, so the fast loop stays fast). Every name listed must
# run and pass: a renamed test cannot drop out silently.
nested_cells=(
    # The probe binary under every LTO mode x codegen-units 1/16 on x86_64
    # and aarch64 Linux and both Apple targets, and the harness's negative
    # controls (tests/tests/lto_matrix.rs, docs/lto.md).
    lto_matrix
    inspection_reports_absent_and_local_symbols
    harness_rejects_unexported_switch_symbols
    known_trap_extern_declaration_without_rust_use_does_not_link
    apple_thin_lto_cells_on_rustc_1_91_1
    # Windows: two gnu cells under Wine, the MSVC objects, an outside crate
    # (tests/tests/lto_windows.rs; all cells: `cargo lto-matrix-windows`).
    lto_matrix_windows_gnu_under_wine
    windows_msvc_checked_and_objects_inspected
    outside_crate_thin_lto_runs_under_wine
    harness_rejects_unexported_switch_symbols_on_windows
    # An application on riscv64's and powerpc64le's switch under ThinLTO,
    # run under qemu (all targets and cells: `cargo cross-full`).
    fiber_app_on_riscv64_asm_under_thin_lto
    fiber_app_on_powerpc64le_asm_under_thin_lto
    # wasmtime's async on the drop-in on s390x under qemu (all targets,
    # with wasm: `cargo async-cross`).
    wasmtime_async_host_calls_on_s390x_asm
    # `spindle patch` on wasmtime 46.0.3: a release ThinLTO build, run and
    # inspected (every release line: `cargo patch-full`).
    patch_cell_46_0_3
    # The seed: wasmtime 38.0.3, patched, ThinLTO, aarch64-apple-darwin on
    # rustc 1.91.1, linked and inspected (everything: `cargo seed-full`).
    seed_38_patched_links_thin_lto_aarch64_darwin
)
step nested-builds "CI's cells of the nested builds: LTO matrices, cross and Windows LTO, patch cell, seed"
run_nested_builds() {
    local log=target/nested-builds.log missing=() cell
    mkdir -p target
    cargo test -p spindle-tests --no-fail-fast -- --ignored --exact --nocapture \
        "${nested_cells[@]}" 2>&1 | tee "$log"
    for cell in "${nested_cells[@]}"; do
        grep -q "^test $cell \.\.\. " "$log" || missing+=("$cell")
    done
    if ((${#missing[@]})); then
        echo "error: these nested-build cells did not run and pass: ${missing[*]}" >&2
        return 1
    fi
    drop_on_ci target/lto-matrix target/lto-cross target/seed target/patch-cells \
        target/tmp target/async-probe
}

step patched "wasmtime's fiber tests and spindle-runtime (resumable calls included) on Spindle's fibers"
run_patched() {
    # Async stacks, pooling, custom stacks, traps, fuel, epochs.
    SPINDLE_EXPECT_FIBER=spindle cargo test -p spindle-tests --test wasmtime_fibers --config "$patch"
    cargo test -p spindle-runtime --features wasi --config "$patch"
    restore_lock
}

# The seed's patched thin-LTO aarch64-apple-darwin link on rustc 1.91.1 is
# a nested-builds cell. Here: the shared unit tests on the two older
# drop-ins, on the seed's compiler (the rest: `cargo seed-full`).
step compat-versions "the wasmtime 38.0.3 and 36.0.20 drop-ins' own tests on rustc 1.91.1"
run_compat_versions() {
    local v
    for v in 38 36; do
        cargo +1.91.1 test --locked --manifest-path "fiber/wasmtime-compat-$v/Cargo.toml" \
            --target-dir target/compat-versions
    done
    drop_on_ci target/compat-versions
}

# The workspace clippy sees the kit natively only. Its plugins are built
# and run by the workspace tests (examples/tests/pdk.rs, cli's c_plugin).
step pdk "spindle-pdk on wasm32-unknown-unknown and wasm32-wasip1 (std and no_std), and its plugin's clippy"
run_pdk() {
    local t f
    for t in wasm32-unknown-unknown wasm32-wasip1; do
        cargo clippy -p spindle-pdk --target "$t" --quiet -- -D warnings
        cargo clippy -p spindle-pdk --target "$t" --quiet --no-default-features \
            --features allocator,panic-handler -- -D warnings
    done
    # The macros' expansions as a user's clippy sees them.
    for f in std no-std; do
        (cd examples/plugins/pdk-greeter &&
            cargo clippy --quiet --locked --offline --target wasm32-unknown-unknown \
                --target-dir ../../../target/pdk-greeter-clippy \
                --no-default-features --features "$f" -- -D warnings)
    done
    drop_on_ci target/pdk-greeter-clippy
}

step fallback "spindle-fiber with the portable backend as the native one (feature fallback)"
run_fallback() { cargo test -p spindle-fiber --features fallback; }

# The drop-in's tests and wasmtime's async under ASan (`cargo +nightly
# asan-full`, a whole wasmtime build under ASan, about 9 minutes) and Miri
# (`cargo +nightly miri test -p spindle-fiber`, about 3.5 minutes with its
# sysroot) are left to those commands to keep CI's time.
step asan "spindle-fiber under AddressSanitizer (nightly), asm then ucontext backend"
run_asan() {
    cargo +nightly asan
    cargo +nightly asan-fallback
}

step memcheck "spindle-fiber's tests under Valgrind memcheck"
run_memcheck() { cargo memcheck; }

# Every cross target's suite, two at a time: under qemu each suite runs on
# one thread (below), so one suite alone leaves a core idle. One cargo
# invocation first builds every target's test binaries: each target alone
# is a chain of small crates one core compiles while the other idles.
# One test thread under qemu: the crash tests fork a child, and qemu-user's
# fork can deadlock (the child stuck on a lock another guest thread held)
# when the guest is multithreaded. Seen here as a hang; single-threaded it
# cannot happen. Every cell of every cross target: `cargo cross-full`.
cross_targets=(aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu powerpc64le-unknown-linux-gnu
    s390x-unknown-linux-gnu armv7-unknown-linux-gnueabihf i686-unknown-linux-gnu)
step cross "spindle-fiber on aarch64, riscv64, ppc64le (64 KiB pages), s390x, armv7 under qemu and i686 natively (IA-32), each target's asm and ucontext"
run_cross() {
    cargo test -p spindle-fiber --no-run --quiet "${cross_targets[@]/#/--target=}"
    run_in_pairs cross_suite "${cross_targets[@]}"
}
cross_suite() { cargo test -p spindle-fiber --target "$1" -- --test-threads=1; }

step msrv "spindle-fiber on rustc 1.85, its rust-version"
run_msrv() {
    CARGO_TARGET_DIR=target/msrv cargo +1.85 test -p spindle-fiber
    drop_on_ci target/msrv
}

step ucontext-layout "ucontext_t of spindle-fiber's own declarations = glibc's headers (riscv64, armv7)"
run_ucontext_layout() {
    cargo test -p spindle-ucontext-layout --target riscv64gc-unknown-linux-gnu
    cargo test -p spindle-ucontext-layout --target armv7-unknown-linux-gnueabihf
}



step cross-clippy "clippy on spindle-fiber for s390x, armv7, thumbv7neon, i686 and powerpc64le"
run_cross_clippy() {
    cargo clippy -p spindle-fiber --all-targets --quiet --target s390x-unknown-linux-gnu \
        --target armv7-unknown-linux-gnueabihf --target thumbv7neon-unknown-linux-gnueabihf \
        --target i686-unknown-linux-gnu --target powerpc64le-unknown-linux-gnu -- -D warnings
}




# Linked with mingw-w64, run by scripts/wine-run.sh (.cargo/config.toml).
step windows-fiber "spindle-fiber on x86_64-pc-windows-gnu under Wine (x86_64-windows-asm, then windows-fibers)"
run_windows_fiber() {
    cargo test -p spindle-fiber --target x86_64-pc-windows-gnu
    cargo test -p spindle-fiber --target x86_64-pc-windows-gnu --features fallback
}

step windows-compat "the drop-in's own tests on x86_64-pc-windows-gnu under Wine (x86_64-windows-asm, then windows-fibers)"
run_windows_compat() {
    cargo test -p wasmtime-internal-fiber --target x86_64-pc-windows-gnu
    cargo test -p wasmtime-internal-fiber --target x86_64-pc-windows-gnu \
        --features spindle-wasmtime-fiber/fallback
}

# --nocapture: the cells that cannot run (custom stacks on Win32 Fibers) and
# what Wine does after a stack overflow on one are printed, not hidden. The
# unpatched control (`cargo wasmtime-windows-own`) and the windows-fibers
# backend (`cargo wasmtime-windows-fibers`) are a wasmtime build each.
step windows-wasmtime "wasmtime's async on x86_64-pc-windows-gnu under Wine, on Spindle's switch (patched)"
run_windows_wasmtime() {
    SPINDLE_EXPECT_FIBER=spindle cargo test -p spindle-tests --test wasmtime_fibers \
        --target x86_64-pc-windows-gnu --config "$patch" -- --nocapture
    restore_lock
    drop_on_ci target/x86_64-pc-windows-gnu
}

# Unoptimized: the instrumented wasmtime build is most of this step's cost.
# The long run is `scripts/fuzz.sh 3600` (fuzz/README.md).
step fuzz "fuzz targets: every committed seed replayed, then 10 s of each target (unoptimized build)"
run_fuzz() {
    FUZZ_PROFILE=dev scripts/fuzz.sh 10
    drop_on_ci fuzz/target
}

# --workspace: the same features as the workspace step, so nothing is
# rebuilt (scripts/soak.sh builds per package, which rebuilds wasmtime).
step soak "soak tests at 1 % of their counts, unoptimized (full counts: scripts/soak.sh, RELIABILITY.md)"
run_soak() {
    SPINDLE_SOAK_SCALE=0.01 cargo test --workspace --test soak -- --ignored --nocapture --test-threads=1
}

# ---------------------------------------------------------------------------
usage() {
    echo "usage: scripts/test.sh [--list | STEP...]   (no argument: every step)"
}
if [[ ${1:-} == --list ]]; then
    for name in "${names[@]}"; do
        printf '%-17s %s\n' "$name" "${about[$name]}"
    done
    exit 0
fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
selected=("$@")
if ((${#selected[@]} == 0)); then
    selected=("${names[@]}")
fi
for name in "${selected[@]}"; do
    if [[ -z ${about[$name]+set} ]]; then
        echo "error: no step named '$name'; \`scripts/test.sh --list\` shows them" >&2
        usage >&2
        exit 2
    fi
done

trap 'restore_lock 2>/dev/null || true' EXIT
started=$SECONDS
timings=()
for name in "${selected[@]}"; do
    # Each step starts with the disk left and this checkout's build output:
    # a CI run once died of a full disk, so every log says where space goes.
    printf '\n==> [%s] %s\n' "$name" "${about[$name]}"
    printf '    (at %ss; disk: %s free; target %s, fuzz/target %s)\n' \
        "$((SECONDS - started))" \
        "$(df -h --output=avail . | tail -n 1 | tr -d ' ')" \
        "$(du -sh target 2>/dev/null | cut -f1)" "$(du -sh fuzz/target 2>/dev/null | cut -f1)"
    step_started=$SECONDS
    "run_${name//-/_}"
    timings+=("$(printf '%6ss  %s' "$((SECONDS - step_started))" "$name")")
done

printf '\n==> time per step\n'
printf '    %s\n' "${timings[@]}"
printf '\n==> %s passed in %ss\n' \
    "$(((${#selected[@]} == ${#names[@]})) && echo "all steps" || echo "${selected[*]}")" \
    "$((SECONDS - started))"
