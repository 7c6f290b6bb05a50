#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, one after the other, and fails if
# any finds a crash (a panic, a divergence from its model, a hang past
# -timeout, memory past -rss_limit_mb).
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# TARGET is one of: fibers fibers-fallback import_report doctor bytes_abi
# run_args wasi_host doctor_log patch_manifest (default: all nine;
# fibers-fallback is the fibers target on the portable ucontext backend,
# `--features spindle-fiber/fallback`). Each target first replays every
# committed seed (fuzz/corpus/<target>/, `-runs=0`: each input once, a
# regression fails here), then fuzzes from those seeds plus whatever earlier
# runs found (kept in fuzz/target/corpus/, never committed); crashes land in
# fuzz/artifacts/<target>/. SECONDS=0 only replays. Needs nightly and
# cargo-fuzz (scripts/setup.sh).
#
# FUZZ_SANITIZER (default: none) is passed to `cargo fuzz -s`. `address`
# is supported for the fibers target on both backends
# (`FUZZ_SANITIZER=address scripts/fuzz.sh 600 fibers fibers-fallback`):
# spindle-fiber tells AddressSanitizer about every stack switch
# (fiber/src/asan.rs), so its reports are real. The other targets run
# wasmtime's generated code, which ASan does not instrument; coverage
# guidance and Rust's own checks do the work there.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh SECONDS [fibers|fibers-fallback|import_report|doctor|bytes_abi|run_args|wasi_host|doctor_log|patch_manifest]..." >&2
    exit 2
fi
seconds=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fibers fibers-fallback import_report doctor bytes_abi run_args wasi_host doctor_log patch_manifest)
sanitizer=${FUZZ_SANITIZER:-none}
# FUZZ_PROFILE=dev builds without optimization: a cold build takes a
# fraction of the time (CI), and each run executes fewer inputs.
case ${FUZZ_PROFILE:-release} in
    release) profile=-O ;;
    dev) profile=--dev ;;
    *)
        echo "fuzz.sh: FUZZ_PROFILE must be release or dev" >&2
        exit 2
        ;;
esac

cargo +nightly fuzz --version >/dev/null 2>&1 || {
    echo "fuzz.sh: cargo-fuzz is not installed (run scripts/setup.sh)" >&2
    exit 1
}

failed=()
for t in "${targets[@]}"; do
    case $t in
        fibers | import_report | doctor | bytes_abi | run_args | wasi_host | doctor_log | patch_manifest)
            bin=$t features=()
            ;;
        fibers-fallback) bin=fibers features=(--features spindle-fiber/fallback) ;;
        *)
            echo "fuzz.sh: unknown target $t" >&2
            exit 2
            ;;
    esac
    # doctor's seeds include a linked executable of ~14 KiB.
    max_len=4096
    [[ $bin == doctor ]] && max_len=32768
    corpus=target/corpus/$t
    mkdir -p "$corpus" "artifacts/$t"
    cp -n corpus/"$bin"/* "$corpus"/ 2>/dev/null || true
    printf '\n==> fuzz %s for %ss (sanitizer %s, %s)\n' "$t" "$seconds" "$sanitizer" "${FUZZ_PROFILE:-release}"
    cargo +nightly fuzz build -s "$sanitizer" "$profile" "${features[@]}" "$bin"
    log=target/fuzz-$t.log
    opts=(-timeout=20 -rss_limit_mb=2048 -max_len="$max_len" -artifact_prefix="artifacts/$t/")
    if ! cargo +nightly fuzz run -s "$sanitizer" "$profile" "${features[@]}" "$bin" "corpus/$bin" -- \
        -runs=0 "${opts[@]}" >"$log" 2>&1; then
        tail -n 60 "$log"
        printf '%s: A COMMITTED SEED FAILS (log: fuzz/%s)\n' "$t" "$log"
        failed+=("$t")
        continue
    fi
    printf '%s: %s committed seeds replayed\n' "$t" "$(find "corpus/$bin" -type f | wc -l)"
    [[ $seconds -gt 0 ]] || continue
    if cargo +nightly fuzz run -s "$sanitizer" "$profile" "${features[@]}" "$bin" "$corpus" -- \
        -max_total_time="$seconds" "${opts[@]}" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done ' "$log" | sed "s/^/$t: /" || true
        grep -E '^#[0-9]+' "$log" | tail -n 1 | sed "s/^/$t: last stats: /" || true
        printf '%s: no finding in %ss\n' "$t" "$seconds"
    else
        tail -n 60 "$log"
        printf '%s: FOUND A CRASH (log: fuzz/%s, input in fuzz/artifacts/%s/)\n' "$t" "$log" "$t"
        failed+=("$t")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashes found by: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds}s each)"
