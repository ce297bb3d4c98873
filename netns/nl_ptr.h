// Owning pointers for libnl objects (each type has its own release function).
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <memory>

namespace tcpfault::netns {

template <class T, void (*Release)(T*)>
struct NlRelease {
  void operator()(T* p) const {
    if (p) Release(p);
  }
};

using NlAddrPtr = std::unique_ptr<nl_addr, NlRelease<nl_addr, nl_addr_put>>;
using NlLinkPtr = std::unique_ptr<rtnl_link, NlRelease<rtnl_link, rtnl_link_put>>;
using NlIfAddrPtr = std::unique_ptr<rtnl_addr, NlRelease<rtnl_addr, rtnl_addr_put>>;
using NlRoutePtr = std::unique_ptr<rtnl_route, NlRelease<rtnl_route, rtnl_route_put>>;
using NlCachePtr = std::unique_ptr<nl_cache, NlRelease<nl_cache, nl_cache_free>>;

}  // namespace tcpfault::netns
