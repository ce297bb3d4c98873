// A scenario's setup plus teardown against a shell script that builds the same three
// namespaces, side by side in one run. Each iteration times, one after the other:
//   shell-each   setup_shell_reference.sh each: one `ip` per step (`ip netns add`, veths,
//                addresses, routes), sysctls, the NFQUEUE rules by iptables-restore, then
//                `ip netns del`: the script most people write
//   shell-batch  the same steps with one `ip -batch` per namespace: the fewest programs
//   tcpfault     a Scenario made and destroyed: its topology, the queue rules, the bound
//                NFQUEUE, the observers and endpoints (everything a case starts with)
// and prints the medians, the p90s and the ratio of tcpfault to each shell; the goal,
// tcpfault <= 0.2 of the shell, is judged against the faster one.
//
//   setup_vs_shell_bench [iterations]    (default 30, 1..500; root; stops after 300 s)
//
// The shell's namespaces are named setupbench-<pid>-*, its addresses come from a topology
// slot this process holds for the run (198.18.0.0/15, 2001:2::/48), and a check at the
// end removes any of its namespaces a failed script left behind.
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "harness/intercept/queue_rules.h"
#include "harness/scenario/scenario.h"
#include "netns/address_slot.h"
#include "netns/error.h"
#include "netns/slot_plan.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxIterations = 500;
constexpr std::chrono::seconds kTimeBudget{300};
constexpr std::uint16_t kQueue = 0;  // ScenarioOptions' default

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// "198.18.1.1" -> "198.18.1"; "2001:2:0:1::1" -> "2001:2:0:1": the script adds the host part.
std::string subnet_prefix(int slot, tcpfault::netns::Subnet side, tcpfault::Family f) {
  std::string a = tcpfault::netns::slot_address(slot, side, f, tcpfault::netns::kEndpointHost).str();
  return a.substr(0, a.size() - (f == tcpfault::Family::V4 ? 2 : 3));
}

class ShellReference {
 public:
  explicit ShellReference(int slot) : name_("setupbench-" + std::to_string(::getpid())) {
    using tcpfault::Family;
    using tcpfault::netns::Subnet;
    args_ = {"/bin/sh", TCPFAULT_SHELL_REFERENCE, "each", name_, std::to_string(kQueue),
             subnet_prefix(slot, Subnet::ClientSide, Family::V4), subnet_prefix(slot, Subnet::ServerSide, Family::V4),
             subnet_prefix(slot, Subnet::ClientSide, Family::V6), subnet_prefix(slot, Subnet::ServerSide, Family::V6)};
    // One text serves both families: the script feeds it to iptables-restore and ip6tables-restore.
    rules_ = tcpfault::queue_rules_text(kQueue);
  }

  // Runs the script once in `mode` ("each" or "batch"); throws with its exit status when it fails.
  void run(const char* mode) {
    args_[2] = mode;
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) tcpfault::throw_errno("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    std::vector<char*> argv;
    for (const auto& a : args_) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    if (err != 0) {
      ::close(in[1]);
      throw tcpfault::SystemError("start " + args_[1], err);
    }
    // A few hundred bytes: the pipe takes them without blocking.
    [[maybe_unused]] auto n = ::write(in[1], rules_.data(), rules_.size());
    ::close(in[1]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw tcpfault::Error(args_[1] + " failed (status " + std::to_string(status) + "); run it by hand to see why");
  }

  // Removes whatever a failed run left in /run/netns; returns how many there were.
  int remove_leftovers() const {
    int found = 0;
    if (DIR* d = ::opendir("/run/netns")) {
      while (dirent* e = ::readdir(d)) {
        const std::string entry = e->d_name;
        if (entry.rfind(name_ + "-", 0) != 0) continue;
        ++found;
        const std::string cmd = "ip netns del '" + entry + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove namespace %s\n", entry.c_str());
      }
      ::closedir(d);
    }
    return found;
  }

 private:
  std::string name_;
  std::vector<std::string> args_;
  std::string rules_;
};

void scenario_once() {
  auto s = std::make_unique<tcpfault::Scenario>(tcpfault::ScenarioOptions{.name = "setup bench"});
  s.reset();
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 30;
  if (argc > 2 || iterations < 1 || iterations > kMaxIterations) {
    std::fprintf(stderr, "usage: setup_vs_shell_bench [iterations 1..%d]\n", kMaxIterations);
    return 2;
  }
  std::vector<double> each_ms, batch_ms, tcpfault_ms;
  std::unique_ptr<ShellReference> shell;
  int status = 0;
  try {
    tcpfault::netns::require_privileges();
    // The shell's addresses: a slot of their own, so that no live topology shares them.
    tcpfault::netns::AddressSlot slot = tcpfault::netns::AddressSlot::acquire();
    shell = std::make_unique<ShellReference>(slot.number());
    scenario_once();  // the first scenario loads what the process keeps (observers' programs)
    const auto stop = Clock::now() + kTimeBudget;
    for (int i = 0; i < iterations; ++i) {
      if (Clock::now() > stop) {
        std::printf("stopped after %d iterations: the %lld s budget is spent\n", i,
                    static_cast<long long>(kTimeBudget.count()));
        break;
      }
      auto start = Clock::now();
      shell->run("each");
      each_ms.push_back(ms_since(start));
      start = Clock::now();
      shell->run("batch");
      batch_ms.push_back(ms_since(start));
      start = Clock::now();
      scenario_once();
      tcpfault_ms.push_back(ms_since(start));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setup_vs_shell_bench: %s\n", e.what());
    status = 1;
  }
  if (shell && shell->remove_leftovers() > 0) {
    std::fprintf(stderr, "setup_vs_shell_bench: the shell reference left namespaces behind (removed)\n");
    status = 1;
  }
  if (status != 0 || tcpfault_ms.empty()) return status ? status : 1;
  const double each = percentile(each_ms, 0.5), batch = percentile(batch_ms, 0.5);
  const double ours = percentile(tcpfault_ms, 0.5);
  std::printf("iterations: %zu (setup + teardown each)\n", tcpfault_ms.size());
  std::printf("shell-each   median %7.2f ms  p90 %7.2f ms\n", each, percentile(each_ms, 0.9));
  std::printf("shell-batch  median %7.2f ms  p90 %7.2f ms\n", batch, percentile(batch_ms, 0.9));
  std::printf("tcpfault     median %7.2f ms  p90 %7.2f ms\n", ours, percentile(tcpfault_ms, 0.9));
  const double ratio = ours / std::min(each, batch);
  std::printf("ratio tcpfault/shell-each %.3f, tcpfault/shell-batch %.3f (goal <= 0.2 of the faster: %s)\n",
              ours / each, ours / batch, ratio <= 0.2 ? "met" : "not met");
  return 0;
}
