// A topology with an agent's side: the middlebox's interface toward it is a TAP device
// (same name, same addresses as the veth end), ready and routed, and the side's own
// namespace is empty for the agent process.
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cstring>

#include "netns/error.h"
#include "netns/offloads.h"
#include "netns/tests/test_support.h"
#include "netns/topology.h"

namespace tcpfault::netns {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> links_of(const Namespace& ns) {
  return ns.run([] {
    std::vector<std::string> names;
    struct if_nameindex* all = ::if_nameindex();
    for (auto* i = all; i && i->if_index; ++i) names.push_back(i->if_name);
    if (all) ::if_freenameindex(all);
    return names;
  });
}

class TapTopologyTest : public ::testing::TestWithParam<Host> {
 protected:
  void SetUp() override {
    TCPFAULT_REQUIRE_ROOT();
    topo_ = Topology::build({.agent_side = GetParam()});
  }
  Host side() const { return GetParam(); }
  Host other() const { return side() == Host::Client ? Host::Server : Host::Client; }
  std::unique_ptr<Topology> topo_;
};

TEST_P(TapTopologyTest, TheMiddleboxEndIsATapWithTheVethsNameAndAddresses) {
  ASSERT_EQ(topo_->agent_side(), side());
  ASSERT_GE(topo_->agent_tap_fd(), 0);
  ifreq ifr{};
  ASSERT_EQ(::ioctl(topo_->agent_tap_fd(), TUNGETIFF, &ifr), 0) << std::strerror(errno);
  EXPECT_EQ(std::string(ifr.ifr_name), interface_name(Host::Middlebox, side()));
  EXPECT_EQ(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_TUN), IFF_TAP | IFF_NO_PI);

  // Only lo in the agent's namespace; the other side keeps its veth.
  EXPECT_EQ(links_of(topo_->ns(side())), std::vector<std::string>{"lo"});
  auto others = links_of(topo_->ns(other()));
  EXPECT_NE(std::find(others.begin(), others.end(), interface_name(other())), others.end());

  Offloads o = read_offloads(topo_->middlebox(), interface_name(Host::Middlebox, side()));
  EXPECT_FALSE(o.tso);
  EXPECT_FALSE(o.gso);
  EXPECT_FALSE(o.gro);

  Address ll = topo_->middlebox_link_local(side());
  EXPECT_EQ(ll.family, Family::V6);
  EXPECT_EQ(ll.bytes[0], 0xfe);
  EXPECT_EQ(ll.bytes[1] & 0xc0, 0x80);
}

// A datagram from the other side toward the agent's address makes the middlebox ask
// for it on the TAP: the frame is read from the fd, so the route and the link work.
TEST_P(TapTopologyTest, TheMiddleboxResolvesTheAgentsAddressThroughTheTap) {
  const Address target = side() == Host::Server ? topo_->server_addr(Family::V4) : topo_->client_addr(Family::V4);
  UniqueFd udp = topo_->ns(other()).run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  ASSERT_TRUE(udp.valid());
  socklen_t len = 0;
  sockaddr_storage to = SockAddr{target, 9}.to_sockaddr(len);
  ASSERT_EQ(::sendto(udp.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), len), 1) << std::strerror(errno);

  // Frames may come first that are not the ARP request (IPv6 router solicitations,
  // multicast reports): read until the request for the target.
  const auto deadline = testing::Clock::now() + 3s;
  bool asked = false;
  while (!asked) {
    testing::wait_for(topo_->agent_tap_fd(), POLLIN, deadline, "an ARP request on the TAP");
    unsigned char frame[2048];
    ssize_t n = ::read(topo_->agent_tap_fd(), frame, sizeof frame);
    ASSERT_GT(n, 0) << std::strerror(errno);
    // Ethernet (14) + ARP: ethertype 0x0806, opcode 1 (request), target IP at 14 + 24.
    asked = n >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] == 1 &&
            std::memcmp(frame + 38, target.bytes.data(), 4) == 0;
  }
}

INSTANTIATE_TEST_SUITE_P(Sides, TapTopologyTest, ::testing::Values(Host::Server, Host::Client),
                         [](const auto& info) { return to_string(info.param); });

TEST(TapTopology, TheMiddleboxCannotBeAnAgentsSide) {
  try {
    Topology::build({.agent_side = Host::Middlebox});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("client or the server side"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tcpfault::netns
