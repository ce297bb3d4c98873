// Measures what a scenario costs before and after its case runs: topology, NFQUEUE
// rules, observers (setup), and everything undone again (teardown).
//   scenario_bench [runs]   prints the median and p90 of each, in ms
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "harness/scenario/scenario.h"

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

void report(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-9s median %.2f ms  p90 %.2f ms\n", what, v[v.size() / 2], v[v.size() * 9 / 10]);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  if (runs < 1) {
    std::fprintf(stderr, "usage: scenario_bench [runs >= 1]\n");
    return 2;
  }
  std::vector<double> setup, teardown;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto s = std::make_unique<tcpfault::Scenario>(tcpfault::ScenarioOptions{.name = "bench"});
    setup.push_back(ms_since(t0));
    auto t1 = std::chrono::steady_clock::now();
    s.reset();
    teardown.push_back(ms_since(t1));
  }
  std::printf("runs: %d\n", runs);
  report("setup:", setup);
  report("teardown:", teardown);
}
