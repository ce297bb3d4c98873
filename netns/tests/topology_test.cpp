#include "netns/topology.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <set>
#include <stdexcept>

#include "netns/slot_plan.h"
#include "netns/sysctl/sysctl.h"
#include "netns/tests/test_support.h"

namespace tcpfault::netns {
namespace {

using testing::read_host_file;
using testing::tcp_roundtrip;

class TopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TCPFAULT_REQUIRE_ROOT();
    topo_ = Topology::build();
  }
  const Topology& topo() const { return *topo_; }
  std::unique_ptr<Topology> topo_;
};

TEST_F(TopologyTest, TcpConnectsThroughTheMiddleboxOverIPv4) {
  const long forwarded = testing::snmp_counter(topo().middlebox(), "Ip", "ForwDatagrams");
  const SockAddr seen = tcp_roundtrip(topo(), Family::V4);
  EXPECT_EQ(seen.addr, topo().client_addr(Family::V4));  // routed, not translated
  // SYN, SYN-ACK, ACK and two data segments at least, each forwarded once.
  EXPECT_GE(testing::snmp_counter(topo().middlebox(), "Ip", "ForwDatagrams") - forwarded, 5);
}

TEST_F(TopologyTest, TcpConnectsThroughTheMiddleboxOverIPv6WithoutWaitingForDad) {
  const long forwarded = testing::snmp_counter(topo().middlebox(), "Ip6", "Ip6OutForwDatagrams");
  // Right after build(): a tentative address would fail bind(), pending neighbour
  // discovery would blow the short deadline.
  const SockAddr seen = tcp_roundtrip(topo(), Family::V6, std::chrono::milliseconds(1500));
  EXPECT_EQ(seen.addr, topo().client_addr(Family::V6));
  EXPECT_GE(testing::snmp_counter(topo().middlebox(), "Ip6", "Ip6OutForwDatagrams") - forwarded, 5);
}

TEST_F(TopologyTest, AddressesFollowTheSlotPlan) {
  const int s = topo().slot();
  for (Family f : {Family::V4, Family::V6}) {
    EXPECT_EQ(topo().client_addr(f), slot_address(s, Subnet::ClientSide, f, kEndpointHost));
    EXPECT_EQ(topo().server_addr(f), slot_address(s, Subnet::ServerSide, f, kEndpointHost));
    EXPECT_EQ(topo().middlebox_addr(Host::Client, f),
              slot_address(s, Subnet::ClientSide, f, kMiddleboxHost));
    EXPECT_EQ(topo().middlebox_addr(Host::Server, f),
              slot_address(s, Subnet::ServerSide, f, kMiddleboxHost));
  }
  EXPECT_EQ(topo().unused_client_addr(Family::V4, 1),
            slot_address(s, Subnet::ClientSide, Family::V4, 101));
  EXPECT_EQ(topo().unused_client_addr(Family::V6, 1),
            slot_address(s, Subnet::ClientSide, Family::V6, 0x101));
  EXPECT_THROW(topo().unused_client_addr(Family::V4, 0), std::out_of_range);
  EXPECT_THROW(topo().unused_client_addr(Family::V4, 154), std::out_of_range);
  EXPECT_THROW(topo().middlebox_addr(Host::Middlebox, Family::V4), std::invalid_argument);
}

TEST_F(TopologyTest, SysctlsAreSetWhereTheDesignSays) {
  const Namespace& mb = topo().middlebox();
  EXPECT_EQ(read_sysctl(mb, "net.ipv4.ip_forward"), "1");
  EXPECT_EQ(read_sysctl(mb, "net.ipv6.conf.all.forwarding"), "1");
  EXPECT_EQ(read_sysctl(topo().client(), "net.ipv4.ip_forward"), "0");
  EXPECT_EQ(read_sysctl(topo().server(), "net.ipv4.ip_forward"), "0");
  const std::pair<Host, Host> links[] = {{Host::Client, Host::Middlebox},
                                         {Host::Middlebox, Host::Client},
                                         {Host::Middlebox, Host::Server},
                                         {Host::Server, Host::Middlebox}};
  for (auto [h, facing] : links) {
    const Namespace& ns = topo().ns(h);
    const std::string ifname = interface_name(h, facing);
    for (const std::string& conf : {std::string("all"), std::string("default"), ifname}) {
      EXPECT_EQ(read_sysctl(ns, "net.ipv4.conf." + conf + ".rp_filter"), "0") << conf;
      EXPECT_EQ(read_sysctl(ns, "net.ipv6.conf." + conf + ".accept_dad"), "0") << conf;
    }
  }
}

TEST_F(TopologyTest, InterfaceNamesAreTheDocumentedOnes) {
  EXPECT_EQ(interface_name(Host::Client), "c0");
  EXPECT_EQ(interface_name(Host::Middlebox, Host::Client), "m0");
  EXPECT_EQ(interface_name(Host::Middlebox, Host::Server), "m1");
  EXPECT_EQ(interface_name(Host::Server), "s0");
  EXPECT_THROW(interface_name(Host::Middlebox, Host::Middlebox), std::invalid_argument);
  EXPECT_EQ(to_string(Host::Middlebox), "middlebox");
}

TEST(TopologyPair, TwoLiveTopologiesGetDifferentSlotsAndAddresses) {
  TCPFAULT_REQUIRE_ROOT();
  auto a = Topology::build();
  auto b = Topology::build();
  EXPECT_NE(a->slot(), b->slot());
  std::set<Address> all;
  for (const Topology* t : {a.get(), b.get()})
    for (Family f : {Family::V4, Family::V6})
      for (const Address& x : {t->client_addr(f), t->server_addr(f),
                               t->middlebox_addr(Host::Client, f),
                               t->middlebox_addr(Host::Server, f)})
        EXPECT_TRUE(all.insert(x).second) << x.str() << " is used twice";
  EXPECT_NE(a->client().inode(), b->client().inode());
  tcp_roundtrip(*a, Family::V4);
  tcp_roundtrip(*b, Family::V6);
}

// The host's links, routes and the sysctls the builder writes in its namespaces.
std::string host_snapshot() {
  std::string out;
  if (struct if_nameindex* names = if_nameindex()) {
    for (auto* n = names; n->if_index; ++n) out += std::string(n->if_name) + " ";
    if_freenameindex(names);
  }
  for (const char* path : {"/proc/net/route", "/proc/net/ipv6_route",
                           "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding",
                           "/proc/sys/net/ipv4/conf/all/rp_filter",
                           "/proc/sys/net/ipv4/conf/default/rp_filter",
                           "/proc/sys/net/ipv6/conf/all/accept_dad",
                           "/proc/sys/net/ipv6/conf/default/accept_dad"})
    out += std::string("\n") + path + ":\n" + read_host_file(path);
  return out;
}

TEST(TopologyHost, BuildingAndDestroyingLeavesTheHostAsItWas) {
  TCPFAULT_REQUIRE_ROOT();
  const std::string before = host_snapshot();
  {
    auto t = Topology::build();
    EXPECT_EQ(host_snapshot(), before);
  }
  EXPECT_EQ(host_snapshot(), before);
}

}  // namespace
}  // namespace tcpfault::netns
