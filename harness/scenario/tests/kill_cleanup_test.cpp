// A scenario killed with SIGKILL in the middle (a segment held in the queue, a
// connection half closed) leaves nothing: its namespaces go with the process.
#include <dirent.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <optional>
#include <sstream>
#include <thread>

#include "harness/scenario/scenario.h"
#include "harness/testing/child_process.h"
#include "harness/testing/namespace_refs.h"

namespace tcpfault {
namespace {

using namespace testing_support;
using namespace std::chrono_literals;

// Runs `mid_way` on a scenario in a child, SIGKILLs the child there, and checks that none
// of the scenario's namespaces is referenced any more and nothing is pinned.
void expect_nothing_left_after_kill(const std::function<void(Scenario&)>& mid_way,
                                    ScenarioOptions options = {.name = "killed"}) {
  Child c = start_child([&](int report) {
    Scenario s(options);
    mid_way(s);
    std::ostringstream ids;
    for (Host h : {Host::Client, Host::Middlebox, Host::Server})
      ids << "net:[" << s.topology().ns(h).inode() << "]\n";
    write_report(report, ids.str() + "ready\n");
    ::pause();
  });
  std::string report = read_report(c.from_child, "ready\n");
  ASSERT_NE(report.find("ready"), std::string::npos) << "the child failed before the kill: " << report;
  ::kill(c.pid, SIGKILL);
  wait_child(c.pid);
  ::close(c.from_child);

  std::set<std::string> left = referenced_net_namespaces();
  std::istringstream lines(report);
  int checked = 0;
  for (std::string ns; std::getline(lines, ns);) {
    if (ns == "ready") continue;
    ++checked;
    EXPECT_EQ(left.count(ns), 0u) << ns << " is still referenced after the kill";
  }
  EXPECT_EQ(checked, 3);
  if (DIR* d = ::opendir("/run/netns")) {
    while (dirent* e = ::readdir(d))
      EXPECT_NE(std::string(e->d_name).rfind("tcpfault-", 0), 0u) << "pinned namespace left: " << e->d_name;
    ::closedir(d);
  }
}

TEST(KillCleanup, SigkillMidScenarioLeavesNothing) {
  expect_nothing_left_after_kill([](Scenario& s) {
    auto listener = s.server().listen(s.server_at(8080));
    auto client = s.client().connect(s.server_at(8080));
    auto server = listener.accept();
    s.faults().add(hold(Match().role(FIN), Hold{.after_segments = 1000, .max = 60000ms}));
    client.close();
    s.expect_segments(Match().role(FIN).sent_by(Host::Client), 1);  // now held in the queue
    // The sockets stay open in the child until the kill (pause() never returns).
    static std::optional<Listener> keep_listener;
    static std::optional<Connection> keep_server;
    keep_listener.emplace(listener);
    keep_server.emplace(server);
  });
}

TEST(KillCleanup, SigkillMidFloodLeavesNothing) {
  expect_nothing_left_after_kill([](Scenario& s) {
    static std::optional<Listener> listener;
    listener.emplace(s.server().listen(s.server_at(8080), 4));
    auto& flood = s.flood_syns({s.server_at(8080), 10000, 1000, flood_sources(s.topology(), s.family(), 50)});
    // Mid-flood, replies coming back (a child that never gets there reports no "ready").
    const auto give_up = Clock::now() + 5s;
    while (flood.counts().sent < 50 && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
    if (flood.counts().sent < 50) ::_exit(1);
  });
}

// An agent runs the server side: SIGKILL of the harness kills it too (it holds the
// server's namespace, so the check below would find that namespace still referenced).
TEST(KillCleanup, SigkillWithAnAgentRunningLeavesNothing) {
  const std::string agent = std::string(TCPFAULT_TEST_AGENTS) + "/fake_agent.py ok";
  expect_nothing_left_after_kill(
      [](Scenario& s) {
        static std::optional<Listener> listener;
        listener.emplace(s.server().listen(s.server_at(8080)));
      },
      {.name = "killed-agent", .target = Target::agent(agent)});
}

}  // namespace
}  // namespace tcpfault
