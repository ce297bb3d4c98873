#!/usr/bin/env bash
# Sets up, builds and runs the conformance suite (cases/) against the local kernel, on
# IPv4 and IPv6, and writes the report: JUnit XML plus every case's ladder diagram,
# pcapng capture and JSON timeline. Extra arguments go to pytest (e.g. -k CL2).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
report=${TCPFAULT_REPORT:-$top/report}
rm -rf "$report" && mkdir -p "$report/artifacts"
cd "$top"
status=0
PYTHONPATH="$top/build/python" /usr/bin/python3 -m pytest -p no:cacheprovider -n "$(nproc)" \
  --ignore=cases/controls --tcpfault-family both \
  --tcpfault-artifacts "$report/artifacts" --junitxml="$report/conformance.xml" \
  -o junit_family=xunit2 -rA cases "$@" || status=$?
echo
echo "report: $report/conformance.xml; per-case ladders, captures and timelines in $report/artifacts/"
exit $status
