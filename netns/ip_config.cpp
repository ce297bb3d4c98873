#include "netns/ip_config.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include <array>

#include "netns/error.h"
#include "netns/nl_ptr.h"

namespace tcpfault::netns {

namespace {

NlAddrPtr to_nl_addr(const Address& a, int prefix_len) {
  NlAddrPtr out(nl_addr_build(to_af(a.family), a.bytes.data(), a.size()));
  if (!out) throw Error("out of memory building netlink address " + a.str());
  nl_addr_set_prefixlen(out.get(), prefix_len);
  return out;
}

}  // namespace

void add_address(const RouteSocket& sock, int ifindex, const Address& addr, int prefix_len) {
  NlIfAddrPtr ifaddr(rtnl_addr_alloc());
  if (!ifaddr) throw Error("out of memory allocating address " + addr.str());
  NlAddrPtr local = to_nl_addr(addr, prefix_len);
  rtnl_addr_set_ifindex(ifaddr.get(), ifindex);
  rtnl_addr_set_family(ifaddr.get(), to_af(addr.family));
  sock.check(rtnl_addr_set_local(ifaddr.get(), local.get()), "set address " + addr.str());
  rtnl_addr_set_prefixlen(ifaddr.get(), prefix_len);
  if (addr.family == Family::V6) rtnl_addr_set_flags(ifaddr.get(), IFA_F_NODAD);
  sock.check(rtnl_addr_add(sock.get(), ifaddr.get(), NLM_F_CREATE | NLM_F_EXCL),
             "add address " + addr.str() + "/" + std::to_string(prefix_len) + " to ifindex " +
                 std::to_string(ifindex));
}

void add_default_route(const RouteSocket& sock, int ifindex, const Address& gateway, int rto_min_ms) {
  NlRoutePtr route(rtnl_route_alloc());
  if (!route) throw Error("out of memory allocating a route");
  const int af = to_af(gateway.family);
  NlAddrPtr any = to_nl_addr(Address::any(gateway.family), 0);
  NlAddrPtr via = to_nl_addr(gateway, gateway.family == Family::V4 ? 32 : 128);

  rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(af));
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  sock.check(rtnl_route_set_dst(route.get(), any.get()), "set default route destination");

  rtnl_nexthop* nh = rtnl_route_nh_alloc();  // owned by the route once added to it
  if (!nh) throw Error("out of memory allocating a next hop");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_nh_set_gateway(nh, via.get());
  rtnl_route_add_nexthop(route.get(), nh);
  if (rto_min_ms > 0) {
    // tcp_rto_min() reads the metric only when it is locked.
    sock.check(rtnl_route_set_metric(route.get(), RTAX_RTO_MIN, static_cast<unsigned>(rto_min_ms)),
               "set the route's rto_min");
    sock.check(rtnl_route_set_metric(route.get(), RTAX_LOCK, 1u << RTAX_RTO_MIN), "lock the route's rto_min");
  }

  const int flags = rto_min_ms > 0 ? NLM_F_CREATE | NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL;
  sock.check(rtnl_route_add(sock.get(), route.get(), flags),
             "add " + to_string(gateway.family) + " default route via " + gateway.str(),
             "the gateway must be on a subnet of an address already on the link, and the "
             "link must be up");
}

}  // namespace tcpfault::netns
