// lwIP 2.1 learns its IPv6 default router only from a Router Advertisement: without
// one it cannot reach the client's subnet; after the one tcpfault sends, it can.
#include <gtest/gtest.h>
#include <poll.h>

#include "agents/testing/agent_lab.h"

namespace tcpfault::agent_testing {
namespace {

TEST(Ipv6Router, OffLinkNeedsTheRouterAdvertisement) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (creates network namespaces and a TAP)";
  Lab lab(LabOptions{.hello = true, .router_advert = false});
  AgentClient& agent = lab.agent();
  const SockAddr client{Lab::client_addr(Family::V6), 9100};
  UniqueFd kl = peer::listen(lab.peer(), client);

  // No router: the SYN has no next hop and never leaves.
  const Json before = agent.call({{"cmd", "connect"}, {"address", client.addr.str()}, {"port", client.port},
                                  {"timeout_ms", 300}});
  EXPECT_EQ(before["errno"], "EINPROGRESS") << before.dump();
  ASSERT_TRUE(before.contains("conn")) << before.dump();
  ASSERT_TRUE(agent.call({{"cmd", "close"}, {"conn", before["conn"]}}).value("ok", false));
  pollfd p{kl.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "a connection reached the kernel without a route";

  // The on-link peer is reachable all the same (same /64).
  UniqueFd kl2 = peer::listen(lab.peer(), {Lab::tap_addr(Family::V6), 9101});
  const Json onlink = agent.call({{"cmd", "connect"}, {"address", Lab::tap_addr(Family::V6).str()}, {"port", 9101}, {"timeout_ms", 3000}});
  EXPECT_TRUE(onlink.value("ok", false)) << onlink.dump();

  lab.send_router_advert();
  const Json after = agent.call({{"cmd", "connect"}, {"address", client.addr.str()}, {"port", client.port},
                                 {"timeout_ms", 3000}});
  EXPECT_TRUE(after.value("ok", false)) << after.dump();
  const auto logs = agent.logs();
  EXPECT_NE(std::find(logs.begin(), logs.end(),
                      "learned the IPv6 default router fe80::fe from a router advertisement"),
            logs.end());
}

}  // namespace
}  // namespace tcpfault::agent_testing
