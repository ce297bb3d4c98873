#!/usr/bin/env bash
# SIGKILLs N runs of tcpfault (in turn: conformance on the kernel and on lwIP and pytest
# with xdist workers, each losing its whole session; pytest on lwIP losing only the
# harness process) at random moments and counts what each left behind: processes,
# namespaces, slots, NFQUEUE bindings, temporary files, host changes
# (ci/kill_campaign/leftovers.py). Needs root and a built build/.
#   ci/kill_campaign.sh [N] [--seed S] [--min SECONDS] [--max SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=100
if [ $# -gt 0 ] && [[ $1 != -* ]]; then runs=$1; shift; fi
exec /usr/bin/python3 "$top/ci/kill_campaign/campaign.py" "$top" --runs "$runs" "$@"
