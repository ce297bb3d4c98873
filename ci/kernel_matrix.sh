#!/usr/bin/env bash
# The kernel matrix of the README: `tcpfault conformance --family both` on this machine's
# kernel and, in VMs on a virtual clock (tcpfault vm --virtual-time: a busy host cannot
# stall the guest between two clock reads), on Debian 12's 6.1 and 6.12, one after the
# other; then
# `tcpfault kernel-matrix` puts the three reports side by side in README.md's matrix
# section. Extra arguments go to every `tcpfault conformance` (e.g. -k TW). The reports
# stay in $TCPFAULT_REPORT (default report/kernels/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/ci/setup.sh"
tcpfault="$top/build/bin/tcpfault"
out=${TCPFAULT_REPORT:-$top/report/kernels}
rm -rf "$out" && mkdir -p "$out"
reports=()
run() {  # name, then the command that runs conformance on that kernel
  local name=$1
  shift
  echo "== conformance on $name"
  "$@" conformance --family both --json "$out/$name.json" --artifacts "$out/$name" "${extra[@]}" \
    >"$out/$name.txt" 2>&1 || true  # a failing kernel still has its column
  tail -n 3 "$out/$name.txt"
  reports+=("$out/$name.json")
}
extra=("$@")
run host "$tcpfault"
for kernel in 6.1 6.12; do
  run "$kernel" "$tcpfault" vm --kernel "$kernel" --virtual-time --timeout 3000 --
done
"$tcpfault" kernel-matrix "${reports[@]}" --markdown "$out/matrix.md" --readme "$top/README.md"
echo "matrix: $out/matrix.md (and README.md's kernel matrix); each kernel's output in $out/<kernel>.txt"
