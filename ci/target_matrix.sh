#!/usr/bin/env bash
# The target matrix of the README: `tcpfault conformance --target kernel --target lwip
# --target gvisor --family both --slow` on this machine, one run, then `tcpfault
# kernel-matrix --section target-matrix` puts its report in README.md's target matrix
# section (a column per stack). Extra arguments go to `tcpfault conformance` (e.g. -k TW).
# The report stays in $TCPFAULT_REPORT (default report/targets/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
tcpfault="$top/build/bin/tcpfault"
out=${TCPFAULT_REPORT:-$top/report/targets}
rm -rf "$out" && mkdir -p "$out"
started=$(date +%s)
# A failing target still has its column: the matrix says what failed.
"$tcpfault" conformance --target kernel --target lwip --target gvisor --family both --slow \
  --json "$out/targets.json" --markdown "$out/tests.md" --artifacts "$out/artifacts" "$@" >"$out/targets.txt" 2>&1 || true
tail -n 3 "$out/targets.txt"
echo "the run took $(( $(date +%s) - started )) s"
"$tcpfault" kernel-matrix "$out/targets.json" --section target-matrix --markdown "$out/matrix.md" --readme "$top/README.md"
echo "matrix: $out/matrix.md (and README.md's target matrix); the run's output in $out/targets.txt"
