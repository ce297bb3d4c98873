#!/usr/bin/env bash
# Every standard build type configures and builds, with warnings as errors (what the
# project's CI asks of its code; users and the package build without -Werror).
#   packaging/tests/build_types.sh DIR [TYPE...]
# Each type builds in DIR/<type> (kept, so a second run only rebuilds what changed). It
# builds the engine's libraries, the Python extension, the lwIP agent and the engine's
# and C++ cases' test programs: the code each type's optimiser sees; benches and fuzz
# targets add nothing it does not. Set TCPFAULT_BUILD_TYPES_TARGETS to build others (all).
# Cost on a 2-core machine at -j2, from nothing: Debug about 6 min, each optimised type
# about 8-9 min; a rerun with nothing changed takes seconds.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: build_types.sh DIR [Debug|Release|RelWithDebInfo|MinSizeRel ...]}
shift
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Debug Release RelWithDebInfo MinSizeRel)
targets=(${TCPFAULT_BUILD_TYPES_TARGETS:-tcpfault_harness tcpfault_netns _tcpfault tcpfault-lwip-agent harness_unit_tests harness_tests netns_unit_tests netns_tests cpp_cases})
for type in "${types[@]}"; do
  case $type in
    Debug|Release|RelWithDebInfo|MinSizeRel) ;;
    *) echo "build_types.sh: unknown build type '$type' (use Debug, Release, RelWithDebInfo or MinSizeRel)" >&2; exit 2 ;;
  esac
done

status=0
for type in "${types[@]}"; do
  build=$dir/$type
  log=$dir/$type.log
  mkdir -p "$dir"
  started=$(date +%s)
  if cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE="$type" -DTCPFAULT_WERROR=ON >"$log" 2>&1 &&
     cmake --build "$build" -j"${TCPFAULT_JOBS:-2}" --target "${targets[@]}" >>"$log" 2>&1; then
    echo "$type: built in $(( $(date +%s) - started )) s"
  else
    echo "$type: FAILED after $(( $(date +%s) - started )) s (log $log):"
    grep -E 'error|Error' "$log" | head -20
    status=1
  fi
done
exit $status
