#include "netns/router_advert.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "netns/error.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {
namespace {

constexpr std::uint8_t kRouterAdvertType = 134;
constexpr std::uint8_t kSourceLinkLayerOption = 1;
constexpr int kNdHopLimit = 255;

MacAddress mac_of(int fd, const std::string& ifname) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) throw_errno("read the MAC address of " + ifname);
  MacAddress mac;
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// The interface's link-local addresses.
std::vector<in6_addr> link_locals_of(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw_errno("list the addresses of " + ifname);
  std::vector<in6_addr> out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6 || ifname != a->ifa_name) continue;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) out.push_back(sin6->sin6_addr);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

std::vector<std::uint8_t> router_advert_message(const MacAddress& mac, std::chrono::seconds lifetime) {
  const auto life = static_cast<std::uint16_t>(std::clamp<long long>(lifetime.count(), 0, 0xffff));
  std::vector<std::uint8_t> m(16 + 8, 0);
  m[0] = kRouterAdvertType;  // code and checksum stay 0
  m[4] = 64;                 // current hop limit
  m[6] = static_cast<std::uint8_t>(life >> 8);
  m[7] = static_cast<std::uint8_t>(life);
  // reachable time (8..11) and retransmit timer (12..15): 0, unspecified
  m[16] = kSourceLinkLayerOption;
  m[17] = 1;  // length in units of 8 bytes
  std::copy(mac.begin(), mac.end(), m.begin() + 18);
  return m;
}

Address send_router_advert(const std::string& ifname, std::chrono::seconds lifetime) {
  const unsigned ifindex = ::if_nametoindex(ifname.c_str());
  if (ifindex == 0) throw_errno("find interface " + ifname + " to send a router advertisement on");
  UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!fd.valid()) throw_errno("open a raw ICMPv6 socket", "router advertisements need root (CAP_NET_RAW)");

  // The first link-local address the socket can be bound to: a tentative one (duplicate
  // address detection still running) cannot.
  const std::vector<in6_addr> candidates = link_locals_of(ifname);
  if (candidates.empty())
    throw Error(ifname + " has no IPv6 link-local address to send a router advertisement from "
                         "(is IPv6 disabled on it, or its address generation off?)");
  sockaddr_in6 src{};
  src.sin6_family = AF_INET6;
  src.sin6_scope_id = ifindex;
  bool bound = false;
  for (const in6_addr& a : candidates) {
    src.sin6_addr = a;
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&src), sizeof src) == 0) {
      bound = true;
      break;
    }
  }
  if (!bound)
    throw_errno("use a link-local address of " + ifname + " as the router advertisement's source",
                "they are all still tentative: add one with nodad, or wait for duplicate address detection");
  const int hops = kNdHopLimit;
  if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0)
    throw_errno("set up the router advertisement socket on " + ifname);

  const std::vector<std::uint8_t> message = router_advert_message(mac_of(fd.get(), ifname), lifetime);
  sockaddr_in6 all_nodes{};
  all_nodes.sin6_family = AF_INET6;
  all_nodes.sin6_scope_id = ifindex;
  ::inet_pton(AF_INET6, "ff02::1", &all_nodes.sin6_addr);
  if (::sendto(fd.get(), message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&all_nodes),
               sizeof all_nodes) != static_cast<ssize_t>(message.size()))
    throw_errno("send a router advertisement on " + ifname);

  Address source;
  source.family = Family::V6;
  std::memcpy(source.bytes.data(), &src.sin6_addr, 16);
  return source;
}

}  // namespace tcpfault::netns
