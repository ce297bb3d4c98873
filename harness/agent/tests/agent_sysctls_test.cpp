// A case's Linux sysctls on an agent's side go to the knobs the agent declared in hello
// (docs/agent-protocol.md, "Linux sysctls"): a settable one is set and read through the
// agent, a fixed one is fine at its own value and not applicable at another, an
// undeclared one is not applicable, a refused value is an error quoting the agent, and
// a malformed declaration is the agent's failure. The agent is
// harness/testing/agents/fake_agent.py with --sysctls.
#include <gtest/gtest.h>

#include "harness/scenario/scenario.h"
#include "harness/scenario/timer_settings.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDeclared =
    R"({"net.ipv4.tcp_keepalive_time": {"value": "7200", "fixed": false, "means": "keep_idle", "lacks": ["0"]},)"
    R"( "net.ipv4.tcp_syn_retries": {"value": "6", "means": "syn retries"},)"
    R"( "net.ipv4.tcp_rto_max_ms": {"value": "120000", "fixed": true},)"
    R"( "net.ipv4.tcp_sack": {"value": "0", "fixed": true, "means": "no SACK in this stack"}})";

ScenarioOptions with_sysctls(const std::string& sysctls, Host side = Host::Server) {
  ScenarioOptions o;
  o.name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  o.target = Target::agent(std::string(TCPFAULT_TEST_AGENTS) + "/fake_agent.py ok --sysctls '" + sysctls + "'", side);
  o.target.name = "fake";
  return o;
}

std::vector<std::string> notes(const Scenario& s) {
  std::vector<std::string> found;
  for (const auto& e : s.shared_trace()->other_events())
    if (auto* n = std::get_if<NoteEvent>(&e)) found.push_back(n->text);
  return found;
}

bool noted(const Scenario& s, const std::string& text) {
  for (const auto& n : notes(s))
    if (n == text) return true;
  return false;
}

// What a schedule says, to compare two.
std::string shape(const Schedule& s) {
  std::string text = s.description;
  for (const auto& step : s.steps) text += "; " + step.label + " @" + std::to_string(step.at.count());
  if (s.give_up) text += "; " + s.give_up->label + " @" + std::to_string(s.give_up->at.count());
  return text;
}

template <class E, class F>
std::string message_of(F&& call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "nothing thrown";
  return "";
}

TEST(AgentSysctls, HelloDeclarationsAreNotedInTheTrace) {
  Scenario s(with_sysctls(kDeclared));
  bool found = false;
  for (const auto& n : notes(s))
    found |= n.find(
                 "; Linux sysctls: net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rto_max_ms (fixed 120000), "
                 "net.ipv4.tcp_sack (fixed 0), net.ipv4.tcp_syn_retries") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(AgentSysctls, ADeclaredSettableKeyIsSetAndReadThroughTheAgent) {
  Scenario s(with_sysctls(kDeclared));
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "7200");
  s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "30");
  EXPECT_TRUE(noted(s, "sysctl server net.ipv4.tcp_keepalive_time = 30"));
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "30");
  EXPECT_EQ(s.sysctl_int(Host::Server, "net/ipv4/tcp_keepalive_time"), 30);  // the path form names it too
  EXPECT_TRUE(s.has_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"));
  EXPECT_EQ(s.sysctl_or_built_in(Host::Server, "net.ipv4.tcp_keepalive_time"), "30");
  // The kernel's side keeps its own.
  s.set_sysctl(Host::Client, "net.ipv4.tcp_keepalive_time", "40");
  EXPECT_EQ(s.sysctl(Host::Client, "net.ipv4.tcp_keepalive_time"), "40");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "30");
}

TEST(AgentSysctls, AValueTheStackRefusesIsAnErrorQuotingTheAgent) {
  Scenario s(with_sysctls(kDeclared));
  std::string m = message_of<Error>([&] { s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "soon"); });
  EXPECT_EQ(m,
            "sysctl net.ipv4.tcp_keepalive_time = 'soon' refused by the fake target on the server: EINVAL: "
            "net.ipv4.tcp_keepalive_time takes whole numbers, not 'soon'");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "7200");
}

TEST(AgentSysctls, AValueTheStackLacksIsNotApplicableWithTheAgentsReason) {
  Scenario s(with_sysctls(kDeclared));
  EXPECT_EQ(message_of<NotApplicable>([&] { s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "0"); }),
            "server: the fake target cannot set net.ipv4.tcp_keepalive_time to '0' (the agent says: this stack cannot "
            "behave as net.ipv4.tcp_keepalive_time = 0)");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "7200");  // the agent is fine and unchanged
}

TEST(AgentSysctls, AFixedKeyAtItsOwnValueIsFineAndNoted) {
  Scenario s(with_sysctls(kDeclared));
  s.set_sysctl(Host::Server, "net.ipv4.tcp_sack", " 0");  // the same fields
  EXPECT_TRUE(noted(s,
                    "sysctl server net.ipv4.tcp_sack =  0 (the fake target behaves so and cannot change it: "
                    "no SACK in this stack)"));
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_sack"), "0");
  EXPECT_TRUE(s.has_sysctl(Host::Server, "net.ipv4.tcp_sack"));
}

TEST(AgentSysctls, AFixedKeyAtAnotherValueIsNotApplicable) {
  Scenario s(with_sysctls(kDeclared));
  EXPECT_EQ(message_of<NotApplicable>([&] { s.set_sysctl(Host::Server, "net.ipv4.tcp_sack", "1"); }),
            "server: the fake target cannot change net.ipv4.tcp_sack: it behaves as 0 (no SACK in this stack)");
  EXPECT_EQ(message_of<NotApplicable>([&] { s.set_sysctl(Host::Server, "net.ipv4.tcp_rto_max_ms", "60000"); }),
            "server: the fake target cannot change net.ipv4.tcp_rto_max_ms: it behaves as 120000");
  EXPECT_EQ(message_of<NotApplicable>([&] { s.hold_sysctl(Host::Server, "net.ipv4.tcp_sack", "1", "sysctl-check"); }),
            "server: the fake target cannot change net.ipv4.tcp_sack: it behaves as 0 (no SACK in this stack)");
}

TEST(AgentSysctls, AnUndeclaredKeyIsNotApplicableForEveryCall) {
  Scenario s(with_sysctls(kDeclared));
  const std::string want =
      "server: the fake target has no Linux sysctl net.ipv4.tcp_retries2 (its agent declares no knob of the stack "
      "for it)";
  const std::string key = "net.ipv4.tcp_retries2";
  EXPECT_EQ(message_of<NotApplicable>([&] { s.set_sysctl(Host::Server, key, "3"); }), want);
  EXPECT_EQ(message_of<NotApplicable>([&] { s.sysctl(Host::Server, key); }), want);
  EXPECT_EQ(message_of<NotApplicable>([&] { s.sysctl_int(Host::Server, key); }), want);
  EXPECT_EQ(message_of<NotApplicable>([&] { s.has_sysctl(Host::Server, key); }), want);
  EXPECT_EQ(message_of<NotApplicable>([&] { s.sysctl_or_built_in(Host::Server, key); }), want);
  EXPECT_EQ(message_of<NotApplicable>([&] { s.hold_sysctl(Host::Server, key, "3", "sysctl-check"); }), want);
}

TEST(AgentSysctls, SysctlConfLinesGoThroughTheDeclaredKeys) {
  Scenario s(with_sysctls(kDeclared));
  s.apply_sysctl_conf(Host::Server,
                      "net.ipv4.tcp_keepalive_time = 60\n"
                      "net.ipv4.tcp_sack = 0\n"
                      "-net.ipv4.tcp_retries2 = 3\n"
                      "-net.ipv4.tcp_sack = 1\n");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "60");
  EXPECT_TRUE(noted(s,
                    "sysctl server net.ipv4.tcp_retries2 ignored ('-' line): server: the fake target has no "
                    "Linux sysctl net.ipv4.tcp_retries2 (its agent declares no knob of the stack for it)"));
  EXPECT_TRUE(noted(s,
                    "sysctl server net.ipv4.tcp_sack ignored ('-' line): server: the fake target cannot change "
                    "net.ipv4.tcp_sack: it behaves as 0 (no SACK in this stack)"));
  EXPECT_EQ(message_of<NotApplicable>([&] { s.apply_sysctl_conf(Host::Server, "\nnet.ipv4.tcp_retries2 = 3\n"); }),
            "server: the fake target has no Linux sysctl net.ipv4.tcp_retries2 (its agent declares no knob of the "
            "stack for it) (sysctl.conf line 2)");
  // A refused value of a '-' line is ignored as the kernel's are; without '-' it is an error.
  s.apply_sysctl_conf(Host::Server, "-net.ipv4.tcp_keepalive_time = later\n");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "60");
  EXPECT_NE(message_of<Error>([&] {
              s.apply_sysctl_conf(Host::Server, "net.ipv4.tcp_keepalive_time = later\n");
            }).find("line 1: sysctl net.ipv4.tcp_keepalive_time = 'later' refused by the fake target"),
            std::string::npos);
}

TEST(AgentSysctls, AHeldKeyIsWrittenThroughTheAgentInsteadOfTheCasesValue) {
  Scenario s(with_sysctls(kDeclared));
  s.hold_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "15", "sysctl-check");
  s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "7200");
  EXPECT_EQ(s.sysctl(Host::Server, "net.ipv4.tcp_keepalive_time"), "15");
  EXPECT_TRUE(noted(s, "sysctl server net.ipv4.tcp_keepalive_time = 15 (held by sysctl-check)"));
  EXPECT_TRUE(noted(s, "sysctl server net.ipv4.tcp_keepalive_time = 15 (sysctl-check: the case asked for 7200)"));
}

TEST(AgentSysctls, TheSynScheduleReadsTheDeclaredKnobsAndNamesAMissingOne) {
  // Without tcp_syn_linear_timeouts declared the schedule cannot be known.
  Scenario s(with_sysctls(kDeclared, Host::Client));
  EXPECT_EQ(message_of<NotApplicable>([&] { syn_schedule(s, Host::Client); }),
            "client: the fake target has no Linux sysctl net.ipv4.tcp_syn_linear_timeouts (its agent declares no "
            "knob of the stack for it)");
  EXPECT_NE(message_of<NotApplicable>([&] { synack_schedule(s, Host::Client); }).find("net.ipv4.tcp_synack_retries"),
            std::string::npos);

  // Declared, it is Linux's schedule from the stack's values.
  Scenario full(with_sysctls(
      R"({"net.ipv4.tcp_syn_retries": {"value": "2"}, "net.ipv4.tcp_syn_linear_timeouts": {"value": "0", "fixed": true},)"
      R"( "net.ipv4.tcp_rto_max_ms": {"value": "120000", "fixed": true}, "net.ipv4.tcp_synack_retries": {"value": "1"}})",
      Host::Client));
  SynRetries r;
  r.retries = 2;
  r.linear_timeouts = 0;
  r.rto_max = 120000ms;
  EXPECT_EQ(shape(syn_schedule(full, Host::Client)), shape(syn_schedule(r)));
  full.set_sysctl(Host::Client, "net.ipv4.tcp_syn_retries", "4");
  r.retries = 4;
  EXPECT_EQ(shape(syn_schedule(full, Host::Client)), shape(syn_schedule(r)));
  SynAckRetries a;
  a.retries = 1;
  a.rto_max = 120000ms;
  EXPECT_EQ(shape(synack_schedule(full, Host::Client)), shape(synack_schedule(a)));
}

TEST(AgentSysctls, MalformedDeclarationsInHelloAreTheAgentsFailure) {
  const std::pair<std::string, std::string> cases[] = {
      {R"(["net.ipv4.tcp_sack"])", "hello \"sysctls\" is not an object"},
      {R"({"tcp_sack": {"value": "0"}})", "has the key \"tcp_sack\", not a Linux sysctl in dotted form"},
      {R"({"net.ipv4.tcp_sack": {"value": 0}})", "entry net.ipv4.tcp_sack needs a string \"value\""},
      {R"({"net.ipv4.tcp_sack": "0"})", "entry net.ipv4.tcp_sack needs a string \"value\""},
      {R"({"net.ipv4.tcp_sack": {"value": "0", "fixed": "yes"}})", "\"fixed\" is not a boolean"},
      {R"({"net.ipv4.tcp_sack": {"value": "0", "means": 5}})", "\"means\" is not a string"},
  };
  for (const auto& [sysctls, want] : cases) {
    std::string m = message_of<TargetFailure>([&] { Scenario s(with_sysctls(sysctls)); });
    EXPECT_NE(m.find("sent garbage: "), std::string::npos) << m;
    EXPECT_NE(m.find(want), std::string::npos) << sysctls << ": " << m;
  }
}

}  // namespace
}  // namespace tcpfault
