#!/usr/bin/env bash
# Runs one fuzz target for SECONDS on its corpus (BUILD/corpus/TARGET, which grows from
# run to run, plus the seeds) and prints its executions. Exits 1 if it crashed, broke a
# property or a sanitizer reported something, naming the input it kept in
# BUILD/crashes/TARGET/ and showing the report.
#   fuzz/run.sh BUILD TARGET SECONDS
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 target=$2 seconds=$3
bin=$build/fuzz/fuzz_$target
corpus=$build/corpus/$target
crashes=$build/crashes/$target
log=$build/logs/$target.log
mkdir -p "$corpus" "$crashes" "$build/logs"
seeds=()
for d in "$here/seeds/$target" "$build/seeds/$target"; do
  [ -d "$d" ] && seeds+=("$d")
done

dict=()
[ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")

before=$(ls -1 "$crashes")
# -timeout: an input that takes 10 s is a hang; -rss_limit_mb bounds memory.
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       "${dict[@]}" -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" >"$log" 2>&1
status=$?
runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
new=$(comm -13 <(echo "$before") <(ls -1 "$crashes"))
echo "$target: ${runs:-?} executions in ${seconds} s, corpus of $(ls -1 "$corpus" | wc -l) inputs," \
     "$(echo -n "$new" | grep -c .) crashes (exit $status, log $log)"
if [ $status -ne 0 ] || [ -n "$new" ]; then
  for f in $new; do echo "crash: $crashes/$f"; done
  # The sanitizer's or the property's report.
  grep -m1 -B2 -A25 -E '^==[0-9]+==ERROR|runtime error:|property failed|deadly signal' "$log" | head -40
  exit 1
fi
