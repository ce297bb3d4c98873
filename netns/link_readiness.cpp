#include "netns/link_readiness.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <poll.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
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

// The IPv6 multicast groups the links of one namespace have joined (/proc/net/igmp6,
// opened inside it, read afresh each time). An IPv6 address answers neighbour
// solicitations only once its link has joined the address's solicited-node group, and
// the kernel does that from a worker after the address is added, even without DAD: a
// neighbour asking before then gets no answer and asks again a second later (the first
// SYN of a connection would wait that second). The RTM_NEWADDR the worker sends when it
// is done wakes the waiter.
class Ipv6Groups {
 public:
  explicit Ipv6Groups(const Namespace& ns)
      : fd_(ns.run([] { return ::open("/proc/thread-self/net/igmp6", O_RDONLY | O_CLOEXEC); })) {
    if (!fd_.valid()) throw_errno("open /proc/net/igmp6 in namespace " + ns.name(), "is IPv6 enabled?");
  }

  // Whether `ifindex` has joined the solicited-node group of `a` (ff02::1:ffXX:XXXX).
  bool joined_solicited_node(int ifindex, const Address& a) const {
    char group[33];
    std::snprintf(group, sizeof group, "ff0200000000000000000001ff%02x%02x%02x", a.bytes[13], a.bytes[14],
                  a.bytes[15]);
    const std::string text = read();
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      int index = 0;
      char name[64], address[40];
      if (std::sscanf(text.c_str() + at, "%d %63s %39s", &index, name, address) == 3 && index == ifindex &&
          std::strcmp(address, group) == 0)
        return true;
      at = end + 1;
    }
    return false;
  }

 private:
  std::string read() const {
    std::string text;
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = ::pread(fd_.get(), buf, sizeof buf, off)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      off += n;
    }
    return text;
  }

  UniqueFd fd_;
};

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
std::string missing(const RouteSocket& sock, const Ipv6Groups& groups, const LinkExpectation& e) {
  rtnl_link* raw = nullptr;
  if (rtnl_link_get_kernel(sock.get(), 0, e.link.c_str(), &raw) < 0)
    return e.link + " does not exist in namespace " + sock.ns_name();
  NlLinkPtr link(raw);
  const unsigned flags = rtnl_link_get_flags(link.get());
  if (!(flags & IFF_UP)) return e.link + " is down";
  if (!(flags & IFF_RUNNING)) return e.link + " has no carrier yet";
  // Loopback (and a link without neighbour discovery) answers no solicitations: nothing
  // to join there.
  const bool solicited = !(flags & (IFF_LOOPBACK | IFF_NOARP));

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
    if (want.family == Family::V6 && solicited && !groups.joined_solicited_node(on_link.ifindex, want))
      return want.str() + " on " + e.link + " does not answer neighbour solicitations yet";
  }
  if (e.link_local) {
    bool ok = false;
    on_link.each([&](rtnl_addr* a) {
      nl_addr* local = rtnl_addr_get_local(a);
      if (ok || !is_link_local(local) || !usable(a)) return;
      Address addr{Family::V6, {}};
      std::memcpy(addr.bytes.data(), nl_addr_get_binary_addr(local), 16);
      ok = !solicited || groups.joined_solicited_node(on_link.ifindex, addr);
    });
    if (!ok) return e.link + " has no usable IPv6 link-local address yet";
  }
  return "";
}

}  // namespace

void wait_until_usable(const std::vector<LinkExpectation>& expected,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // One listener, one query socket and one view of the IPv6 groups per namespace, the
  // listener subscribed before the first check so that no change between check and poll
  // can be missed.
  struct Watch {
    UniqueFd listener;
    std::unique_ptr<RouteSocket> sock;
    std::unique_ptr<Ipv6Groups> groups;
  };
  std::map<const Namespace*, Watch> per_ns;
  for (const auto& e : expected)
    if (!per_ns.count(e.ns))
      per_ns.emplace(e.ns, Watch{open_change_listener(*e.ns), std::make_unique<RouteSocket>(*e.ns),
                                 std::make_unique<Ipv6Groups>(*e.ns)});

  for (;;) {
    std::string why;
    for (const auto& e : expected) {
      const Watch& w = per_ns.at(e.ns);
      why = missing(*w.sock, *w.groups, e);
      if (!why.empty()) break;
    }
    if (why.empty()) return;

    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      throw Error("topology links not usable after " + std::to_string(timeout.count()) +
                  " ms: " + why + " (is the machine overloaded? see `dmesg` for veth errors)");
    std::vector<pollfd> fds;
    for (auto& [ns, w] : per_ns) fds.push_back({w.listener.get(), POLLIN, 0});
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
