#include "netns/router_advert.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <sys/ioctl.h>

#include "netns/error.h"
#include "netns/ip_config.h"
#include "netns/route_socket.h"
#include "netns/tests/test_support.h"
#include "netns/topology.h"

namespace tcpfault::netns {
namespace {

using testing::Clock;

TEST(RouterAdvert, MessageLayout) {
  const MacAddress mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  const auto m = router_advert_message(mac, std::chrono::seconds(1800));
  ASSERT_EQ(m.size(), 24u);
  EXPECT_EQ(m[0], 134);           // Router Advertisement
  EXPECT_EQ(m[1], 0);             // code
  EXPECT_EQ(m[4], 64);            // current hop limit
  EXPECT_EQ(m[5], 0);             // no M/O flags
  EXPECT_EQ(m[6] << 8 | m[7], 1800);  // router lifetime
  EXPECT_EQ(m[16], 1);            // source link-layer address option
  EXPECT_EQ(m[17], 1);            // 8 bytes
  EXPECT_TRUE(std::equal(mac.begin(), mac.end(), m.begin() + 18));
}

// What the harness does on the middlebox: m1 announces itself to the server's link.
// The server side receives it from m1's link-local address with hop limit 255 and
// m1's MAC in the option, as RFC 4861 6.1.2 receivers require. m1's generated
// link-local is still tentative right after build() (the send would fail), so a
// link-local is added without duplicate address detection.
TEST(RouterAdvert, ArrivesFromTheLinkLocalAddressWithHopLimit255) {
  TCPFAULT_REQUIRE_ROOT();
  auto t = Topology::build();
  const std::string m1 = interface_name(Host::Middlebox, Host::Server);
  const Address router = Address::parse("fe80::fe");
  {
    RouteSocket rs(t->middlebox());
    add_address(rs, rs.link_index(m1), router, 64);
  }
  UniqueFd rx = t->server().run([&] {
    UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6));
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
    ::setsockopt(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    const int on = 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
    return fd;
  });
  MacAddress m1_mac{};
  const Address source = t->middlebox().run([&] {
    UniqueFd s(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, m1.c_str(), IFNAMSIZ - 1);
    EXPECT_EQ(::ioctl(s.get(), SIOCGIFHWADDR, &ifr), 0);
    std::memcpy(m1_mac.data(), ifr.ifr_hwaddr.sa_data, 6);
    return send_router_advert(m1, std::chrono::seconds(600));
  });
  // fe80::fe, unless m1's own link-local finished duplicate address detection first.
  EXPECT_EQ(source.str().rfind("fe80::", 0), 0u) << source.str();

  testing::wait_for(rx.get(), POLLIN, Clock::now() + std::chrono::seconds(3), "the router advertisement");
  unsigned char buf[512];
  unsigned char control[256];
  sockaddr_in6 from{};
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(rx.get(), &msg, 0);
  ASSERT_EQ(n, 24);
  EXPECT_EQ(buf[0], 134);
  EXPECT_EQ(buf[6] << 8 | buf[7], 600);
  EXPECT_TRUE(std::equal(m1_mac.begin(), m1_mac.end(), buf + 18));
  Address got;
  got.family = Family::V6;
  std::memcpy(got.bytes.data(), &from.sin6_addr, 16);
  EXPECT_EQ(got, source);
  int hop_limit = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) std::memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
  EXPECT_EQ(hop_limit, 255);
}

TEST(RouterAdvert, MissingInterfaceIsAClearError) {
  TCPFAULT_REQUIRE_ROOT();
  const Namespace ns = Namespace::create("router-advert-test");
  try {
    ns.run([] { send_router_advert("nope0"); });
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tcpfault::netns
