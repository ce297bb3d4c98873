#!/usr/bin/env bash
# Installs what tcpfault needs to build and run (Debian packages only), then
# configures and builds it in build/. Safe to run again: it installs only what is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake pkg-config               # the build
  ccache                                         # CI's rebuilds of unchanged sources (CMakeLists.txt)
  dpkg-dev file                                  # the Debian package (cpack: dpkg-shlibdeps; packaging/)
  mmdebstrap                                     # ctest package_fresh_debian: the package on a fresh Debian 12 tree
  libnetfilter-queue-dev libmnl-dev              # NFQUEUE
  libnl-3-dev libnl-route-3-dev                  # links, addresses, routes
  nlohmann-json3-dev                             # JSON traces and reports
  libgtest-dev                                   # C++ tests and cases
  python3-dev pybind11-dev                       # the Python module, for /usr/bin/python3
  python3-pytest python3-pytest-xdist            # scenario authoring in pytest
  iptables                                       # iptables-save reads the queue rules back in tests; the setup bench's shell reference
  tcpdump tshark                                 # reading captures back in tests
  iproute2 util-linux procps                     # the host-unchanged check (ip, lsns, sysctl)
  liblwip-dev                                    # lwIP 2.1, the stack the reference agent (agents/lwip) drives
  golang-go golang-gvisor-gvisor-dev             # gVisor's netstack and Go to build its agent (agents/gvisor), offline
  # The BPF state observer (harness/observe/bpf): libbpf loads it and reads its ring buffer
  # (instead of hand-written bpf() calls), clang compiles it for the kernel's BTF, llvm
  # strips it, bpftool writes vmlinux.h and the skeleton at build time.
  libbpf-dev clang llvm bpftool
  libclang-rt-14-dev                             # fuzz/: libFuzzer and its ASan/UBSan runtimes (llvm-symbolizer from llvm)
  stress-ng                                      # ci/soak.sh --load: every core kept busy, bounded in time
  # tcpfault vm (the suite on another kernel): QEMU boots it; busybox-static is the whole of
  # the guest's initramfs; kmod's depmod indexes a fetched kernel's modules (and the guest's
  # modprobe, the host's, loads them).
  qemu-system-x86 busybox-static kmod
  zstd                                           # tcpfault vm: the vmlinux inside 6.12's zstd vmlinuz (it boots faster)
  chromium                                       # the HTML report's test opens the page headless and screenshots it
)

if [ "$(id -u)" -ne 0 ]; then
  echo "tcpfault needs root (network namespaces, NFQUEUE): run this with sudo" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The project's CI holds its code to no warnings (users' builds do not stop on one).
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTCPFAULT_WERROR=ON >/dev/null
cmake --build "$top/build" -j"$(nproc)"
