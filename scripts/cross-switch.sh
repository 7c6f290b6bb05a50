#!/usr/bin/env bash
# Spindle's fiber round trip against the peers with the same architecture,
# all under the same qemu-user (benches/cross-switch; results in
# docs/cross-switch.md):
#
#   scripts/cross-switch.sh [target ...]   # default: every target below
#
# Two measures per implementation, both under the emulator, so only ratios
# between implementations of one target mean anything:
# * instructions per round trip: qemu runs one guest instruction per
#   translation block (-singlestep) and logs every block it executes
#   (-d exec,nochain), so the log's "Trace" lines count the executed guest
#   instructions of the whole process, exactly and repeatably; the count
#   for 3000 round trips minus the count for 1000, over 2000, is one round
#   trip (start-up and teardown cancel). System calls count as one
#   instruction: the ucontext figure leaves out the kernel's work.
# * time per round trip: the median of 5 processes of 200,000 round trips
#   each (wall clock under qemu; the kernel's work included).
# powerpc64le and loongarch64 are built with nightly (corosensei's
# powerpc64 assembly needs a nightly feature; loongarch64's std is built
# from rust-src). i686 runs under qemu-i386 here too (the program has no threads, which
# qemu-i386 7.2 cannot start), and natively as well (IA-32 compatibility
# mode: real hardware, time only).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(s390x-unknown-linux-gnu i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf
    thumbv7neon-unknown-linux-gnueabihf powerpc64le-unknown-linux-gnu loongarch64-unknown-linux-musl)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

runner() {
    case $1 in
    s390x-*) echo "qemu-s390x -L /usr/s390x-linux-gnu" ;;
    i686-*) echo "qemu-i386 -L /usr/i686-linux-gnu" ;;
    armv7-* | thumbv7neon-*) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
    powerpc64le-*) echo "qemu-ppc64le -p 65536 -L /usr/powerpc64le-linux-gnu" ;;
    loongarch64-*) echo "qemu-loongarch64" ;;
    *) echo "no runner for $1" >&2; exit 1 ;;
    esac
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
count() { # runner... binary impl rounds -> executed guest instructions
    "$@" >/dev/null
    grep -c '^Trace' "$log"
}
median_time() { # command... -> median ns per round trip of 5 runs
    for _ in 1 2 3 4 5; do "$@" 200000 time; done | sort -n | sed -n 3p
}

printf '| target | implementation | instructions / round trip (qemu) | ratio | ns / round trip (qemu) | ratio |\n'
printf '|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
    manifest=benches/cross-switch/Cargo.toml
    if [[ $t == loongarch64-* ]]; then
        cargo +nightly build --quiet --release --manifest-path "$manifest" --target "$t" \
            -Zbuild-std=std,panic_unwind --target-dir target/cross-switch
    elif [[ $t == powerpc64le-* ]]; then
        # corosensei 0.3.4 enables asm_experimental_arch on powerpc64: a
        # nightly build (all three implementations from the same compiler),
        # with std from rust-src (nightly's rust-std for it is not offered).
        cargo +nightly build --quiet --release --manifest-path "$manifest" --target "$t" \
            -Zbuild-std=std,panic_unwind --target-dir target/cross-switch-nightly
        bin=target/cross-switch-nightly/$t/release/spindle-cross-switch
    else
        cargo build --quiet --release --manifest-path "$manifest" --target "$t" --target-dir target/cross-switch
    fi
    [[ $t == powerpc64le-* ]] || bin=target/cross-switch/$t/release/spindle-cross-switch
    read -r -a run <<<"$(runner "$t")"
    impls=$("${run[@]}" "$bin" list)
    base_i='' base_t=''
    for impl in $impls; do
        c1=$(count "${run[@]}" -singlestep -d exec,nochain -D "$log" "$bin" "$impl" 1000)
        c2=$(count "${run[@]}" -singlestep -d exec,nochain -D "$log" "$bin" "$impl" 3000)
        per=$(((c2 - c1) / 2000))
        ns=$(median_time "${run[@]}" "$bin" "$impl")
        [[ -n $base_i ]] || { base_i=$per; base_t=$ns; }
        printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$impl" "$per" \
            "$(awk -v a="$per" -v b="$base_i" 'BEGIN{printf "%.2f×", a/b}')" "$ns" \
            "$(awk -v a="$ns" -v b="$base_t" 'BEGIN{printf "%.2f×", a/b}')"
    done
    if [[ $t == i686-* ]]; then
        base=''
        for impl in $impls; do
            ns=$(median_time "$bin" "$impl")
            [[ -n $base ]] || base=$ns
            printf '| %s (native, IA-32 mode) | %s | | | %s | %s |\n' "$t" "$impl" "$ns" \
                "$(awk -v a="$ns" -v b="$base" 'BEGIN{printf "%.2f×", a/b}')"
        done
    fi
done
