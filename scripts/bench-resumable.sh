#!/usr/bin/env bash
# Resumable plugin calls on wasmtime's own fibers and on Spindle's, in one go.
#
# `[patch.crates-io]` replaces wasmtime-internal-fiber for a whole build, so
# the two cannot share a binary: this builds `benches/benches/resumable.rs`
# twice (plain, and with the patch given through `cargo --config`, exactly
# the line a user adds) and runs the two builds alternately, ROUNDS times
# (default 5), on the same machine. A single process of either can land in a
# slow mode on this kind of VM (BENCHMARKS.md), so one pair proves little:
# the script prints every round's ratio and the medians over all rounds.
#
#   bash scripts/bench-resumable.sh                        # criterion defaults
#   ROUNDS=3 bash scripts/bench-resumable.sh --measurement-time 3
#
# Each build is a release build of wasmtime (minutes on two cores the first
# time; later rounds reuse it). The patched build rewrites Cargo.lock to
# point at the local crate; the script puts it back before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${ROUNDS:-5}
patch="patch.crates-io.wasmtime-internal-fiber.path=\"$root/fiber/wasmtime-compat\""
results=$(mktemp)

finish() {
    cargo metadata --format-version 1 >/dev/null 2>&1 || true
    rm -f "$results"
}
trap finish EXIT

# Appends one JSON line, {"fibers": ..., "<bench>": median ns, ...}, read
# from criterion's estimates of the process that just ran.
record() {
    python3 - "$root/target/criterion/resumable" "$1" >>"$results" <<'PY'
import json, os, sys
base, fibers = sys.argv[1], sys.argv[2]
row = {"fibers": fibers}
for bench in ("yield_round_trip", "async_host_call", "sync_host_call"):
    with open(os.path.join(base, f"{bench}_{fibers}", "new", "estimates.json")) as f:
        row[bench] = json.load(f)["median"]["point_estimate"]
print(json.dumps(row))
PY
}

for ((round = 1; round <= rounds; round++)); do
    echo "==> round $round/$rounds: wasmtime's own fibers"
    cargo bench -p spindle-benches --bench resumable -- "$@"
    record wasmtime-fibers
    echo "==> round $round/$rounds: Spindle's fibers (fiber/wasmtime-compat via [patch.crates-io])"
    cargo bench -p spindle-benches --bench resumable --config "$patch" -- "$@"
    record spindle-fibers
done

python3 - "$results" <<'PY'
import json, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
wasmtime = [r for r in rows if r["fibers"] == "wasmtime-fibers"]
spindle = [r for r in rows if r["fibers"] == "spindle-fibers"]

def show(ns):
    return f"{ns:.1f} ns" if ns < 1000 else f"{ns / 1000:.2f} µs"

print()
print(f"medians over {len(wasmtime)} alternating rounds (each: criterion's median for one process)")
print()
print("| benchmark | wasmtime's fibers | Spindle's fibers | Spindle / wasmtime | ratio in each round |")
print("|---|---:|---:|---:|---|")
for bench in ("yield_round_trip", "async_host_call", "sync_host_call"):
    w = statistics.median(r[bench] for r in wasmtime)
    s = statistics.median(r[bench] for r in spindle)
    each = ", ".join(f"{b[bench] / a[bench]:.2f}" for a, b in zip(wasmtime, spindle))
    print(f"| {bench} | {show(w)} | {show(s)} | {s / w:.2f}× | {each} |")
PY
