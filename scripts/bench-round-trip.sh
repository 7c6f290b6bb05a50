#!/usr/bin/env bash
# Spindle's round trip against corosensei's, over many processes.
#
# One criterion process measures spindle-asm and corosensei in the groups
# `round_trip` (one after the other) and `round_trip_interleaved` (timed in
# alternating chunks). On this kind of VM one process can land in a slower
# mode than the next (BENCHMARKS.md, "Round trip against corosensei"), so
# one run proves little either way: this runs ROUNDS processes (default 20)
# and prints, per group, each round's medians and ratio, how many rounds
# Spindle won, and the medians over all rounds.
#
#   bash scripts/bench-round-trip.sh                      # criterion defaults
#   ROUNDS=30 bash scripts/bench-round-trip.sh --warm-up-time 1 --measurement-time 3
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${ROUNDS:-20}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

cargo bench -p spindle-benches --bench fiber --no-run
for ((round = 1; round <= rounds; round++)); do
    log=$(cargo bench -p spindle-benches --bench fiber -- \
        '^round_trip(_interleaved)?/(spindle-asm|corosensei)$' --noplot "$@" 2>&1) ||
        { echo "$log"; exit 1; }
    python3 - "$root/target/criterion" "$round" >>"$results" <<'PY'
import json, os, sys
base, round_ = sys.argv[1], sys.argv[2]
row = {}
for group in ("round_trip", "round_trip_interleaved"):
    for name in ("spindle-asm", "corosensei"):
        with open(os.path.join(base, group, name, "new", "estimates.json")) as f:
            row[f"{group}/{name}"] = json.load(f)["median"]["point_estimate"]
line = f"round {round_}:"
for group in ("round_trip", "round_trip_interleaved"):
    s, c = row[f"{group}/spindle-asm"], row[f"{group}/corosensei"]
    line += f"  {group} {s:.3f} / {c:.3f} ns = {s / c:.3f}"
print(line, file=sys.stderr)
print(json.dumps(row))
PY
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"{len(rows)} rounds (spindle-asm / corosensei, criterion's median per round)")
for group in ("round_trip", "round_trip_interleaved"):
    spindle = [r[f"{group}/spindle-asm"] for r in rows]
    coro = [r[f"{group}/corosensei"] for r in rows]
    ratios = [s / c for s, c in zip(spindle, coro)]
    won = sum(x < 1 for x in ratios)
    print(f"{group}: Spindle below in {won} of {len(rows)}; "
          f"medians {statistics.median(spindle):.3f} / {statistics.median(coro):.3f} ns; "
          f"ratio median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")
PY
