// A broken agent is a target failure, found within its deadline and reported with the
// reason and the agent's stderr; every later call fails at once with the same report;
// the agent is killed and nothing is left (no process, no namespace). The agents are
// harness/testing/agents/fake_agent.py, each broken in one way.
#include <dirent.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "harness/scenario/scenario.h"
#include "harness/testing/namespace_refs.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;
using testing_support::referenced_net_namespaces;

std::string fake(const std::string& args) { return std::string(TCPFAULT_TEST_AGENTS) + "/fake_agent.py " + args; }

ScenarioOptions with_agent(const std::string& args, Host side = Host::Server) {
  ScenarioOptions o;
  o.name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  o.target = Target::agent(fake(args), side);
  return o;
}

bool process_exists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

// Processes whose command line contains `token` (the fake agent's --token).
std::vector<std::string> processes_with(const std::string& token) {
  std::vector<std::string> found;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      std::string pid = e->d_name;
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in("/proc/" + pid + "/cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(token) != std::string::npos) found.push_back(pid);
    }
    ::closedir(d);
  }
  return found;
}

// What a scenario had, to check that none of it is left once it is gone.
struct Leftovers {
  pid_t agent = -1;
  std::vector<std::string> namespaces;

  explicit Leftovers(Scenario& s) : agent(s.agent() ? s.agent()->client().pid() : -1) {
    for (Host h : {Host::Client, Host::Middlebox, Host::Server})
      namespaces.push_back("net:[" + std::to_string(s.topology().ns(h).inode()) + "]");
  }
  void expect_none() const {
    EXPECT_FALSE(process_exists(agent)) << "agent process " << agent << " is still there";
    auto left = referenced_net_namespaces();
    for (const auto& ns : namespaces) EXPECT_EQ(left.count(ns), 0u) << ns << " is still referenced";
  }
};

// Runs `call`, which must throw TargetFailure within `limit`; returns the message.
template <class F>
std::string target_failure_of(F&& call, milliseconds limit) {
  auto start = Clock::now();
  try {
    call();
  } catch (const TargetFailure& e) {
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    EXPECT_LE(took, limit) << "found after " << took.count() << " ms: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no TargetFailure";
  return "";
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in:\n" << text;
}

TEST(AgentFailures, ACrashMidScenarioIsReportedAtOnceWithItsStatusAndStderr) {
  auto s = std::make_unique<Scenario>(with_agent("crash accept"));
  Leftovers had(*s);
  auto listener = s->server().listen(s->server_at(8080));
  std::string report = target_failure_of([&] { listener.accept(3000ms); }, 1500ms);
  expect_contains(report, "target failure: the server's agent (`");
  expect_contains(report, "crashed: it exited with status 3");
  expect_contains(report, "waiting for: `accept`");
  expect_contains(report, "fake agent: crashing on accept");
  // Every later call fails at once with the same report.
  auto start = Clock::now();
  try {
    s->server().listen(s->server_at(8081));
    FAIL() << "no TargetFailure";
  } catch (const TargetFailure& e) {
    EXPECT_EQ(std::string(e.what()), report);
  }
  EXPECT_LT(Clock::now() - start, 100ms);
  s.reset();
  had.expect_none();
}

TEST(AgentFailures, AHangIsFoundWhenTheRequestsTimeoutAndTwoSecondsHavePassed) {
  auto s = std::make_unique<Scenario>(with_agent("hang accept"));
  Leftovers had(*s);
  auto listener = s->server().listen(s->server_at(8080));
  auto start = Clock::now();
  std::string report = target_failure_of([&] { listener.accept(500ms); }, 2500ms + 500ms);
  EXPECT_GE(Clock::now() - start, 2500ms) << "a hang reported before its deadline";
  expect_contains(report, "hung: no reply to `accept`");
  expect_contains(report, "within 2500 ms");
  expect_contains(report, "fake agent: ignoring accept");
  EXPECT_FALSE(process_exists(had.agent)) << "a hung agent is killed";
  s.reset();
  had.expect_none();
}

TEST(AgentFailures, AnAgentThatNeverAnswersHelloFailsTheScenarioAfterFiveSeconds) {
  const std::string token = "silent-" + std::to_string(::getpid());
  auto start = Clock::now();
  try {
    Scenario s(with_agent("silent --token " + token));
    FAIL() << "the scenario started";
  } catch (const TargetFailure& e) {
    auto took = Clock::now() - start;
    EXPECT_GE(took, 5000ms);
    EXPECT_LE(took, 6500ms);
    expect_contains(e.what(), "hung: no reply to `hello`");
    expect_contains(e.what(), "within 5000 ms");
  }
  // The scenario never existed for the test to ask: look for the agent by its token.
  EXPECT_EQ(processes_with(token), std::vector<std::string>{}) << "the silent agent survived";
}

TEST(AgentFailures, GarbageIsATargetFailureQuotingTheLine) {
  auto s = std::make_unique<Scenario>(with_agent("garbage listen"));
  Leftovers had(*s);
  std::string report = target_failure_of([&] { s->server().listen(s->server_at(8080)); }, 1000ms);
  expect_contains(report, "sent garbage: a line that is not a JSON object: 'this is not json'");
  expect_contains(report, "fake agent: answering listen with garbage");
  s.reset();
  had.expect_none();
}

TEST(AgentFailures, AReplyToAnIdNobodyAskedForIsGarbage) {
  auto s = std::make_unique<Scenario>(with_agent("unknown-id listen"));
  Leftovers had(*s);
  std::string report = target_failure_of([&] { s->server().listen(s->server_at(8080)); }, 1000ms);
  expect_contains(report, "sent garbage: a reply to id ");
  expect_contains(report, "which is not an outstanding request");
  s.reset();
  had.expect_none();
}

TEST(AgentFailures, AReplyWithNeitherOkNorErrorIsGarbage) {
  auto s = std::make_unique<Scenario>(with_agent("no-ok listen"));
  std::string report = target_failure_of([&] { s->server().listen(s->server_at(8080)); }, 1000ms);
  expect_contains(report, "a reply to `listen` (request 2) with neither a boolean \"ok\" nor \"error\"");
}

TEST(AgentFailures, AnAgentOfAnotherVersionIsStopped) {
  try {
    Scenario s(with_agent("version"));
    FAIL() << "the scenario started";
  } catch (const TargetFailure& e) {
    expect_contains(e.what(), "protocol error 'version': only version 2 (it speaks versions [2])");
  }
}

TEST(AgentFailures, ACommandThatDoesNotExistIsACrashWithTheShellsComplaint) {
  ScenarioOptions o;
  o.name = "missing-agent";
  o.target = Target::agent("/nonexistent/agent --flag");
  try {
    Scenario s(o);
    FAIL() << "the scenario started";
  } catch (const TargetFailure& e) {
    expect_contains(e.what(), "exited with status 127");
    expect_contains(e.what(), "/nonexistent/agent");
  }
}

TEST(AgentFailures, AnAgentThatStaysAfterByeIsKilledAndNoted) {
  auto s = std::make_unique<Scenario>(with_agent("no-bye"));
  Leftovers had(*s);
  auto trace = s->shared_trace();
  s.reset();
  had.expect_none();
  bool noted = false;
  for (const auto& e : trace->other_events())
    if (auto* n = std::get_if<NoteEvent>(&e)) noted |= n->text.find("did not exit within 2000 ms of bye") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(AgentFailures, AWellBehavedAgentSaysGoodbyeAndLeavesNothing) {
  auto s = std::make_unique<Scenario>(with_agent("ok", Host::Client));
  Leftovers had(*s);
  EXPECT_EQ(s->client().target(), "agent");
  EXPECT_EQ(s->server().target(), "kernel");
  auto listener = s->server().listen(s->server_at(8080));  // the kernel's side still works
  s.reset();
  had.expect_none();
}

}  // namespace
}  // namespace tcpfault
