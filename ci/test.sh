#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests, the C++ conformance cases on IPv4
# and IPv6, and the host-unchanged check around them. A failed run ends with a digest of
# what each failed test said (ci/failure_digest.py), where a log cut to its tail keeps it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
cd "$top/build"
status=0
ctest --output-on-failure --timeout 300 "$@" || status=$?
[ $status = 0 ] || /usr/bin/python3 "$top/ci/failure_digest.py" "$top/build" || true
exit $status
