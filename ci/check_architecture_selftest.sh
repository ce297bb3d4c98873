#!/usr/bin/env bash
# The architecture check must be able to fail. On a copy of the tree it plants, one at a
# time, an include against an arrow (packet/ using scenario/), a folder of harness/ that
# is no room, and an import circle in the Python package (case_runs importing cli); the
# check must pass the unchanged copy and name each planted fault with exit status 1.
#   ci/check_architecture_selftest.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tcpfault-archcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
check() { /usr/bin/python3 "$top/ci/check_architecture.py" "$work/tree"; }
fresh() {
  rm -rf "$work/tree" && mkdir -p "$work/tree/docs"
  cp "$top/docs/architecture.md" "$work/tree/docs/"
  (cd "$top" && tar cf - --exclude=__pycache__ harness netns bindings cases agents fuzz) | tar xf - -C "$work/tree"
}
expect_fault() {  # description, pattern the report must contain
  out=$(check); status=$?
  if [ $status -ne 1 ] || ! grep -q -- "$2" <<<"$out"; then
    echo "the check did not report $1 (exit $status):"; echo "$out"; exit 1
  fi
}

fresh
out=$(check) || { echo "the check fails the unchanged tree:"; echo "$out"; exit 1; }

echo '#include "harness/scenario/scenario.h"' >>"$work/tree/harness/packet/checksum.h"
expect_fault "an include against an arrow" \
  'harness/packet/checksum.h:[0-9]*: includes harness/scenario/scenario.h, but harness/packet may not use harness/scenario'

fresh
mkdir "$work/tree/harness/extra" && echo '#pragma once' >"$work/tree/harness/extra/extra.h"
expect_fault "a folder that is no room" 'harness/extra/: a folder that is no room'

fresh
echo 'from . import cli' >>"$work/tree/bindings/python/tcpfault/case_runs.py"
expect_fault "an import circle" 'closing the circle tcpfault.case_runs -> tcpfault.cli -> tcpfault.case_runs'

echo "the architecture check names an include against an arrow, a folder that is no room and an import circle"
