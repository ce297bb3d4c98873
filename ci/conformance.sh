#!/usr/bin/env bash
# Sets up, builds and runs the conformance cases against the local kernel, on IPv4 and
# IPv6, and writes the report: JUnit XML plus each case's ladder, pcapng and JSON.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
report=${TCPFAULT_REPORT:-$top/report}
rm -rf "$report" && mkdir -p "$report/artifacts"
cd "$top/build"
status=0
TCPFAULT_ARTIFACTS="$report/artifacts" ./cases/cpp_cases --gtest_output="xml:$report/conformance.xml" || status=$?
echo
echo "report: $report/conformance.xml; per-case ladders, captures and timelines in $report/artifacts/"
exit $status
