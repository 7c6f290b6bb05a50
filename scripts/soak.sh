#!/usr/bin/env bash
# The soak tests (ignored by default), in release mode, one test at a time
# (each measures the whole process's RSS and mappings), with their figures:
#   fiber/tests/soak.rs    10^6 fiber create/resume/drop, fresh and pooled
#   runtime/tests/soak.rs  10^5 instantiate+call+drop, 10^4 resumable calls
#                          dropped while suspended, 10^3 of each hostile plugin
#
#   scripts/soak.sh                      full counts (RELIABILITY.md's figures)
#   SPINDLE_SOAK_SCALE=0.01 SPINDLE_SOAK_PROFILE=dev scripts/soak.sh
#       1 % of the counts, unoptimized (CI: reuses what `cargo test
#       --workspace` built instead of building wasmtime again in release)
set -euo pipefail
cd "$(dirname "$0")/.."

case ${SPINDLE_SOAK_PROFILE:-release} in
    release) profile=(--release) ;;
    dev) profile=() ;;
    *)
        echo "soak.sh: SPINDLE_SOAK_PROFILE must be release or dev" >&2
        exit 2
        ;;
esac

started=$SECONDS
for t in "spindle-fiber soak" "spindle-runtime soak"; do
    read -r pkg test <<<"$t"
    printf '\n==> %s: tests/%s.rs (%s, SPINDLE_SOAK_SCALE=%s)\n' "$pkg" "$test" "${SPINDLE_SOAK_PROFILE:-release}" "${SPINDLE_SOAK_SCALE:-1}"
    cargo test "${profile[@]}" -p "$pkg" --test "$test" -- --ignored --nocapture --test-threads=1
done
printf '\n==> soak tests passed in %ss\n' "$((SECONDS - started))"
