#include "netns/link_readiness.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "netns/error.h"
#include "netns/nl_ptr.h"
#include "netns/route_socket.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

namespace {

using Clock = std::chrono::steady_clock;

// A raw rtnetlink socket subscribed to link and address changes in one namespace; it
// only serves to wake the waiter, the state itself is re-read with a dump.
UniqueFd open_change_listener(const Namespace& ns) {
  return ns.run([&] {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    if (!fd.valid()) throw_errno("open rtnetlink listener in namespace " + ns.name());
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw_errno("subscribe to rtnetlink link/address events in namespace " + ns.name());
    return fd;
  });
}

void drain(int fd) {
  char buf[8192];
  while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

bool same_address(nl_addr* nl, const Address& a) {
  return nl && nl_addr_get_family(nl) == to_af(a.family) && nl_addr_get_len(nl) == a.size() &&
         std::memcmp(nl_addr_get_binary_addr(nl), a.bytes.data(), a.size()) == 0;
}

bool is_link_local(nl_addr* nl) {
  if (!nl || nl_addr_get_family(nl) != AF_INET6 || nl_addr_get_len(nl) != 16) return false;
  const auto* b = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(nl));
  return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

bool usable(rtnl_addr* a) { return !(rtnl_addr_get_flags(a) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)); }

// The addresses of one link as the kernel lists them now.
struct LinkAddresses {
  NlCachePtr cache;
  int ifindex = 0;

  template <class F>
  void each(F&& f) const {
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
      auto* a = reinterpret_cast<rtnl_addr*>(o);
      if (rtnl_addr_get_ifindex(a) == ifindex) f(a);
    }
  }
};

LinkAddresses addresses_of(const RouteSocket& sock, int ifindex) {
  nl_cache* cache_raw = nullptr;
  sock.check(rtnl_addr_alloc_cache(sock.get(), &cache_raw), "list addresses");
  return {NlCachePtr(cache_raw), ifindex};
}

// Empty when the expectation holds, otherwise what is still missing.
std::string missing(const RouteSocket& sock, const LinkExpectation& e) {
  rtnl_link* raw = nullptr;
  if (rtnl_link_get_kernel(sock.get(), 0, e.link.c_str(), &raw) < 0)
    return e.link + " does not exist in namespace " + sock.ns_name();
  NlLinkPtr link(raw);
  const unsigned flags = rtnl_link_get_flags(link.get());
  if (!(flags & IFF_UP)) return e.link + " is down";
  if (!(flags & IFF_RUNNING)) return e.link + " has no carrier yet";

  LinkAddresses on_link = addresses_of(sock, rtnl_link_get_ifindex(link.get()));
  for (const Address& want : e.addresses) {
    bool ok = false, seen = false;
    on_link.each([&](rtnl_addr* a) {
      if (!same_address(rtnl_addr_get_local(a), want)) return;
      seen = true;
      ok = usable(a);
    });
    if (!seen) return want.str() + " is not on " + e.link;
    if (!ok) return want.str() + " on " + e.link + " is still tentative";
  }
  if (e.link_local) {
    bool ok = false;
    on_link.each([&](rtnl_addr* a) { ok = ok || (is_link_local(rtnl_addr_get_local(a)) && usable(a)); });
    if (!ok) return e.link + " has no usable IPv6 link-local address yet";
  }
  return "";
}

}  // namespace

void wait_until_usable(const std::vector<LinkExpectation>& expected,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // One listener and one query socket per namespace, subscribed before the first check
  // so that no change between check and poll can be missed.
  std::map<const Namespace*, std::pair<UniqueFd, std::unique_ptr<RouteSocket>>> per_ns;
  for (const auto& e : expected)
    if (!per_ns.count(e.ns))
      per_ns.emplace(e.ns, std::make_pair(open_change_listener(*e.ns),
                                          std::make_unique<RouteSocket>(*e.ns)));

  for (;;) {
    std::string why;
    for (const auto& e : expected) {
      why = missing(*per_ns.at(e.ns).second, e);
      if (!why.empty()) break;
    }
    if (why.empty()) return;

    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      throw Error("topology links not usable after " + std::to_string(timeout.count()) +
                  " ms: " + why + " (is the machine overloaded? see `dmesg` for veth errors)");
    std::vector<pollfd> fds;
    for (auto& [ns, pair] : per_ns) fds.push_back({pair.first.get(), POLLIN, 0});
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) throw_errno("poll rtnetlink listeners");
    for (auto& p : fds)
      if (p.revents) drain(p.fd);
  }
}

}  // namespace tcpfault::netns

namespace tcpfault::netns {

Address link_local_address(const Namespace& ns, const std::string& link) {
  RouteSocket sock(ns);
  std::optional<Address> found;
  addresses_of(sock, sock.link_index(link)).each([&](rtnl_addr* a) {
    nl_addr* nl = rtnl_addr_get_local(a);
    if (found || !is_link_local(nl) || !usable(a)) return;
    Address addr{Family::V6, {}};
    std::memcpy(addr.bytes.data(), nl_addr_get_binary_addr(nl), 16);
    found = addr;
  });
  if (!found) throw Error(link + " in namespace " + ns.name() + " has no usable IPv6 link-local address");
  return *found;
}

}  // namespace tcpfault::netns
