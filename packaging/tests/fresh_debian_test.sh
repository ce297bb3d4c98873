#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: mmdebstrap makes a bookworm tree with apt and
# nothing else, `apt-get install ./tcpfault_*.deb` inside it must pull every dependency,
# and then, chrooted into it in a mount namespace of this script's own (the host's
# mounts are untouched): a plain `python3 -W error -m pytest` on a scenario file,
# `tcpfault conformance --case CL2`, and an outside CMake project with find_package(tcpfault)
# built by the g++ and cmake the package recommends. The tree goes whatever happens.
# Needs root and the Debian mirror (about 150 MB downloaded; 1-2 minutes).
#   packaging/tests/fresh_debian_test.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: fresh_debian_test.sh BUILD_DIR (a built tcpfault build directory)}" && pwd)
command -v mmdebstrap >/dev/null || { echo "fresh_debian_test.sh: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tcpfault-fresh-debian.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
tree=$scratch/bookworm
fail() { echo "fresh Debian test: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) ||
  { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
echo "== a fresh bookworm tree (mmdebstrap --variant=apt)"
timeout 600 mmdebstrap --variant=apt --quiet bookworm "$tree" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian-security bookworm-security main" >"$scratch/mmdebstrap.log" 2>&1 ||
  { cat "$scratch/mmdebstrap.log" >&2; fail "mmdebstrap failed"; }
cp "$scratch"/out/tcpfault_*.deb "$tree/root/"
cp -r "$here/plain_pytest" "$here/outside_project" "$tree/root/"

echo "== apt-get install ./tcpfault_*.deb"
timeout 600 chroot "$tree" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /root/tcpfault_*.deb' \
  >"$scratch/install.log" 2>&1 || { tail -30 "$scratch/install.log" >&2; fail "apt-get install of the package failed"; }

echo "== pytest, conformance --case CL2, find_package in the installed tree"
# shellcheck disable=SC2016  # the inner script expands its own variables
timeout 600 unshare --mount --propagation private sh -c '
  tree=$1
  mount --rbind /proc "$tree/proc" && mount --rbind /sys "$tree/sys" && mount --rbind /dev "$tree/dev" &&
  exec chroot "$tree" sh -ec "
    cd /root/plain_pytest
    TCPFAULT_PACKAGE_ROOT=/ python3 -W error -m pytest -p no:cacheprovider -v >/root/pytest.log 2>&1 ||
      { cat /root/pytest.log; exit 1; }
    tail -1 /root/pytest.log
    tcpfault conformance --case CL2 >/root/cl2.log 2>&1 || { cat /root/cl2.log; exit 1; }
    tail -1 /root/cl2.log
    cmake -S /root/outside_project -B /root/outside_build >/dev/null
    cmake --build /root/outside_build >/dev/null
    /root/outside_build/one_connection"
' sh "$tree" || fail "the installed package did not pass (output above)"
echo "fresh Debian test: passed"
