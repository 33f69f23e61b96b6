#!/usr/bin/env bash
# Boots every image under QEMU (TCG) the way they were validated and checks
# that each exits with status 1 (the guest wrote 0 to port 0xF4) without a
# FAIL line. QEMU is a reference for the images, not a project dependency:
#   apt-get install -y qemu-system-x86
# Usage: images/qemu-check.sh [CPU model ...]   (default: qemu64 max)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v qemu-system-x86_64 > /dev/null || { echo "qemu-system-x86_64 not installed" >&2; exit 2; }
bash "$here/build.sh" || exit 2

cpus=("$@")
[[ ${#cpus[@]} -gt 0 ]] || cpus=(qemu64 max)
qemu-system-x86_64 --version | head -1
status=0
for cpu in "${cpus[@]}"; do
    for image in hello modes paging exceptions sse compute; do
        out="$(timeout 120 qemu-system-x86_64 -cpu "$cpu" -kernel "$here/build/$image.elf" \
            -serial stdio -display none -device isa-debug-exit,iobase=0xf4,iosize=4 -m 128 -no-reboot \
            < /dev/null 2> /dev/null)"
        rc=$?
        pass=$(grep -c '^PASS: ' <<< "$out")
        fail=$(grep -c '^FAIL: ' <<< "$out")
        skip=$(grep -c '^SKIP: ' <<< "$out")
        lines=$(wc -l <<< "$out")
        verdict=ok
        if [[ $rc -ne 1 || $fail -ne 0 ]]; then
            verdict=BAD
            status=1
        fi
        printf '%-8s %-15s exit=%d lines=%3d PASS=%3d FAIL=%d SKIP=%d  %s\n' \
            "$cpu" "$image.elf" "$rc" "$lines" "$pass" "$fail" "$skip" "$verdict"
        [[ $verdict == ok ]] || grep -E '^(FAIL|SUMMARY)' <<< "$out" | sed 's/^/    /'
    done
done
exit $status
