#!/usr/bin/env bash
# Runs every test (NUnit; the test setup builds images/ itself) and ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test Emulator.Tests -c Release -nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" | tail -n 1)
if [ -z "$summary" ]; then
  echo "no test summary from dotnet test (build or runner failure, exit $rc)"
  echo "0 passed, 1 failed"
  exit $(( rc == 0 ? 1 : rc ))
fi
failed=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$summary")
passed=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$summary")
skipped=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$summary")
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
