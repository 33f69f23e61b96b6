#!/usr/bin/env bash
# Sets up and runs the main job: builds the bundled test images (installing gcc/binutils if missing),
# builds the emulator, and boots images/build/hello.elf with its serial output on stdout.
# Extra arguments go to `emulator run`, e.g. `bash run.sh images/build/compute.elf --append iterations=10`.
set -euo pipefail
cd "$(dirname "$0")"
bash images/build.sh >&2
dotnet build Emulator -c Release -v quiet -nologo >&2
image=images/build/hello.elf
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then image=$1; shift; fi
exec dotnet Emulator/bin/Release/net10.0/emulator.dll run "$image" "$@"
