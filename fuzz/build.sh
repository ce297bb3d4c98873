#!/usr/bin/env bash
# Configures BUILD (default build-fuzz/) with clang and TCPFAULT_FUZZ=ON (again each time:
# a configure that failed half-way, or a moved source, leaves no usable Makefile), builds
# the fuzz targets, and writes the generated seeds into BUILD/seeds.
#   fuzz/build.sh [BUILD]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${TCPFAULT_FUZZ_BUILD:-$top/build-fuzz}}
CC=clang CXX=clang++ cmake -S "$top" -B "$build" -DTCPFAULT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${TCPFAULT_JOBS:-2}"
"$build/fuzz/make_seeds" "$build/seeds"
