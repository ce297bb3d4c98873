#!/usr/bin/env bash
# The kill campaign must be able to fail: a run that leaves a file in its TMPDIR and,
# in a namespace of its own, a process that escaped its session (setsid) is counted,
# and the campaign exits 1. The escaped process sleeps 8 s at most; it is killed as
# soon as the campaign has named it.
#   ci/kill_campaign_selftest.sh [BUILD]
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
leak='touch "$TMPDIR/left-behind"; unshare -n sh -c "setsid sleep 8 & sleep 30"'
out=$(/usr/bin/python3 "$here/kill_campaign/campaign.py" "$here/.." --build "$build" --runs 1 --min 1 --max 1 \
      --settle 1 --command "$leak")
status=$?
escaped=$(grep -oE 'held by [0-9]+ sleep' <<<"$out" | grep -oE '[0-9]+' | head -1)
[ -n "$escaped" ] && kill -KILL "$escaped" 2>/dev/null
if [ $status -ne 1 ] || ! grep -q 'temporary file .*/left-behind' <<<"$out" || [ -z "$escaped" ] ||
   ! grep -q '^1 runs, 1 left something behind' <<<"$out"; then
  echo "the kill campaign did not report a run that left a file and an escaped process (exit $status):"
  echo "$out"
  exit 1
fi
work=$(sed -n 's/.*, runs in \(.*\)$/\1/p' <<<"$out" | head -1)
[ -n "$work" ] && rm -rf "$work"
echo "the kill campaign counts a file left in the run's TMPDIR and a namespace held by an escaped process"
