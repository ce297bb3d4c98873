// Bulk throughput through the middlebox, checked byte by byte, in three set-ups:
//   plain   the middlebox forwards without NFQUEUE (the kernel alone)
//   queue   every segment goes through the verdict loop, no fault rule
//   rule    a rule matches every segment and acts on it: a zero delay, so each one is
//           held and let go again by the loop's timer path
//
//   throughput_bench [--mb 100] [--runs 3] [--mode plain|queue|rule|all] [--family 4|6]
//                    [--timeout 60]
// Prints MB/s per run and the median, the process's CPU (all threads, user + system:
// sender, receiver and verdict loop; the kernel's forwarding in softirq is mostly not
// in it) and the verdict loop's own CPU. Every transfer is bounded by --timeout.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness/scenario/scenario.h"

namespace {

using namespace tcpfault;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Run {
  double mb_s, cpu_percent, loop_cpu_percent;
};

Run run_once(const std::string& mode, Family family, std::uint64_t bytes, int timeout_s) {
  ScenarioOptions o;
  o.family = family;
  o.name = "throughput-" + mode;
  o.intercept = mode != "plain";
  Scenario s(o);
  auto listener = s.server().listen(s.server_at(8080));
  auto client = s.client().connect(s.server_at(8080));
  s.expect_ok(client.connect_result());
  auto server = listener.accept();
  if (mode == "rule") s.faults().add(delay(Match(), std::chrono::milliseconds(0)));
  auto loop_before = s.faults().stats().loop_cpu_ns;
  double cpu_before = cpu_seconds();
  TransferOptions t;
  t.bytes = bytes;
  t.timeout = std::chrono::seconds(timeout_s);
  auto report = s.transfer(client, server, t);
  double cpu = cpu_seconds() - cpu_before;
  auto loop_cpu = double(s.faults().stats().loop_cpu_ns - loop_before) / 1e9;
  s.expect_intact(report);
  s.expect_no_undecided_drops();
  return {report.throughput_mb_s(), 100 * cpu / report.seconds(), 100 * loop_cpu / report.seconds()};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int usage() {
  std::fprintf(stderr,
               "usage: throughput_bench [--mb N] [--runs N] [--mode plain|queue|rule|all] [--family 4|6] "
               "[--timeout S]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t mb = 100;
  int runs = 3, timeout_s = 60;
  std::string mode = "all";
  Family family = Family::V4;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--mb") mb = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--runs") runs = std::atoi(v.c_str());
    else if (a == "--timeout") timeout_s = std::atoi(v.c_str());
    else if (a == "--mode") mode = v;
    else if (a == "--family") family = v == "6" ? Family::V6 : Family::V4;
    else return usage();
  }
  if (mb == 0 || runs < 1 || timeout_s < 1) return usage();
  std::vector<std::string> modes = mode == "all" ? std::vector<std::string>{"plain", "queue", "rule"}
                                                 : std::vector<std::string>{mode};
  std::printf("%llu MB per transfer, IPv%d, %d runs per mode (MB = 10^6 bytes)\n", (unsigned long long)mb,
              family == Family::V4 ? 4 : 6, runs);
  for (const auto& m : modes) {
    if (m != "plain" && m != "queue" && m != "rule") return usage();
    std::vector<double> rates, cpus, loops;
    for (int r = 0; r < runs; ++r) {
      try {
        Run one = run_once(m, family, mb * 1'000'000, timeout_s);
        rates.push_back(one.mb_s);
        cpus.push_back(one.cpu_percent);
        loops.push_back(one.loop_cpu_percent);
        std::printf("  %-5s run %d: %7.1f MB/s  process CPU %5.1f %%  verdict loop %5.1f %%\n", m.c_str(), r + 1,
                    one.mb_s, one.cpu_percent, one.loop_cpu_percent);
      } catch (const std::exception& e) {
        std::printf("  %-5s run %d failed: %s\n", m.c_str(), r + 1, std::string(e.what()).substr(0, 600).c_str());
      }
      std::fflush(stdout);
    }
    if (!rates.empty())
      std::printf("%-5s median %7.1f MB/s  process CPU %5.1f %%  verdict loop %5.1f %%\n", m.c_str(), median(rates),
                  median(cpus), median(loops));
  }
}
