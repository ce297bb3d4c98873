#!/usr/bin/env bash
# Every standard build type configures and builds, with warnings as errors (what the
# project's CI asks of its code; users and the package build without -Werror).
#   packaging/tests/build_types.sh DIR [TYPE...]
# Each type builds in DIR/<type> (kept, so a second run only rebuilds what changed): the
# engine's libraries and its unit test programs (whose code includes the test a GCC 12
# false -Wmaybe-uninitialized once stopped at -O3). TCPFAULT_BUILD_TYPES_TARGETS names
# other targets ("all" for everything).
# Cost on a 2-core machine at -j2 shared with other builds (load about 3), from nothing:
# Debug 78 s, Release 139 s, RelWithDebInfo 101 s, MinSizeRel 81 s (under 7 min in all);
# a rerun with nothing changed takes seconds. Release with the extension, the agent and
# every test program as well: 6.5 min.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: build_types.sh DIR [Debug|Release|RelWithDebInfo|MinSizeRel ...]}
shift
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Debug Release RelWithDebInfo MinSizeRel)
read -r -a targets <<<"${TCPFAULT_BUILD_TYPES_TARGETS:-tcpfault_harness tcpfault_netns harness_unit_tests netns_unit_tests}"
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
