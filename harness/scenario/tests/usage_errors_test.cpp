// Bad conditions give one clear line saying what is wrong and how to fix it.
#include <gtest/gtest.h>

#include <cstdlib>

#include "harness/scenario/scenario.h"
#include "harness/testing/child_process.h"

namespace tcpfault {
namespace {

using namespace testing_support;

// What Scenario's constructor throws in a child set up by `prepare`.
std::string scenario_error_in_child(const std::function<void()>& prepare) {
  Child c = start_child([&](int report) {
    prepare();
    try {
      Scenario s(ScenarioOptions{});
      write_report(report, "no error");
    } catch (const std::exception& e) {
      write_report(report, e.what());
    }
  });
  std::string message = read_report(c.from_child);
  ::close(c.from_child);
  wait_child(c.pid);
  return message;
}

TEST(UsageErrors, NotRootIsOneClearLine) {
  std::string m = scenario_error_in_child([] {
    if (::setresuid(65534, 65534, 65534) != 0) std::abort();
  });
  EXPECT_NE(m.find("tcpfault needs root"), std::string::npos) << m;
  EXPECT_NE(m.find("sudo"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(UsageErrors, AScenarioNeedsNoProgramFromPath) {
  // The queue rules go in over netlink: nothing is looked up in PATH or run.
  EXPECT_EQ(scenario_error_in_child([] { ::setenv("PATH", "/nonexistent", 1); }), "no error");
}

TEST(UsageErrors, PortInUseIsOneClearLine) {
  Scenario s(ScenarioOptions{});
  auto first = s.server().listen(s.server_at(8080));
  try {
    s.server().listen(s.server_at(8080));
    FAIL() << "a second listen on the same port succeeded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("the port is in use"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(UsageErrors, ClosedConnectionCannotBeUsedButStillNamed) {
  Scenario s(ScenarioOptions{});
  auto listener = s.server().listen(s.server_at(8080));
  auto client = s.client().connect(s.server_at(8080));
  s.expect_ok(client.close());
  try {
    client.send("late");
    FAIL() << "send on a closed connection succeeded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("the connection's socket is closed"), std::string::npos) << m;
    EXPECT_NE(m.find(client.tuple().str()), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace tcpfault
