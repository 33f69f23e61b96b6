#!/usr/bin/env bash
# Builds the bare-metal test images into images/build/ (see README.md).
# Installs gcc, binutils and make with apt-get when they are missing.
# Safe to run repeatedly and concurrently: make does nothing when the images
# are up to date, and a lock serialises parallel callers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

die()
{
    echo "images/build.sh: error: $*" >&2
    exit 1
}

# Non-x86-64 hosts need the x86-64 cross toolchain.
cross=""
packages=(gcc binutils make)
if [[ "$(uname -m)" != "x86_64" ]]; then
    cross="x86_64-linux-gnu-"
    packages=(gcc-x86-64-linux-gnu binutils-x86-64-linux-gnu make)
fi

missing_tools()
{
    local tool missing=()
    for tool in "${cross}gcc" "${cross}ld" "${cross}objcopy" make; do
        command -v "$tool" > /dev/null 2>&1 || missing+=("$tool")
    done
    echo "${missing[*]:-}"
}

missing="$(missing_tools)"
if [[ -n "$missing" ]]; then
    echo "images/build.sh: installing ${packages[*]} (missing: $missing)"
    sudo_cmd=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo > /dev/null 2>&1 || die "need root or sudo to install ${packages[*]}"
        sudo_cmd=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq "${packages[@]}"; } \
        < /dev/null > /tmp/images-apt.log 2>&1 ||
        die "apt-get install ${packages[*]} failed (log: /tmp/images-apt.log)"
    missing="$(missing_tools)"
    [[ -z "$missing" ]] || die "still missing after install: $missing"
fi

mkdir -p build
jobs="$(nproc 2> /dev/null || echo 2)"
run_make()
{
    make --no-print-directory -s -j"$jobs" CROSS="$cross" all
}

if command -v flock > /dev/null 2>&1; then
    exec 9> build/.lock
    flock 9
fi
run_make < /dev/null || die "make failed in $here (run 'make -C $here' to see every command)"

for image in hello hello64 modes paging exceptions sse compute interrupts smp acpi fwcfg; do
    [[ -f "build/$image.elf" ]] || die "build/$image.elf was not produced"
done
echo "images/build.sh: images ready in $here/build"
