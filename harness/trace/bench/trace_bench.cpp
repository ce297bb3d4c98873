// Measures what a busy timeline costs: recording the segments of a bulk transfer
// (time and memory), and waiting for a segment while they arrive (an expectation that
// looks at the whole timeline on every change makes this quadratic).
//   trace_bench [segments]   default 20000 (about a 10 MB transfer with its ACKs)
// No packet crosses the network: segments are recorded straight into a scenario's trace.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "harness/scenario/scenario.h"

namespace {

using namespace tcpfault;

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// The nth segment of a transfer: full-sized data, every other one an ACK.
SegmentEvent segment(std::uint64_t n, const SockAddr& client, const SockAddr& server, bool rst = false) {
  SegmentSpec spec;
  bool ack = n % 3 == 2;
  spec.src = ack ? server : client;
  spec.dst = ack ? client : server;
  spec.seq = static_cast<std::uint32_t>(1 + n * 1448);
  spec.ack = 1;
  spec.flags = rst ? tcp_flag::RST : tcp_flag::ACK;
  spec.window = 502;
  spec.options.timestamp = std::make_pair(std::uint32_t(n), std::uint32_t(n));
  if (!ack && !rst) spec.payload.assign(1448, static_cast<std::uint8_t>(n));
  SegmentEvent e;
  e.t_ns = mono_now_ns();
  e.from = ack ? Host::Server : Host::Client;
  e.to = ack ? Host::Client : Host::Server;
  e.packet = build_packet(spec);
  e.classified.roles = rst ? RST_ROLE : ack ? PURE_ACK : DATA;
  e.classified.connection = 1;
  e.fate = "passed";
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  if (n < 1) {
    std::fprintf(stderr, "usage: trace_bench [segments >= 1]\n");
    return 2;
  }
  std::printf("segments: %d\n", n);
  {
    Scenario s({.name = "trace-bench-record"});
    SockAddr c = s.client_at(40000), v = s.server_at(8080);
    long before = rss_kib();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) s.trace().add_segment(segment(i, c, v));
    double took = ms_since(t0);
    std::printf("record:  %.1f ms (%.2f us per segment), RSS +%ld KiB\n", took, took * 1000 / n, rss_kib() - before);
    auto t1 = std::chrono::steady_clock::now();
    auto events = s.trace().events();
    std::printf("events(): %.1f ms for %zu events\n", ms_since(t1), events.size());
  }
  {
    // A case waiting for an RST (within 60 s) while the transfer's segments arrive at
    // a pace like the wire's (a few every 100 us), so that the waiter wakes for them.
    Scenario s({.name = "trace-bench-wait"});
    SockAddr c = s.client_at(40000), v = s.server_at(8080);
    auto t0 = std::chrono::steady_clock::now();
    double waiter_cpu_ms = 0;
    std::thread waiter([&] {
      s.expect_segments(Match().with_flags(tcp_flag::RST), 1, std::chrono::seconds(120));
      timespec cpu{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
      waiter_cpu_ms = double(cpu.tv_sec) * 1e3 + double(cpu.tv_nsec) / 1e6;
    });
    for (int i = 0; i < n; ++i) {
      s.trace().add_segment(segment(i, c, v));
      if (i % 4 == 3) std::this_thread::sleep_for(std::chrono::microseconds(100));  // pacing, not synchronisation
    }
    double recorded = ms_since(t0);
    s.trace().add_segment(segment(n, c, v, /*rst=*/true));
    waiter.join();
    std::printf("waiting: segments recorded in %.1f ms, the waiter saw the RST after %.1f ms, using %.1f ms of CPU\n",
                recorded, ms_since(t0), waiter_cpu_ms);
  }
}
