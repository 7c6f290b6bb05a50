#!/usr/bin/env bash
# Runs a Windows (x86_64-pc-windows-gnu) executable under Wine: the cargo
# runner for that target (.cargo/config.toml) and SPINDLE_WINE_RUNNER for
# tests that re-run their own binary as a child.
#
# - WINEPREFIX lives under target/ so nothing touches $HOME; the first start
#   creates it (about 10-20 s), later ones reuse it.
# - WINEPATH puts target/wine-shim first: it holds bcryptprimitives.dll with
#   ProcessPrng (scripts/wine/processprng.c, built by scripts/setup.sh), which
#   Rust's std needs and Debian 12's Wine 8.0 lacks.
# - WINEDEBUG=-all keeps Wine's own diagnostics out of test output.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shim="$root/target/wine-shim"
if [[ ! -f "$shim/bcryptprimitives.dll" ]]; then
    echo "wine-run: $shim/bcryptprimitives.dll is missing; run scripts/setup.sh" >&2
    exit 127
fi
command -v wine >/dev/null || { echo "wine-run: wine is not installed; run scripts/setup.sh" >&2; exit 127; }
export WINEPREFIX="${WINEPREFIX:-$root/target/wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEPATH="Z:${shim//\//\\}${WINEPATH:+;$WINEPATH}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
if [[ ! -d "$WINEPREFIX" ]]; then
    mkdir -p "$WINEPREFIX"
    wineboot --init >/dev/null 2>&1 || true
fi
# One server for the whole run, kept 60 s past its last client: a server
# that shuts down as the next test binary connects makes that binary fail
# with "wine client error: recvmsg: Connection reset by peer" (seen once on
# CI). Does nothing when a server for this prefix is already running.
wineserver -p60 >/dev/null 2>&1 || true
exec wine "$@"
