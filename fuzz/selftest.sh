#!/usr/bin/env bash
# run.sh must be able to fail: on a target that crashes on its seed it exits 1, names
# the kept input, and the input is there. The input is removed afterwards.
#   fuzz/selftest.sh BUILD
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$("$here/run.sh" "$build" selftest_crash 10)
status=$?
path=$(sed -n 's/^crash: //p' <<<"$out" | head -1)
if [ $status -ne 1 ] || [ -z "$path" ] || [ ! -f "$path" ] || ! grep -q 'property failed' <<<"$out"; then
  echo "run.sh did not report the planted crash (exit $status):"
  echo "$out"
  exit 1
fi
rm -f "$build"/crashes/selftest_crash/*
echo "run.sh reports a crash, names its input ($path) and exits 1, as it must"
