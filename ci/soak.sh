#!/usr/bin/env bash
# Runs the fast conformance suite RUNS times and counts failures per case, to tell a
# flaky verdict from a steady one. With --load every core is kept busy by stress-ng
# for the whole soak (bounded: it stops by itself after the soak's time budget, and
# is killed when the soak ends). Arguments after -- go to `tcpfault conformance`
# (e.g. -- -k "CL7 or TW7" --family 6). Each failed run's report stays in the
# report directory (TCPFAULT_SOAK_DIR, default soak-report/).
#
#   ci/soak.sh 20            # 20 runs on an otherwise idle machine
#   ci/soak.sh 20 --load     # 20 runs with both cores busy
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

usage() { echo "usage: ci/soak.sh RUNS [--load] [-- conformance arguments]" >&2; exit 2; }
[ $# -ge 1 ] || usage
runs=$1; shift
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "ci/soak.sh: RUNS must be a positive whole number, not '$runs'" >&2; usage; }
load=0
while [ $# -gt 0 ]; do
  case "$1" in
    --load) load=1; shift ;;
    --) shift; break ;;
    *) echo "ci/soak.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
tcpfault=$top/build/bin/tcpfault
[ -x "$tcpfault" ] || { echo "ci/soak.sh: $tcpfault is missing: run ci/setup.sh first" >&2; exit 2; }
if [ $load = 1 ] && ! command -v stress-ng >/dev/null; then
  echo "ci/soak.sh: --load needs stress-ng (apt-get install stress-ng)" >&2; exit 2
fi

out=${TCPFAULT_SOAK_DIR:-$top/soak-report}
rm -rf "$out" && mkdir -p "$out"
stress=
cleanup() { [ -n "$stress" ] && kill "$stress" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ $load = 1 ]; then
  # One busy worker per core, for at most 2 minutes per run: it ends by itself even if
  # this script is killed.
  stress-ng --cpu "$(nproc)" --timeout "$((runs * 120))s" --quiet &
  stress=$!
fi

failed_runs=0
for i in $(seq 1 "$runs"); do
  json=$out/run-$i.json
  start=$(date +%s%N)
  status=0
  "$tcpfault" conformance --json "$json" --artifacts "$out/run-$i" "$@" >"$out/run-$i.log" 2>&1 || status=$?
  took_ds=$((($(date +%s%N) - start) / 100000000))
  took=$((took_ds / 10)).$((took_ds % 10))
  fails=$(/usr/bin/python3 - "$json" <<'PY'
import json, sys
try:
    results = json.load(open(sys.argv[1]))["results"]
except (OSError, ValueError, KeyError):
    print("(no report)"); sys.exit()
print(" ".join(sorted(f"{r['case']}/{r['family']}" for r in results if r["verdict"] in ("fail", "target failure"))))
PY
)
  if [ $status -ne 0 ]; then
    failed_runs=$((failed_runs + 1))
    echo "run $i: FAIL in ${took} s: ${fails:-exit $status} (log $out/run-$i.log)"
  else
    echo "run $i: pass in ${took} s"
    rm -rf "$out/run-$i"  # keep only what a failure needs
  fi
done

echo
echo "failures per case:"
/usr/bin/python3 - "$out" "$runs" <<'PY'
import collections, glob, json, sys
counts = collections.Counter()
for path in glob.glob(f"{sys.argv[1]}/run-*.json"):
    try:
        for r in json.load(open(path))["results"]:
            if r["verdict"] in ("fail", "target failure"):
                counts[f"{r['case']} {r['family']}"] += 1
    except (OSError, ValueError, KeyError):
        counts["(run without a report)"] += 1
for case, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"  {case}: {n} of {sys.argv[2]}")
if not counts:
    print("  none")
PY
echo "total: $failed_runs of $runs runs failed$([ $load = 1 ] && echo ' (cores kept busy)')"
[ $failed_runs -eq 0 ]
