#!/bin/sh
# Linker (and C compiler) for loongarch64-unknown-linux-musl: zig's clang
# and the musl it builds, for the baseline LA64 CPU with hard float (LP64D)
# and without LSX/LASX, which Debian 12's qemu-loongarch64 (7.2) cannot
# run. zig comes from PyPI (ziglang, scripts/setup.sh). zig's linker does
# not know --no-rosegment (rustc passes it; it only changes segment
# layout), so it is left out.
for arg do
    shift
    [ "$arg" = "-Wl,--no-rosegment" ] && continue
    set -- "$@" "$arg"
done
exec python3 -m ziglang cc -target loongarch64-linux-musl -mcpu=generic_la64+f+d "$@"
