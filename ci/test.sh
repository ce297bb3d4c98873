#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests, the C++ conformance cases on IPv4
# and IPv6, and the host-unchanged check around them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
cd "$top/build"
ctest --output-on-failure --timeout 300 "$@"
