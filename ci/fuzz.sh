#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, in build-fuzz/ with clang) and runs each for
# SECONDS (default 120) on its growing corpus; prints executions and crashes per target.
# Exits 1 if any target crashed; the inputs are kept in build-fuzz/crashes/TARGET/.
#   ci/fuzz.sh [SECONDS]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-120}
build=${TCPFAULT_FUZZ_BUILD:-$top/build-fuzz}
"$top/fuzz/build.sh" "$build" >/dev/null || exit 1
status=0 crashed=0
for target in packet_parse tcp_options sysctl_conf agent_line; do
  out=$("$top/fuzz/run.sh" "$build" "$target" "$seconds") || { status=1; crashed=$((crashed + 1)); }
  echo "$out"
done
echo "4 targets, ${seconds} s each: $crashed crashed"
exit $status
