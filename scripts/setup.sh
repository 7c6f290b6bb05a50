#!/usr/bin/env bash
# One-time (idempotent, quiet when everything is present) setup of what the
# build and the tests need beyond the Rust toolchain itself. Called by the
# README's first command and by .ci/run. Fails loudly, naming the tool, if
# something cannot be installed — never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

need_targets=(
    wasm32-unknown-unknown    # the example Rust plugin (spindle-examples)
    wasm32-wasip1             # WASI plugins: runtime/tests/plugins/wasi-plugin, the kit's (examples/tests/pdk.rs)
    aarch64-unknown-linux-gnu # fiber suite under qemu, LTO matrix
    aarch64-apple-darwin      # LTO matrix (linked with cargo-zigbuild, inspected)
    x86_64-apple-darwin       # LTO matrix (linked with cargo-zigbuild, inspected)
    x86_64-pc-windows-gnu     # fiber suite + LTO matrix under Wine (linked with mingw-w64)
    x86_64-pc-windows-msvc    # LTO matrix: cargo check + object inspection (no MSVC linker)
    aarch64-pc-windows-msvc   # cargo check of the Win32 Fibers backend + object inspection
)
# glibc cross targets (fiber suite, ucontext layout check and LTO
# cells under qemu-user; linkers and runners in .cargo/config.toml).
need_targets+=(
    riscv64gc-unknown-linux-gnu
    armv7-unknown-linux-gnueabihf
    thumbv7neon-unknown-linux-gnueabihf # the Arm switch as Thumb-2 (same linker, runner)
    i686-unknown-linux-gnu
    powerpc64le-unknown-linux-gnu
    s390x-unknown-linux-gnu
)
need_components=(clippy rustfmt)

fail() { echo "setup: $*" >&2; exit 1; }

command -v rustup >/dev/null || fail "rustup is required (https://rustup.rs) and was not found"
command -v cargo >/dev/null || fail "cargo is required and was not found"

installed_targets=$(rustup target list --installed)
for t in "${need_targets[@]}"; do
    if ! grep -qx "$t" <<<"$installed_targets"; then
        echo "setup: adding rustup target $t"
        rustup target add "$t" >/dev/null || fail "could not install rustup target $t"
    fi
done

installed_components=$(rustup component list --installed)
for c in "${need_components[@]}"; do
    if ! grep -q "^$c" <<<"$installed_components"; then
        echo "setup: adding rustup component $c"
        rustup component add "$c" >/dev/null || fail "could not install rustup component $c"
    fi
done

# Older compilers. 1.85 is spindle-fiber's rust-version (test.sh
# runs its suite on it); 1.91.1 is the rustc on which wasmtime 38.0.3's
# switch vanished, and the LTO matrix links the aarch64-apple-darwin
# ThinLTO probe with it. 1.96 and 1.97 are the rust-versions of wasmtime 49
# and 50/51, whose `spindle patch` proof cells build on them
# (tests/tests/patch_cells.rs; `cargo patch-full`). CI runs none of those
# cells, so with CI set they are left out: 43 s and 585 MB each measured,
# time a cold CI run does not have to spare.
toolchains=(1.85 1.91.1)
if [[ -z ${CI:-} ]]; then
    toolchains+=(1.96 1.97)
fi
installed_toolchains=$(rustup toolchain list)
for tc in "${toolchains[@]}"; do
    if ! grep -q "^$tc" <<<"$installed_toolchains"; then
        echo "setup: installing rustup toolchain $tc (minimal profile)"
        rustup toolchain install "$tc" --profile minimal >/dev/null 2>&1 ||
            fail "could not install rustup toolchain $tc"
    fi
done
if ! rustup target list --toolchain 1.91.1 --installed | grep -qx aarch64-apple-darwin; then
    rustup target add --toolchain 1.91.1 aarch64-apple-darwin >/dev/null 2>&1 ||
        fail "could not add aarch64-apple-darwin to rustup toolchain 1.91.1"
fi
# The seed's build: tests/tests/seed.rs builds the seed application on 1.91.1 for
# aarch64-apple-darwin (above) and, behind `cargo seed-full`, runs it on
# aarch64-unknown-linux-gnu under qemu.
if ! rustup target list --toolchain 1.91.1 --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add --toolchain 1.91.1 aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
        fail "could not add aarch64-unknown-linux-gnu to rustup toolchain 1.91.1"
fi

# Debian packages, installed only when missing.
need_packages=(
    gdb                    # fiber tests: gdb walks a backtrace from a fiber into its resumer
    gcc-aarch64-linux-gnu  # linker for aarch64-unknown-linux-gnu (.cargo/config.toml)
    libc6-dev-arm64-cross  # its C library, also the qemu sysroot /usr/aarch64-linux-gnu
    qemu-user              # qemu-aarch64, the explicit test runner (no binfmt_misc here)
    mingw-w64              # x86_64-w64-mingw32-gcc: linker for x86_64-pc-windows-gnu
    wine                   # runs the Windows test binaries (scripts/wine-run.sh)
    wine64
)
# Cross gcc (linker, and the C compiler of tests/ucontext-layout)
# and glibc (headers, and the qemu sysroot /usr/<triple>) per cross target.
need_packages+=(
    gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
    gcc-i686-linux-gnu libc6-dev-i386-cross
    libc6-i386 # /lib/ld-linux.so.2: i686 binaries run natively (qemu-i386 7.2 hangs in pthread_create)
    gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
    gcc-s390x-linux-gnu libc6-dev-s390x-cross
)
need_packages+=(valgrind) # memcheck runs the fiber suite (fiber/README.md, scripts/test.sh)
# The C plugin (examples/plugins/c-greeter, cli/tests/all/c_plugin.rs): clang for
# wasm32-wasi, wasm-ld, wasi-libc's malloc, compiler-rt's wasm32 builtins.
need_packages+=(clang lld wasi-libc libclang-rt-dev-wasm32)
missing=()
for p in "${need_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || fail "apt-get is needed to install: ${missing[*]}"
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || fail "apt-get update failed"
    # DPkg::Lock::Timeout: wait for another apt run (an image still being
    # provisioned) instead of failing at once.
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null ||
        fail "could not install: ${missing[*]}"
fi

# Wine needs a ProcessPrng shim to start any Rust >= 1.78 program (see
# scripts/wine/processprng.c); scripts/wine-run.sh finds it in target/wine-shim.
shim=target/wine-shim/bcryptprimitives.dll
if [[ ! -f $shim || scripts/wine/processprng.c -nt $shim ]]; then
    command -v x86_64-w64-mingw32-gcc >/dev/null || fail "x86_64-w64-mingw32-gcc (mingw-w64) is needed to build $shim"
    mkdir -p target/wine-shim
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$shim" scripts/wine/processprng.c -ladvapi32 ||
        fail "could not build $shim with x86_64-w64-mingw32-gcc"
fi
command -v wine >/dev/null || fail "wine was installed but is not on PATH"

# cargo-zigbuild + zig (both from PyPI) link real Mach-O executables here for
# the LTO matrix's Apple targets.
if ! cargo-zigbuild --version >/dev/null 2>&1 || ! python3 -c "import ziglang" 2>/dev/null; then
    command -v python3 >/dev/null || fail "python3 is needed to install cargo-zigbuild and ziglang from PyPI"
    echo "setup: installing cargo-zigbuild and ziglang from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        cargo-zigbuild ziglang || fail "could not install cargo-zigbuild/ziglang with pip"
    # pyenv only exposes new console scripts after a rehash.
    if command -v pyenv >/dev/null; then pyenv rehash; fi
    cargo-zigbuild --version >/dev/null 2>&1 || fail "cargo-zigbuild installed but does not run (is pip's bin directory on PATH?)"
fi

# Doctor's link logs (cli/tests/all/doctor_logs.rs, scripts/make-link-logs.sh):
# A real wasm link failure on nightly (Rust 1.96+ no longer passes
# --allow-undefined); the test prints "NOT RUN: ..." without it, this makes
# CI run it. (Its mingw COFF link uses mingw-w64, installed above.)
if ! rustup +nightly target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding rustup target wasm32-unknown-unknown to nightly"
    rustup toolchain install nightly --profile minimal --target wasm32-unknown-unknown >/dev/null ||
        fail "could not install nightly with wasm32-unknown-unknown"
fi

# `cargo +nightly miri test -p spindle-fiber` (fiber/README.md): Miri needs
# the standard library's sources to build its own sysroot.
nightly_components=$(rustup component list --toolchain nightly --installed 2>/dev/null || true)
if ! grep -q '^miri' <<<"$nightly_components" || ! grep -qx 'rust-src' <<<"$nightly_components"; then
    echo "setup: adding rustup components miri and rust-src to nightly"
    rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 ||
        fail "could not add the miri and rust-src components to nightly"
fi
# Fuzzing (fuzz/, scripts/fuzz.sh): cargo-fuzz drives the fuzz targets on nightly (libFuzzer); fuzz/ is its
# own workspace with its own lock file.
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz"
    cargo install --quiet cargo-fuzz --locked || fail "could not install cargo-fuzz"
fi
cargo fetch --quiet --manifest-path fuzz/Cargo.toml || fail "cargo fetch failed for fuzz"

# Crates are fetched once here, so the tests' nested cargo builds never race
# to download them.
cargo fetch --quiet || fail "cargo fetch failed"
# The host outside the workspace and the kit's plugin: own lock files.
for manifest in tests/outside-host/Cargo.toml examples/plugins/pdk-greeter/Cargo.toml; do
    cargo fetch --quiet --manifest-path "$manifest" || fail "cargo fetch failed for $manifest"
done
# wasmtime's async probe and the cross round-trip benchmark, each
# its own workspace and lock file; loongarch64 builds std from nightly's
# rust-src (installed above for Miri) and links with zig (ziglang, above).
for manifest in tests/async-probe/Cargo.toml benches/cross-switch/Cargo.toml; do
    cargo fetch --quiet --manifest-path "$manifest" || fail "cargo fetch failed for $manifest"
done
command -v qemu-loongarch64 >/dev/null || fail "qemu-loongarch64 (Debian's qemu-user) was not found"
# The runtime LTO probe is its own workspace with its own lock file.
cargo fetch --quiet --manifest-path tests/runtime-probe/Cargo.toml ||
    fail "cargo fetch failed for tests/runtime-probe"
# The cross targets' application outside the workspace, also its own lock file.
cargo fetch --quiet --manifest-path tests/fiber-app/Cargo.toml ||
    fail "cargo fetch failed for tests/fiber-app"
cargo fetch --quiet --manifest-path tests/runtime-probe-unpatched/Cargo.toml ||
    fail "cargo fetch failed for tests/runtime-probe-unpatched"
# The Windows probe and the Windows benchmarks are their own workspaces too.
for manifest in tests/windows-probe/Cargo.toml benches/windows/Cargo.toml; do
    cargo fetch --quiet --manifest-path "$manifest" || fail "cargo fetch failed for $manifest"
done
