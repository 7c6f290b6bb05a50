#!/usr/bin/env bash
# Resumable plugin calls on wasmtime's own fibers and on Spindle's, in one go.
#
# `[patch.crates-io]` replaces wasmtime-internal-fiber for a whole build, so
# the two cannot share a binary: this builds and runs `benches/benches/
# resumable.rs` twice (plain, then with the patch given through `cargo
# --config`, exactly the line a user adds), back to back on the same machine,
# and prints criterion's medians side by side with the ratio.
#
#   bash scripts/bench-resumable.sh                       # criterion defaults
#   bash scripts/bench-resumable.sh --measurement-time 3  # extra criterion flags
#
# Each half is a release build of wasmtime (minutes on two cores the first
# time). The patched build rewrites Cargo.lock to point at the local crate;
# the script puts it back before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
patch="patch.crates-io.wasmtime-internal-fiber.path=\"$root/fiber/wasmtime-compat\""

restore_lock() { cargo metadata --format-version 1 --offline >/dev/null 2>&1 || true; }
trap restore_lock EXIT

echo "==> resumable calls on wasmtime's own fibers"
cargo bench -p spindle-benches --bench resumable -- "$@"
echo "==> resumable calls on Spindle's fibers (fiber/wasmtime-compat via [patch.crates-io])"
cargo bench -p spindle-benches --bench resumable --config "$patch" -- "$@"

python3 - "$root/target/criterion/resumable" <<'EOF'
import json, os, sys

base = sys.argv[1]

def median_ns(bench, fibers):
    path = os.path.join(base, f"{bench}_{fibers}", "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]

def show(ns):
    return f"{ns:.1f} ns" if ns < 1000 else f"{ns / 1000:.2f} µs"

print()
print("| median per iteration | wasmtime's fibers | Spindle's fibers | Spindle / wasmtime |")
print("|---|---:|---:|---:|")
for bench in ("yield_round_trip", "async_host_call", "sync_host_call"):
    w = median_ns(bench, "wasmtime-fibers")
    s = median_ns(bench, "spindle-fibers")
    print(f"| {bench} | {show(w)} | {show(s)} | {s / w:.2f}× |")
EOF
