#!/usr/bin/env bash
# Sets up, builds and runs the conformance suite against the local kernel, on IPv4 and
# IPv6, and writes the report: a summary table on the terminal, JUnit XML, JSON, an HTML
# page (its links to the artifacts relative, as they are beside it), and every case's
# ladder diagram, pcapng capture and JSON timeline. Extra arguments go to
# `tcpfault conformance` (e.g. --slow, -k CL2, --family 6).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
report=${TCPFAULT_REPORT:-$top/report}
rm -rf "$report" && mkdir -p "$report"
status=0
"$top/build/bin/tcpfault" conformance --family both \
  --junit "$report/conformance.xml" --json "$report/conformance.json" --markdown "$report/conformance.md" \
  --html "$report/conformance.html" --artifacts "$report/artifacts" "$@" || status=$?
echo
echo "report: $report/conformance.xml, conformance.json, conformance.md and conformance.html; ladders, captures and timelines in $report/artifacts/"
exit $status
