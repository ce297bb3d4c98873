// The agent driving lwIP against the kernel on the other side of a TAP: connections
// both ways, data, closes, resets, errors, and the state events of each, on IPv4 and IPv6.
#include <gtest/gtest.h>

#include "agents/testing/agent_lab.h"

namespace tcpfault::agent_testing {
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

TEST_P(Connection, CloseWithUnreadDataResets) {
  auto [conn, k] = passive_open(8082);
  const std::string local = agent_at(8082).str(), remote = peer::local_of(k.get()).str();
  peer::send_all(k.get(), "never read");
  // Wait until lwIP has the bytes (a recv of 0 bytes is not a thing: peek with a short recv).
  ASSERT_TRUE(agent().call({{"cmd", "sockets"}}).value("ok", false));
  const Json r = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 1}, {"timeout_ms", 3000}});
  ASSERT_EQ(unhex(r["data"]), "n");  // 9 bytes stay unread
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  EXPECT_EQ(peer::recv_error(k.get()), ECONNRESET);
  agent().wait_state(local, remote, "CLOSED");
  EXPECT_EQ(agent().states(local, remote), (std::vector<std::string>{"LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSED"}));
}

// lwIP aborts on a linger-0 close only when it holds data not yet acknowledged
// (api_msg.c lwip_netconn_do_close_internal); the peer's tiny, full receive window keeps
// lwIP's data unacknowledged here.
TEST_P(Connection, LingerZeroCloseWithUnacknowledgedDataResets) {
  const Json l = agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(family()).str()}, {"port", 8083}, {"backlog", 4}});
  ASSERT_TRUE(l.value("ok", false)) << l.dump();
  UniqueFd k = lab_->peer().run([&] {
    UniqueFd s(::socket(to_af(family()), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int small = 1;  // the kernel rounds it up to its minimum
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    return s;
  });
  lab_->peer().run([&] {
    socklen_t len = 0;
    const sockaddr_storage from = client_at(0).to_sockaddr(len);
    ASSERT_EQ(::bind(k.get(), reinterpret_cast<const sockaddr*>(&from), len), 0);
    const sockaddr_storage to = agent_at(8083).to_sockaddr(len);
    ::connect(k.get(), reinterpret_cast<const sockaddr*>(&to), len);
  });
  const Json a = agent().call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  const int conn = a["conn"];
  const std::string local = a["local"], remote = a["remote"];
  ASSERT_TRUE(agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", "linger"},
                            {"value", {{"on", true}, {"seconds", 0}}}})
                  .value("ok", false));
  const Json s = agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex(std::string(20000, 'x'))}, {"timeout_ms", 200}});
  ASSERT_TRUE(s.value("ok", false)) << s.dump();
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  EXPECT_EQ(peer::recv_error(k.get()), ECONNRESET);
  agent().wait_state(local, remote, "CLOSED");
  EXPECT_EQ(agent().states(local, remote), (std::vector<std::string>{"LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSED"}));
}

// With nothing left to send, lwIP's linger-0 close is an ordinary close: FIN, not RST
// (Linux would reset). Documented in docs/lwip-target.md.
TEST_P(Connection, LingerZeroCloseWithNothingPendingSendsFin) {
  auto [conn, k] = passive_open(8084);
  const std::string local = agent_at(8084).str(), remote = peer::local_of(k.get()).str();
  ASSERT_TRUE(agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", "linger"},
                            {"value", {{"on", true}, {"seconds", 0}}}})
                  .value("ok", false));
  const Json g = agent().call({{"cmd", "getsockopt"}, {"conn", conn}, {"option", "linger"}});
  EXPECT_EQ(g["value"], (Json{{"on", true}, {"seconds", 0}}));
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  EXPECT_EQ(peer::recv_error(k.get()), 0);  // EOF
  agent().wait_state(local, remote, "FIN_WAIT2");
}

TEST_P(Connection, ActiveOpenThroughTheGatewayAndHalfClose) {
  UniqueFd kl = peer::listen(lab_->peer(), client_at(9000));
  const Json c = agent().call({{"cmd", "connect"}, {"address", Lab::client_addr(family()).str()}, {"port", 9000},
                               {"timeout_ms", 3000}});
  ASSERT_TRUE(c.value("ok", false)) << c.dump();
  EXPECT_EQ(c["remote"], client_at(9000).str());
  const int conn = c["conn"];
  const std::string local = c["local"], remote = c["remote"];
  UniqueFd k = peer::accept(kl.get());

  const Json s = agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex("request")}, {"timeout_ms", 3000}});
  ASSERT_EQ(s["sent"], 7) << s.dump();
  EXPECT_EQ(peer::recv_n(k.get(), 7), "request");
  ASSERT_TRUE(agent().call({{"cmd", "shutdown"}, {"conn", conn}, {"how", "wr"}}).value("ok", false));
  EXPECT_EQ(peer::recv_to_eof(k.get()), "");
  agent().wait_state(local, remote, "FIN_WAIT2");
  // Half closed: the kernel can still send.
  peer::send_all(k.get(), "response");
  k.reset();
  std::string got;
  for (int i = 0; i < 10 && got.size() < 8; ++i) {
    const Json r = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 100}, {"timeout_ms", 3000}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    got += unhex(r["data"]);
  }
  EXPECT_EQ(got, "response");
  const Json eof = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 100}, {"timeout_ms", 3000}});
  EXPECT_TRUE(eof.value("eof", false)) << eof.dump();
  agent().wait_state(local, remote, "TIME_WAIT");
  ASSERT_TRUE(agent().call({{"cmd", "close"}, {"conn", conn}}).value("ok", false));
  EXPECT_EQ(agent().states(local, remote),
            (std::vector<std::string>{"CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"}));
}

TEST_P(Connection, ConnectRefused) {
  const auto start = Clock::now();
  const Json c = agent().call({{"cmd", "connect"}, {"address", Lab::client_addr(family()).str()}, {"port", 9001},
                               {"timeout_ms", 3000}});
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(c.value("ok", true), false) << c.dump();
  EXPECT_EQ(c["errno"], "ECONNREFUSED") << c.dump();
  EXPECT_EQ(c["remote"], client_at(9001).str());
  ASSERT_TRUE(c.contains("local")) << c.dump();
  EXPECT_FALSE(c.contains("conn")) << c.dump();
  EXPECT_EQ(agent().states(c["local"], c["remote"]), (std::vector<std::string>{"CLOSED", "SYN_SENT", "CLOSED"}));
}

TEST_P(Connection, AcceptAndRecvTimeOutWithEagain) {
  const Json l = agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(family()).str()}, {"port", 8085}, {"backlog", 1}});
  ASSERT_TRUE(l.value("ok", false));
  auto start = Clock::now();
  const Json a = agent().call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 200}});
  auto took = Clock::now() - start;
  EXPECT_EQ(a["errno"], "EAGAIN") << a.dump();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);

  UniqueFd k = peer::connect(lab_->peer(), client_at(0), agent_at(8085));
  const Json ok = agent().call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
  ASSERT_TRUE(ok.value("ok", false)) << ok.dump();
  start = Clock::now();
  const Json r = agent().call({{"cmd", "recv"}, {"conn", ok["conn"]}, {"max", 10}, {"timeout_ms", 150}});
  took = Clock::now() - start;
  EXPECT_EQ(r["errno"], "EAGAIN") << r.dump();
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);
}

// A recv blocked in one request while another closes the connection: the recv ends
// with EBADF at once, the close succeeds, nothing hangs.
TEST_P(Connection, CloseWhileAnotherRequestWaits) {
  auto [conn, k] = passive_open(8086);
  const auto start = Clock::now();
  const std::int64_t recv_id = agent().send({{"cmd", "recv"}, {"conn", conn}, {"max", 10}, {"timeout_ms", 20000}});
  const Json closed = agent().call({{"cmd", "close"}, {"conn", conn}});
  EXPECT_TRUE(closed.value("ok", false)) << closed.dump();
  const Json r = agent().reply(recv_id, 3s);
  EXPECT_EQ(r["errno"], "EBADF") << r.dump();
  EXPECT_LT(Clock::now() - start, 2s);
  const Json again = agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 10}, {"timeout_ms", 10}});
  EXPECT_EQ(again["error"], "bad_handle") << again.dump();
}

TEST_P(Connection, SocketOptions) {
  auto [conn, k] = passive_open(8087);
  ASSERT_TRUE(agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", "nodelay"}, {"value", true}}).value("ok", false));
  EXPECT_EQ(agent().call({{"cmd", "getsockopt"}, {"conn", conn}, {"option", "nodelay"}})["value"], true);
  const Json ka{{"idle_s", 7}, {"interval_s", 3}, {"count", 4}};
  ASSERT_TRUE(agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", "keepalive"}, {"value", ka}}).value("ok", false));
  EXPECT_EQ(agent().call({{"cmd", "getsockopt"}, {"conn", conn}, {"option", "keepalive"}})["value"],
            (Json{{"on", true}, {"idle_s", 7}, {"interval_s", 3}, {"count", 4}}));
  for (const char* option : {"sndbuf", "rcvbuf", "cork"}) {
    const Json u = agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", option}, {"value", 4096}});
    EXPECT_EQ(u["error"], "unsupported") << u.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Connection, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault::agent_testing
