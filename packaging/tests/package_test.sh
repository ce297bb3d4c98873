#!/usr/bin/env bash
# The Debian package, built and used as a user would, without installing it: cpack in the
# build directory, its control fields, then from a scratch root it is unpacked into
# (dpkg-deb -x): the command's help and one conformance case, a plain `pytest -W error`
# on a scenario file with no conftest and no -p, an outside CMake project on the C++ API
# and the same program built through pkg-config. The scratch root goes whatever happens.
# Needs root (the scenarios' namespaces).   packaging/tests/package_test.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: package_test.sh BUILD_DIR (a built tcpfault build directory)}" && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tcpfault-package-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
root=$scratch/root
fail() { echo "package test: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "cpack"
(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) ||
  { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
debs=("$scratch"/out/tcpfault_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one tcpfault_*.deb in $scratch/out, found: ${debs[*]}"
deb=${debs[0]}

step "control fields of $(basename "$deb")"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = tcpfault ] || fail "Package is '$(field Package)', not tcpfault"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', not the project's $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)', not $arch"
[ "$(basename "$deb")" = "tcpfault_${version}_${arch}.deb" ] || fail "file name $(basename "$deb")"
depends=$(field Depends)
# What the code runs or imports, and (from dpkg-shlibdeps) the libraries it links.
for needed in python3 python3-pytest python3-pytest-xdist libnl-3-200 libnl-route-3-200 \
              libnetfilter-queue1 libmnl0 libbpf1 liblwip; do
  grep -Eq "(^|, )$needed[0-9]*( |,|$)" <<<"$depends" || fail "Depends lacks $needed: $depends"
done
dpkg-deb -f "$deb" Package Version Architecture Depends

step "unpacked into $root"
dpkg-deb -x "$deb" "$root"
for path in usr/bin/tcpfault usr/libexec/tcpfault/tcpfault-lwip-agent \
            usr/lib/python3/dist-packages/tcpfault/__init__.py usr/share/tcpfault/cases/test_close.py \
            usr/include/tcpfault/harness/scenario/scenario.h; do
  [ -e "$root/$path" ] || fail "the package has no /$path"
done
# The gVisor agent is in the package when the build made it (Go and gVisor's source there).
if [ -x "$build/agents/gvisor/tcpfault-gvisor-agent" ]; then
  [ -x "$root/usr/libexec/tcpfault/tcpfault-gvisor-agent" ] || fail "the build made the gVisor agent, the package lacks it"
fi
entry_points=$(echo "$root"/usr/lib/python3/dist-packages/tcpfault-*.dist-info/entry_points.txt)
grep -qx "tcpfault.pytest_plugin = tcpfault.pytest_plugin" "$entry_points" ||
  fail "no pytest11 entry point in $entry_points"

step "tcpfault --help"
"$root/usr/bin/tcpfault" --help >"$scratch/help.txt" || fail "tcpfault --help failed"
grep -q conformance "$scratch/help.txt" || fail "tcpfault --help names no conformance: $(cat "$scratch/help.txt")"

step "tcpfault conformance --case CL2 (from the unpacked tree, the lwIP agent found there)"
python3_found=$(env -u PYTHONPATH -u TCPFAULT_LWIP_AGENT PYTHONPATH="$root/usr/lib/python3/dist-packages" \
                /usr/bin/python3 -c 'from tcpfault import targets; print(targets.agent("lwip"))')
[ "$python3_found" = "$root/usr/libexec/tcpfault/tcpfault-lwip-agent" ] ||
  fail "the package's tcpfault.targets finds the lwIP agent at $python3_found, not in its own /usr/libexec/tcpfault"
env -u PYTHONPATH -u TCPFAULT_CASES "$root/usr/bin/tcpfault" conformance --case CL2 \
    --json "$scratch/cl2.json" || fail "tcpfault conformance --case CL2 failed"
/usr/bin/python3 - "$scratch/cl2.json" <<'EOF' || fail "the CL2 report is not a pass of CL2 and only CL2"
import json, sys
results = json.load(open(sys.argv[1]))["results"]
assert results, "no result"
assert {r["case"] for r in results} == {"CL2"}, {r["case"] for r in results}
assert {r["family"] for r in results} == {"IPv4", "IPv6"}, {r["family"] for r in results}
assert {r["verdict"] for r in results} == {"pass"}, [(r["test"], r["verdict"]) for r in results]
EOF

step "pytest -W error with only the unpacked package (no conftest, no -p)"
cp "$here"/plain_pytest/test_one_connection.py "$here"/plain_pytest/pytest.ini "$scratch/"
mkdir "$scratch/scenarios"
mv "$scratch/test_one_connection.py" "$scratch/pytest.ini" "$scratch/scenarios/"
(cd "$scratch/scenarios" &&
 env PYTHONPATH="$root/usr/lib/python3/dist-packages" TCPFAULT_PACKAGE_ROOT="$root" \
     /usr/bin/python3 -W error -m pytest -v >"$scratch/pytest.log" 2>&1) ||
  { cat "$scratch/pytest.log" >&2; fail "pytest on a scenario file failed"; }
grep -q "2 passed" "$scratch/pytest.log" || { cat "$scratch/pytest.log" >&2; fail "expected 2 passed"; }
grep -q "test_close_reaches_close_wait\[IPv4\] PASSED" "$scratch/pytest.log" ||
  { cat "$scratch/pytest.log" >&2; fail "the ini option tcpfault_family = 4 did not give one IPv4 test"; }

step "an outside CMake project: find_package(tcpfault) against $root/usr"
cmake -S "$here/outside_project" -B "$scratch/outside" -DCMAKE_PREFIX_PATH="$root/usr" \
      -DCMAKE_BUILD_TYPE=Debug >"$scratch/outside.log" 2>&1 ||
  { cat "$scratch/outside.log" >&2; fail "the outside project does not configure"; }
found=$(sed -n 's/^tcpfault_DIR:PATH=//p' "$scratch/outside/CMakeCache.txt")
[[ "$found" == "$root"/* ]] || fail "find_package(tcpfault) found $found, not the unpacked package"
cmake --build "$scratch/outside" >>"$scratch/outside.log" 2>&1 ||
  { cat "$scratch/outside.log" >&2; fail "the outside project does not build"; }
"$scratch/outside/one_connection" || fail "the outside project's program failed"

step "the same program through pkg-config"
pc=$(find "$root" -name tcpfault.pc)
[ -n "$pc" ] || fail "the package has no tcpfault.pc"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
[[ "$(pkg-config --variable=prefix tcpfault)" -ef "$root/usr" ]] ||
  fail "tcpfault.pc's prefix $(pkg-config --variable=prefix tcpfault) is not the unpacked tree's"
# shellcheck disable=SC2046  # pkg-config's words are separate arguments
g++ -O0 -o "$scratch/one_connection_pc" "$here/outside_project/one_connection.cpp" \
    $(pkg-config --cflags --libs tcpfault) || fail "no build through pkg-config --cflags --libs tcpfault"
"$scratch/one_connection_pc" || fail "the pkg-config build's program failed"

echo "package test: passed ($(basename "$deb"))"
