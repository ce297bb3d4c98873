// The agent driving lwIP against the kernel on the other side of a TAP: connections
// both ways, data, closes, resets, errors, and the state events of each, on IPv4 and IPv6.
#include <gtest/gtest.h>

#include "agent_lab.h"

namespace tcpfault::lwip_agent::testing {
namespace {

class Connection : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces and a TAP)";
    lab_ = std::make_unique<Lab>();
  }
  Family family() const { return GetParam(); }
  SockAddr agent_at(int port) const { return {Lab::agent_addr(family()), static_cast<std::uint16_t>(port)}; }
  SockAddr client_at(int port) const { return {Lab::client_addr(family()), static_cast<std::uint16_t>(port)}; }
  AgentClient& agent() { return lab_->agent(); }

  // lwIP listens on `port` and the kernel connects from the client address; returns the
  // accepted conn handle and the kernel's socket.
  std::pair<int, UniqueFd> passive_open(int port) {
    const Json l = agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(family()).str()}, {"port", port}, {"backlog", 4}});
    if (!l.value("ok", false)) throw std::runtime_error("listen: " + l.dump());
    listener_ = l["listener"].get<int>();
    UniqueFd k = peer::connect(lab_->peer(), client_at(0), agent_at(port));
    const Json a = agent().call({{"cmd", "accept"}, {"listener", listener_}, {"timeout_ms", 3000}});
    if (!a.value("ok", false)) throw std::runtime_error("accept: " + a.dump());
    EXPECT_EQ(a.value("local", ""), agent_at(port).str());
    EXPECT_EQ(a.value("remote", ""), peer::local_of(k.get()).str());
    return {a["conn"].get<int>(), std::move(k)};
  }

  std::unique_ptr<Lab> lab_;
  int listener_ = 0;
};

TEST_P(Connection, PassiveOpenDataBothWaysAndPassiveClose) {
  auto [conn, k] = passive_open(8080);
  const std::string local = agent_at(8080).str(), remote = peer::local_of(k.get()).str();

  peer::send_all(k.get(), "hello lwip");
  const Json r = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 100}, {"timeout_ms", 3000}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(unhex(r["data"]), "hello lwip");
  EXPECT_FALSE(r["eof"].get<bool>());

  const Json s = agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex("hello kernel")}, {"timeout_ms", 3000}});
  ASSERT_TRUE(s.value("ok", false)) << s.dump();
  EXPECT_EQ(s["sent"], 12);
  EXPECT_EQ(peer::recv_n(k.get(), 12), "hello kernel");

  // The kernel closes first: lwIP sees EOF, then closes its end.
  k.reset();
  const Json eof = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 100}, {"timeout_ms", 3000}});
  ASSERT_TRUE(eof.value("ok", false)) << eof.dump();
  EXPECT_TRUE(eof["eof"].get<bool>());
  EXPECT_EQ(eof["data"], "");
  agent().wait_state(local, remote, "CLOSE_WAIT");
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  agent().wait_state(local, remote, "CLOSED");
  EXPECT_EQ(agent().states(local, remote),
            (std::vector<std::string>{"LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"}));
}

TEST_P(Connection, ActiveCloseGoesThroughFinWait2ToTimeWait) {
  auto [conn, k] = passive_open(8081);
  const std::string local = agent_at(8081).str(), remote = peer::local_of(k.get()).str();
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  EXPECT_EQ(peer::recv_to_eof(k.get()), "");
  agent().wait_state(local, remote, "FIN_WAIT2");
  k.reset();  // the kernel's FIN
  agent().wait_state(local, remote, "TIME_WAIT");
  EXPECT_EQ(agent().states(local, remote),
            (std::vector<std::string>{"LISTEN", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"}));
  // TIME_WAIT has no handle but is still listed.
  const Json all = agent().call({{"cmd", "sockets"}});
  bool found = false;
  for (const auto& s : all["sockets"])
    if (s["local"] == local && s["remote"] == remote) found = s["state"] == "TIME_WAIT";
  EXPECT_TRUE(found) << all.dump();
}

INSTANTIATE_TEST_SUITE_P(Families, Connection, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault::lwip_agent::testing
