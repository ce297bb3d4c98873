// The Linux sysctls the lwIP agent declares (agents/lwip/stack_sysctls.h): hello lists
// them, set_sysctl and get_sysctl work on the keepalive defaults and refuse what lwIP
// cannot do, every new connection takes the defaults, and a default really times the
// keepalive probes on the wire.
#include "netns/sysctl/sysctl.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "agents/testing/agent_lab.h"
#include "harness/scenario/scenario.h"
#include "harness/trace/trace_queries.h"

namespace tcpfault::agent_testing {
namespace {

class LwipSysctls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces and a TAP)";
  }
  void start(bool hello = true) { lab_ = std::make_unique<Lab>(LabOptions{.hello = hello, .router_advert = hello}); }
  AgentClient& agent() { return lab_->agent(); }
  Json set(const std::string& key, const Json& value) {
    return agent().call({{"cmd", "set_sysctl"}, {"key", key}, {"value", value}});
  }
  Json get(const std::string& key) { return agent().call({{"cmd", "get_sysctl"}, {"key", key}}); }
  Json keepalive_of(const Json& conn) {
    const Json r = agent().call({{"cmd", "getsockopt"}, {"conn", conn}, {"option", "keepalive"}});
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    return r["value"];
  }
  // An active and a passive connection of lwIP's, each opened now; their conn handles.
  std::pair<Json, Json> open_both(int port) {
    const SockAddr kernel_at{Lab::client_addr(Family::V4), static_cast<std::uint16_t>(port)};
    UniqueFd kl = peer::listen(lab_->peer(), kernel_at);
    const Json c =
        agent().call({{"cmd", "connect"}, {"address", kernel_at.addr.str()}, {"port", port}, {"timeout_ms", 3000}});
    EXPECT_TRUE(c.value("ok", false)) << c.dump();
    kernel_conns_.push_back(peer::accept(kl.get()));
    const Json l = agent().call(
        {{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"port", port}, {"backlog", 4}});
    EXPECT_TRUE(l.value("ok", false)) << l.dump();
    kernel_conns_.push_back(peer::connect(lab_->peer(), {Lab::client_addr(Family::V4), 0},
                                          {Lab::agent_addr(Family::V4), static_cast<std::uint16_t>(port)}));
    const Json a = agent().call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
    EXPECT_TRUE(a.value("ok", false)) << a.dump();
    return {c["conn"], a["conn"]};
  }
  std::unique_ptr<Lab> lab_;
  std::vector<UniqueFd> kernel_conns_;
};

TEST_F(LwipSysctls, HelloDeclaresWhatLwipHas) {
  start(false);
  const Json r = agent().call(Lab::hello_request(), 5s);
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  const Json& d = r["sysctls"];
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"net.ipv4.tcp_sack", "0"},
                                          {"net.ipv4.tcp_dsack", "0"},
                                          {"net.ipv4.tcp_timestamps", "0"},
                                          {"net.ipv4.tcp_window_scaling", "1"},
                                          {"net.ipv4.tcp_syncookies", "0"},
                                          {"net.ipv4.tcp_ecn", "0"},
                                          {"net.ipv4.tcp_early_retrans", "0"},
                                          {"net.ipv4.tcp_syn_retries", "6"},
                                          {"net.ipv4.tcp_fin_timeout", "20"},
                                          {"net.ipv4.tcp_abort_on_overflow", "1"},
                                          {"net.ipv4.ip_local_port_range", "49152\t65535"}}) {
    ASSERT_TRUE(d.contains(key)) << key << " missing from " << d.dump();
    EXPECT_EQ(d[key]["value"], value) << key;
    EXPECT_EQ(d[key]["fixed"], true) << key;
    EXPECT_FALSE(d[key].value("means", "").empty()) << key;
  }
  for (const auto& [key, value] : std::map<std::string, std::string>{{"net.ipv4.tcp_keepalive_time", "7200"},
                                                                     {"net.ipv4.tcp_keepalive_intvl", "75"},
                                                                     {"net.ipv4.tcp_keepalive_probes", "9"}}) {
    ASSERT_TRUE(d.contains(key)) << key;
    EXPECT_EQ(d[key]["value"], value) << key;
    EXPECT_EQ(d[key]["fixed"], false) << key;
  }
  // Not declared: lwIP's rule differs from Linux's meaning (docs/lwip-target.md).
  for (const char* key : {"net.ipv4.tcp_retries2", "net.ipv4.tcp_synack_retries", "net.ipv4.tcp_syn_linear_timeouts",
                          "net.ipv4.tcp_rto_min_us", "net.ipv4.tcp_orphan_retries", "net.ipv4.tcp_tw_reuse"})
    EXPECT_FALSE(d.contains(key)) << key;
}

// The fixed values the kernel can see: with a peer kernel that offers and accepts SACK,
// timestamps, window scaling and ECN, what its TCP_INFO says was negotiated, both ways,
// is what lwIP declares (tcp_sack 0, tcp_timestamps 0, tcp_window_scaling 1, tcp_ecn 0),
// and an active open's port is in the declared ip_local_port_range.
TEST_F(LwipSysctls, TheFixedValuesAreWhatAKernelPeerNegotiates) {
  start();
  for (const auto& [key, value] : std::map<std::string, std::string>{{"net.ipv4.tcp_sack", "1"},
                                                                     {"net.ipv4.tcp_timestamps", "1"},
                                                                     {"net.ipv4.tcp_window_scaling", "1"},
                                                                     {"net.ipv4.tcp_ecn", "1"}})
    netns::write_sysctl(lab_->peer(), key, value);
  open_both(9103);
  ASSERT_EQ(kernel_conns_.size(), 2u);
  for (const auto& k : kernel_conns_) {  // the peer of lwIP's connect, then of its accept
    tcp_info info{};
    socklen_t len = sizeof info;
    ASSERT_EQ(::getsockopt(k.get(), IPPROTO_TCP, TCP_INFO, &info, &len), 0);
    EXPECT_EQ(info.tcpi_options & TCPI_OPT_SACK, 0) << "SACK negotiated";
    EXPECT_EQ(info.tcpi_options & TCPI_OPT_TIMESTAMPS, 0) << "timestamps negotiated";
    EXPECT_NE(info.tcpi_options & TCPI_OPT_WSCALE, 0) << "no window scaling";
    EXPECT_EQ(info.tcpi_options & TCPI_OPT_ECN, 0) << "ECN negotiated";
  }
  sockaddr_storage lwip_end{};
  socklen_t len = sizeof lwip_end;
  ASSERT_EQ(::getpeername(kernel_conns_[0].get(), reinterpret_cast<sockaddr*>(&lwip_end), &len), 0);
  EXPECT_GE(ntohs(reinterpret_cast<const sockaddr_in&>(lwip_end).sin_port), 49152);  // and at most 65535
}

TEST_F(LwipSysctls, SetAndGetTheKeepaliveDefaults) {
  start();
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_time")["value"], "7200");
  EXPECT_TRUE(set("net.ipv4.tcp_keepalive_time", "30").value("ok", false));
  EXPECT_TRUE(set("net.ipv4.tcp_keepalive_intvl", " 4\n").value("ok", false));  // /proc/sys's blanks
  EXPECT_TRUE(set("net.ipv4.tcp_keepalive_probes", "255").value("ok", false));
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_time")["value"], "30");
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_intvl")["value"], "4");
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_probes")["value"], "255");
  EXPECT_EQ(get("net.ipv4.tcp_sack")["value"], "0");
}

// What Linux refuses too is EINVAL (the case asked for nonsense); what Linux takes but
// lwIP cannot behave as is "unsupported" (the case is not applicable). Either way the
// old value stays.
TEST_F(LwipSysctls, ValuesLinuxRefusesAreEinvalValuesLwipLacksUnsupported) {
  start();
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"net.ipv4.tcp_keepalive_time", "soon"},
                                                        {"net.ipv4.tcp_keepalive_time", "1 2"},
                                                        {"net.ipv4.tcp_keepalive_time", ""},
                                                        {"net.ipv4.tcp_keepalive_probes", "256"},
                                                        {"net.ipv4.tcp_keepalive_probes", "-1"}}) {
    const Json r = set(key, value);
    EXPECT_EQ(r.value("ok", true), false) << r.dump();
    EXPECT_EQ(r["errno"], "EINVAL") << r.dump();
    EXPECT_NE(r.value("message", "").find("takes one whole number"), std::string::npos) << r.dump();
  }
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"net.ipv4.tcp_keepalive_time", "0"},
                                                        {"net.ipv4.tcp_keepalive_time", "4294968"},
                                                        {"net.ipv4.tcp_keepalive_intvl", "-5"},
                                                        {"net.ipv4.tcp_keepalive_probes", "0"}}) {
    const Json r = set(key, value);
    EXPECT_EQ(r["error"], "unsupported") << r.dump();
    EXPECT_NE(r.value("message", "").find("lwIP cannot behave as"), std::string::npos) << r.dump();
  }
  EXPECT_TRUE(set("net.ipv4.tcp_keepalive_time", "4294967").value("ok", false));  // keep_idle's u32 of ms
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_time")["value"], "4294967");
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_intvl")["value"], "75");
  EXPECT_EQ(get("net.ipv4.tcp_keepalive_probes")["value"], "9");
}

TEST_F(LwipSysctls, FixedAndUndeclaredKeysAreUnsupportedAndBadArgumentsBadRequests) {
  start();
  Json r = set("net.ipv4.tcp_sack", "1");
  EXPECT_EQ(r["error"], "unsupported") << r.dump();
  EXPECT_NE(r.value("message", "").find("fixed in lwIP 2.1"), std::string::npos) << r.dump();
  r = set("net.ipv4.tcp_retries2", "3");
  EXPECT_EQ(r["error"], "unsupported") << r.dump();
  r = get("net.ipv4.tcp_retries2");
  EXPECT_EQ(r["error"], "unsupported") << r.dump();
  r = agent().call({{"cmd", "set_sysctl"}, {"key", "net.ipv4.tcp_keepalive_time"}});
  EXPECT_EQ(r["error"], "bad_request") << r.dump();
  r = set("net.ipv4.tcp_keepalive_time", 30);
  EXPECT_EQ(r["error"], "bad_request") << r.dump();
}

// As on Linux, the defaults hold for every connection in each setting it did not make
// itself: new ones both ways, and open ones when the defaults change.
TEST_F(LwipSysctls, EveryConnectionFollowsTheDefaultsWhereItSetNothingOfItsOwn) {
  start();
  const auto [old_active, old_passive] = open_both(9100);
  const Json before{{"on", false}, {"idle_s", 7200}, {"interval_s", 75}, {"count", 9}};
  EXPECT_EQ(keepalive_of(old_active), before);
  EXPECT_EQ(keepalive_of(old_passive), before);
  // A socket's own settings: idle and count on one, the interval on the other.
  ASSERT_TRUE(agent()
                  .call({{"cmd", "setsockopt"},
                         {"conn", old_active},
                         {"option", "keepalive"},
                         {"value", {{"idle_s", 3}, {"count", 1}}}})
                  .value("ok", false));
  ASSERT_TRUE(
      agent()
          .call({{"cmd", "setsockopt"}, {"conn", old_passive}, {"option", "keepalive"}, {"value", {{"interval_s", 2}}}})
          .value("ok", false));

  ASSERT_TRUE(set("net.ipv4.tcp_keepalive_time", "11").value("ok", false));
  ASSERT_TRUE(set("net.ipv4.tcp_keepalive_intvl", "5").value("ok", false));
  ASSERT_TRUE(set("net.ipv4.tcp_keepalive_probes", "4").value("ok", false));
  const auto [active, passive] = open_both(9101);
  const Json now{{"on", false}, {"idle_s", 11}, {"interval_s", 5}, {"count", 4}};
  EXPECT_EQ(keepalive_of(active), now);
  EXPECT_EQ(keepalive_of(passive), now);
  EXPECT_EQ(keepalive_of(old_active), (Json{{"on", true}, {"idle_s", 3}, {"interval_s", 5}, {"count", 1}}));
  EXPECT_EQ(keepalive_of(old_passive), (Json{{"on", true}, {"idle_s", 11}, {"interval_s", 2}, {"count", 4}}));
}

// A connection that completed its handshake before the change but is accepted after it
// takes the defaults of when it is accepted.
TEST_F(LwipSysctls, AConnectionAcceptedAfterAChangeTakesTheNewDefaults) {
  start();
  const Json l =
      agent().call({{"cmd", "listen"}, {"address", Lab::agent_addr(Family::V4).str()}, {"port", 9102}, {"backlog", 4}});
  ASSERT_TRUE(l.value("ok", false)) << l.dump();
  UniqueFd k = peer::connect(lab_->peer(), {Lab::client_addr(Family::V4), 0}, {Lab::agent_addr(Family::V4), 9102});
  agent().wait_state(SockAddr{Lab::agent_addr(Family::V4), 9102}.str(), peer::local_of(k.get()).str(), "ESTABLISHED");
  ASSERT_TRUE(set("net.ipv4.tcp_keepalive_time", "12").value("ok", false));
  const Json a = agent().call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
  ASSERT_TRUE(a.value("ok", false)) << a.dump();
  EXPECT_EQ(keepalive_of(a["conn"])["idle_s"], 12);
}

// Through tcpfault itself: the case's set_sysctl reaches lwIP, and a connection with
// SO_KEEPALIVE and no settings of its own probes on that schedule: lwIP's slow timer
// (500 ms ticks) sends probe k once more than idle + (k - 1) x interval has passed since
// the last segment it received, and gives up with an RST once idle + probes x interval has.
TEST(LwipSysctlsOnTheWire, KeepaliveDefaultsTimeTheProbes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  ScenarioOptions o;
  o.name = "lwip-keepalive-sysctls";
  o.target = Target::agent(agent_path(), Host::Server, "lwip");
  Scenario s(o);
  s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_time", "2");
  s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_intvl", "1");
  s.set_sysctl(Host::Server, "net.ipv4.tcp_keepalive_probes", "3");
  EXPECT_EQ(s.sysctl_int(Host::Server, "net.ipv4.tcp_keepalive_time"), 2);
  auto listener = s.server().listen(s.server_at(8080));
  auto client = s.client().connect(s.server_at(8080));
  auto conn = listener.accept();
  EXPECT_EQ(conn.get_option(IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE").value, 2);
  EXPECT_EQ(conn.get_option(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL").value, 1);
  EXPECT_EQ(conn.get_option(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT").value, 3);
  s.faults().add(drop(Match().sent_by(Host::Client)));  // the client falls silent
  const CallResult on = conn.set_option(SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  ASSERT_TRUE(on.ok()) << on.describe();
  s.expect_state(conn, TcpState::CLOSED, 8000ms);

  const auto events = s.trace().events();
  const auto from_client = matching_segments(events, Match().sent_by(Host::Client));
  ASSERT_FALSE(from_client.empty());
  std::int64_t last_heard = 0;  // the handshake's last segment lwIP received
  for (const auto* e : from_client)
    if (e->fate == "passed") last_heard = e->t_ns;
  const auto probes = matching_segments(events, Match().role(KEEPALIVE).sent_by(Host::Server));
  const auto rsts = matching_segments(events, Match().role(RST_ROLE).sent_by(Host::Server));
  ASSERT_EQ(probes.size(), 3u) << s.ladder();
  ASSERT_EQ(rsts.size(), 1u) << s.ladder();
  auto after = [&](const SegmentEvent* e) { return double(e->t_ns - last_heard) / 1e9; };
  for (std::size_t k = 0; k < 3; ++k) {
    const double due = 2.0 + double(k);  // idle + k x interval
    EXPECT_GE(after(probes[k]), due - 0.05) << "probe " << k + 1 << "\n" << s.ladder();
    EXPECT_LE(after(probes[k]), due + 0.5 + 0.3) << "probe " << k + 1 << "\n" << s.ladder();
  }
  EXPECT_GE(after(rsts[0]), 5.0 - 0.05) << s.ladder();
  EXPECT_LE(after(rsts[0]), 5.5 + 0.3) << s.ladder();
}

}  // namespace
}  // namespace tcpfault::agent_testing
