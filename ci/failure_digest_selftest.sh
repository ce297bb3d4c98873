#!/usr/bin/env bash
# The failure digest reads what ctest itself writes: a throwaway project with a passing
# and a failing test runs under ctest, and the digest must name the failing one, quote its
# failure line and its last line, and say nothing of the passing one.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
cat >"$tmp/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(digest_selftest NONE)
enable_testing()
add_test(NAME quiet_pass COMMAND sh -c "echo all good")
add_test(NAME loud_fail COMMAND sh -c "echo setting up; echo 'expectation failed: client in TIME_WAIT'; echo the end; exit 1")
CMAKE
cmake -S "$tmp" -B "$tmp/build" >/dev/null || exit 1
(cd "$tmp/build" && ctest >/dev/null 2>&1)
out=$(/usr/bin/python3 "$here/failure_digest.py" "$tmp/build")
for want in "== loud_fail: 3 line(s) of output, 1 naming a failure" "  expectation failed: client in TIME_WAIT" "  the end"; do
  if ! grep -qxF -- "$want" <<<"$out"; then
    echo "the digest lacks the line '$want':"; echo "$out"; exit 1
  fi
done
if grep -q quiet_pass <<<"$out"; then
  echo "the digest names a test that passed:"; echo "$out"; exit 1
fi
echo "the digest names the failed test with its failure and last lines, and only it"
