// Every agent under bad input (agents/lwip, agents/gvisor): it answers every request it
// cannot take with a protocol error naming what is wrong, never crashes or hangs, and
// exits at end of file. Each test runs once per agent built.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "agents/testing/agent_lab.h"

namespace tcpfault::agent_testing {
namespace {

// An agent and what its hello reply says of it.
struct AgentUnderTest {
  std::string name, path;
  std::string says;       // in the hello reply's "agent"
  Json features;          // the hello reply's "features", in its order
  std::string mac, link_local;
};

void PrintTo(const AgentUnderTest& a, std::ostream* os) { *os << a.name; }

std::vector<AgentUnderTest> agents_built() {
  std::vector<AgentUnderTest> agents = {
      {"lwip", LWIP_AGENT_PATH, "lwIP 2.1.3", Json{"state_events", "linger", "keepalive", "nodelay"},
       "02:74:66:00:00:01", "fe80::74:66ff:fe00:1"},
  };
#ifdef GVISOR_AGENT_PATH
  agents.push_back({"gvisor", GVISOR_AGENT_PATH, "gVisor netstack",
                    Json{"state_events", "sysctls", "counters", "keepalive", "linger", "linger2_s", "maxseg", "nodelay",
                         "rcvbuf", "sndbuf", "syncnt", "user_timeout_ms"},
                    "02:74:66:00:00:02", "fe80::74:66ff:fe00:2"});
#endif
  return agents;
}

class Protocol : public ::testing::TestWithParam<AgentUnderTest> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces and a TAP)";
  }
  void start(bool hello = true) {
    lab_ = std::make_unique<Lab>(LabOptions{.agent = GetParam().path, .hello = hello, .router_advert = hello});
  }
  AgentClient& agent() { return lab_->agent(); }
  // The agent still answers a well-formed request.
  void expect_alive() {
    const Json r = agent().call({{"cmd", "sockets"}}, 3s);
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
  }
  static void expect_error(const Json& r, const std::string& kind, const std::string& says) {
    EXPECT_EQ(r.value("error", ""), kind) << r.dump();
    EXPECT_NE(r.value("message", "").find(says), std::string::npos) << r.dump();
    EXPECT_FALSE(r.contains("ok")) << r.dump();
  }
  std::unique_ptr<Lab> lab_;
};

INSTANTIATE_TEST_SUITE_P(Agents, Protocol, ::testing::ValuesIn(agents_built()),
                         [](const ::testing::TestParamInfo<AgentUnderTest>& info) { return info.param.name; });

TEST_P(Protocol, HelloReplyDescribesTheAgent) {
  start(false);
  const auto t0 = Clock::now();
  const Json r = agent().call(Lab::hello_request(), 5s);
  EXPECT_LT(Clock::now() - t0, 5s);
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["version"], 1);
  EXPECT_NE(r.value("agent", "").find(GetParam().says), std::string::npos) << r.dump();
  EXPECT_EQ(r["features"], GetParam().features);
  EXPECT_EQ(r["mac"], GetParam().mac);
  EXPECT_EQ(r["ipv6_link_local"], GetParam().link_local);
}

TEST_P(Protocol, WrongVersionIsAVersionError) {
  start(false);
  Json hello = Lab::hello_request();
  hello["version"] = 2;
  const Json r = agent().call(hello);
  expect_error(r, "version", "version 1, not 2");
  EXPECT_EQ(r["versions"], Json::array({1}));
  // Nothing was brought up: a proper hello still works.
  EXPECT_TRUE(agent().call(Lab::hello_request()).value("ok", false));
}

TEST_P(Protocol, RequestsBeforeHelloAreRefused) {
  start(false);
  expect_error(agent().call({{"cmd", "sockets"}}), "bad_request", "first request must be hello");
  EXPECT_TRUE(agent().call(Lab::hello_request()).value("ok", false));
  expect_error(agent().call(Lab::hello_request()), "bad_request", "already up");
}

TEST_P(Protocol, BadHelloArguments) {
  start(false);
  Json h = Lab::hello_request();
  h["ipv4"]["address"] = "2001:2::1";
  expect_error(agent().call(h), "bad_request", "must be an IPv4 address");
  h = Lab::hello_request();
  h["side"] = "middle";
  expect_error(agent().call(h), "bad_request", "'side'");
  h = Lab::hello_request();
  h.erase("version");
  expect_error(agent().call(h), "bad_request", "'version' is missing");
}

TEST_P(Protocol, LinesThatAreNotRequests) {
  start();
  agent().send_raw("this is not json\n");
  expect_error(agent().null_id_reply(), "malformed", "not a JSON object");
  agent().send_raw("[1, 2, 3]\n");
  expect_error(agent().null_id_reply(), "malformed", "not a JSON object");
  agent().send_raw("{\"cmd\": \"sockets\"}\n");
  expect_error(agent().null_id_reply(), "bad_request", "needs an \"id\"");
  agent().send_raw("{\"id\": \"seven\", \"cmd\": \"sockets\"}\n");
  expect_error(agent().null_id_reply(), "bad_request", "positive integer");
  agent().send_raw("\n");
  expect_error(agent().null_id_reply(), "malformed", "not a JSON object");
  expect_alive();
}

TEST_P(Protocol, TooLongLineIsMalformedAndSkipped) {
  start();
  const std::string huge = "{\"id\": 99, \"cmd\": \"send\", \"data\": \"" + std::string(1 << 21, 'a') + "\"}\n";
  agent().send_raw(huge);
  expect_error(agent().null_id_reply(), "malformed", "longer than 1 MiB");
  expect_alive();
}

TEST_P(Protocol, UnknownCommandMissingArgumentsAndBadTypes) {
  start();
  expect_error(agent().call({{"cmd", "teleport"}}), "unknown_command", "no command \"teleport\"");
  expect_error(agent().call({{"nocmd", true}}), "bad_request", "needs a \"cmd\"");
  expect_error(agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"backlog", 1}}), "bad_request",
               "listen: argument 'port' is missing");
  expect_error(agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"port", "80"}, {"backlog", 1}}),
               "bad_request", "'port' must be an integer from 0 to 65535");
  expect_error(agent().call({{"cmd", "listen"}, {"address", "not-an-ip"}, {"port", 80}, {"backlog", 1}}),
               "bad_request", "'address' must be an IPv4 or IPv6 address");
  expect_error(agent().call({{"cmd", "connect"}, {"address", Lab::client_addr(Family::V4).str()}, {"port", 80}}), "bad_request",
               "'timeout_ms' is missing");
  expect_error(agent().call({{"cmd", "shutdown"}, {"conn", 1}}), "bad_handle", "no such handle");
  expect_alive();
}

TEST_P(Protocol, BadHandles) {
  start();
  const Json l = agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"port", 7000}, {"backlog", 1}});
  ASSERT_TRUE(l.value("ok", false)) << l.dump();
  expect_error(agent().call({{"cmd", "recv"}, {"conn", 999}, {"max", 1}, {"timeout_ms", 10}}), "bad_handle",
               "conn 999: no such handle");
  expect_error(agent().call({{"cmd", "recv"}, {"conn", l["listener"]}, {"max", 1}, {"timeout_ms", 10}}), "bad_handle",
               "is a listener, not a connection");
  expect_error(agent().call({{"cmd", "accept"}, {"listener", 12345}, {"timeout_ms", 10}}), "bad_handle",
               "listener 12345");
  expect_error(agent().call({{"cmd", "close"}, {"conn", l["listener"]}}), "bad_handle", "not a connection");
  EXPECT_TRUE(agent().call({{"cmd", "close"}, {"listener", l["listener"]}}).value("ok", false));
  expect_error(agent().call({{"cmd", "close"}, {"listener", l["listener"]}}), "bad_handle", "no such handle");
  expect_error(agent().call({{"cmd", "send"}, {"conn", 1}, {"data", "zz"}, {"timeout_ms", 10}}), "bad_handle", "");
  expect_alive();
}

TEST_P(Protocol, BadHexData) {
  start();
  UniqueFd kl = peer::listen(lab_->peer(), {Lab::client_addr(Family::V4), 9200});
  const Json c = agent().call({{"cmd", "connect"}, {"address", Lab::client_addr(Family::V4).str()}, {"port", 9200}, {"timeout_ms", 3000}});
  ASSERT_TRUE(c.value("ok", false)) << c.dump();
  expect_error(agent().call({{"cmd", "send"}, {"conn", c["conn"]}, {"data", "abc"}, {"timeout_ms", 100}}),
               "bad_request", "odd number");
  expect_error(agent().call({{"cmd", "send"}, {"conn", c["conn"]}, {"data", "zz"}, {"timeout_ms", 100}}),
               "bad_request", "'zz' at offset 0 is not hex");
  expect_alive();
}

TEST_P(Protocol, ExitsAtEndOfFileEvenWithBlockedCalls) {
  start();
  const Json l = agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"port", 7001}, {"backlog", 1}});
  agent().send({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 60000}});
  agent().close_control();
  const auto status = agent().wait_exit(2s);
  ASSERT_TRUE(status.has_value()) << "the agent did not exit within 2 s of end of file";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

TEST_P(Protocol, ByeRepliesThenExits) {
  start();
  EXPECT_TRUE(agent().call({{"cmd", "bye"}}).value("ok", false));
  const auto status = agent().wait_exit(2s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace tcpfault::agent_testing
