#include "netns/router_advert.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "netns/error.h"
#include "netns/link_readiness.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

namespace {

ifreq request_for(const std::string& ifname) {
  ifreq ifr{};
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) throw Error("bad interface name '" + ifname + "'");
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
  return ifr;
}

}  // namespace

Address send_router_advert(const std::string& ifname, std::chrono::seconds lifetime) {
  const Namespace here = Namespace::of_current_thread();
  const Address source = link_local_address(here, ifname);  // throws when it has none
  UniqueFd fd(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  if (!fd.valid()) throw_errno("ICMPv6 socket for a router advertisement");
  ifreq ifr = request_for(ifname);
  if (::ioctl(fd.get(), SIOCGIFINDEX, &ifr) != 0) throw_errno("interface " + ifname);
  const int index = ifr.ifr_ifindex;
  ifr = request_for(ifname);
  if (::ioctl(fd.get(), SIOCGIFHWADDR, &ifr) != 0) throw_errno("link-layer address of " + ifname);
  unsigned char mac[6];
  std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  ifr = request_for(ifname);
  if (::ioctl(fd.get(), SIOCGIFMTU, &ifr) != 0) throw_errno("MTU of " + ifname);
  const std::uint32_t mtu = static_cast<std::uint32_t>(ifr.ifr_mtu);

  // Link-local scope, hop limit 255 (RFC 4861 6.1.2); the kernel picks the link-local
  // source address and computes the checksum.
  int hops = 255;
  if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index) != 0 ||
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0)
    throw_errno("router advertisement socket options on " + ifname);

  std::vector<std::uint8_t> ra(sizeof(nd_router_advert));
  auto* adv = reinterpret_cast<nd_router_advert*>(ra.data());
  adv->nd_ra_type = ND_ROUTER_ADVERT;
  adv->nd_ra_curhoplimit = 64;
  adv->nd_ra_router_lifetime = htons(static_cast<std::uint16_t>(std::min<std::int64_t>(lifetime.count(), 9000)));
  // Source link-layer address option (type 1, 8 bytes).
  const std::uint8_t slla[8] = {ND_OPT_SOURCE_LINKADDR, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]};
  ra.insert(ra.end(), slla, slla + 8);
  // MTU option (type 5, 8 bytes).
  std::uint8_t mtu_opt[8] = {ND_OPT_MTU, 1, 0, 0};
  const std::uint32_t mtu_be = htonl(mtu);
  std::memcpy(mtu_opt + 4, &mtu_be, 4);
  ra.insert(ra.end(), mtu_opt, mtu_opt + 8);

  sockaddr_in6 all_nodes{};
  all_nodes.sin6_family = AF_INET6;
  all_nodes.sin6_scope_id = static_cast<std::uint32_t>(index);
  ::inet_pton(AF_INET6, "ff02::1", &all_nodes.sin6_addr);
  if (::sendto(fd.get(), ra.data(), ra.size(), 0, reinterpret_cast<sockaddr*>(&all_nodes), sizeof all_nodes) !=
      static_cast<ssize_t>(ra.size()))
    throw_errno("send a router advertisement on " + ifname);
  return source;
}

}  // namespace tcpfault::netns
