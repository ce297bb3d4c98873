#!/usr/bin/env bash
# Every standard build type configures and builds, with warnings as errors (what the
# project's CI asks of its code; users and the package build without -Werror).
#   packaging/tests/build_types.sh DIR [TYPE...]
# Each type builds in DIR/<type> (kept, so a second run only rebuilds what changed): the
# engine's libraries, and at Release (-O3, where GCC 12's false -Wmaybe-uninitialized once
# stopped the build in a test's code) its unit test programs too; the test programs at -O0
# and -Os found nothing the libraries did not and cost CI a minute and a half from nothing.
# TCPFAULT_BUILD_TYPES_TARGETS names other targets for every type ("all" for everything).
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
libraries="tcpfault_harness tcpfault_netns"
with_tests="$libraries harness_unit_tests netns_unit_tests"
for type in "${types[@]}"; do
  case $type in
    Debug|Release|RelWithDebInfo|MinSizeRel) ;;
    *) echo "build_types.sh: unknown build type '$type' (use Debug, Release, RelWithDebInfo or MinSizeRel)" >&2; exit 2 ;;
  esac
done

status=0
for type in "${types[@]}"; do
  build=$dir/$type
  default=$libraries
  [ "$type" = Release ] && default=$with_tests
  read -r -a targets <<<"${TCPFAULT_BUILD_TYPES_TARGETS:-$default}"
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
