// Addresses and default routes on a link.
#pragma once

#include "netns/address.h"
#include "netns/route_socket.h"

namespace tcpfault::netns {

// Adds `addr/prefix_len` to interface `ifindex`. IPv6 addresses are added with
// IFA_F_NODAD so that they are usable at once instead of after duplicate detection.
void add_address(const RouteSocket& sock, int ifindex, const Address& addr, int prefix_len);

// Adds a default route (0.0.0.0/0 or ::/0) via `gateway` on interface `ifindex`. With
// `rto_min_ms` it replaces that route by one with a locked rto_min metric (what
// `ip route replace default via GW rto_min Nms` does): TCP's minimum RTO toward every
// destination of the route, on kernels before net.ipv4.tcp_rto_min_us too.
void add_default_route(const RouteSocket& sock, int ifindex, const Address& gateway, int rto_min_ms = 0);

}  // namespace tcpfault::netns
