// Builds and tears down a topology N times; prints the median and p90 of each phase.
//
//   topology_bench [N]     (default 50, needs root)
//
// Teardown only closes file descriptors: the kernel reclaims the namespaces in the
// background afterwards, and that work is not part of the number.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "netns/topology.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 50;
  if (runs < 1) {
    std::fprintf(stderr, "usage: %s [runs >= 1]\n", argv[0]);
    return 2;
  }
  std::vector<double> setup, teardown;
  try {
    for (int i = 0; i < runs; ++i) {
      auto start = Clock::now();
      auto topology = tcpfault::netns::Topology::build();
      setup.push_back(ms_since(start));
      start = Clock::now();
      topology.reset();
      teardown.push_back(ms_since(start));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "topology_bench: %s\n", e.what());
    return 1;
  }
  std::printf("runs: %d\n", runs);
  std::printf("setup:    median %.2f ms  p90 %.2f ms\n", percentile(setup, 0.5),
              percentile(setup, 0.9));
  std::printf("teardown: median %.2f ms  p90 %.2f ms\n", percentile(teardown, 0.5),
              percentile(teardown, 0.9));
  return 0;
}
