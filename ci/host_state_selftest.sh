#!/usr/bin/env bash
# The host check must be able to fail: a snapshot with one setting altered is reported.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$here/host_state.sh" snapshot "$tmp" || exit 1
sed -i 's/^\(net\.ipv4\.tcp_fin_timeout = \).*/\1 12345/' "$tmp"
out=$("$here/host_state.sh" check "$tmp")
status=$?
if [ $status -ne 1 ] || ! grep -q 'net.ipv4.tcp_fin_timeout' <<<"$out"; then
  echo "host_state.sh check did not report an altered sysctl (exit $status):"
  echo "$out"
  exit 1
fi
echo "host_state.sh check reports a changed sysctl, as it must"
