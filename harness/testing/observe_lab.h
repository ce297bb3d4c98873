// A namespace with test addresses on lo, and blocking TCP helpers with deadlines,
// shared by the observer tests (sock_diag, state tracepoint, MIB counters).
#pragma once

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstring>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "netns/address.h"
#include "netns/error.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault::observe_lab {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kDeadline{5};

// Waits for a condition that only polling can observe (sock_diag has no notification),
// with a deadline. Returns whether it became true.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline = kDeadline) {
  const auto until = Clock::now() + deadline;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Every blocking call below gives up after this: a broken test fails, it never hangs.
inline void set_io_timeouts(int fd) {
  timeval tv{static_cast<time_t>(kDeadline.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

inline void bring_up_loopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) throw_errno("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) throw_errno("SIOCSIFFLAGS lo up");
}

// RTM_NEWADDR for a host address on lo (no DAD: usable at once).
inline void add_loopback_address(const Address& a) {
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!nl.valid()) throw_errno("socket(NETLINK_ROUTE)");
  struct {
    nlmsghdr h;
    ifaddrmsg ifa;
    char attrs[64];
  } req{};
  req.h.nlmsg_type = RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.h.nlmsg_seq = 1;
  req.ifa.ifa_family = static_cast<unsigned char>(to_af(a.family));
  req.ifa.ifa_prefixlen = static_cast<unsigned char>(a.size() * 8);
  req.ifa.ifa_flags = IFA_F_NODAD | IFA_F_PERMANENT;
  req.ifa.ifa_index = ::if_nametoindex("lo");
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  for (unsigned short type : {IFA_LOCAL, IFA_ADDRESS}) {
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.h.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(a.size()));
    std::memcpy(RTA_DATA(rta), a.bytes.data(), a.size());
    req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  if (::send(nl.get(), &req, req.h.nlmsg_len, 0) < 0) throw_errno("send RTM_NEWADDR");
  char reply[1024];
  ssize_t n = ::recv(nl.get(), reply, sizeof reply, 0);
  if (n < 0) throw_errno("recv RTM_NEWADDR ack");
  auto* h = reinterpret_cast<nlmsghdr*>(reply);
  if (h->nlmsg_type == NLMSG_ERROR) {
    int err = -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    if (err != 0) throw SystemError("add address " + a.str() + " on lo", err);
  }
}

inline SockAddr local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("getsockname");
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

inline SockAddr peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("getpeername");
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

// Whether `a` is local yet: a datagram sent to it arrives. (A route to it is not
// enough: IPv6 has the prefix route at once, the local route only later.)
inline bool receives(const Address& a) {
  UniqueFd rx(::socket(to_af(a.family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  UniqueFd tx(::socket(to_af(a.family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  auto ss = SockAddr{a, 0}.to_sockaddr(len);
  if (::bind(rx.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return false;
  auto to = local_of(rx.get()).to_sockaddr(len);
  if (::sendto(tx.get(), "?", 1, 0, reinterpret_cast<sockaddr*>(&to), len) != 1) return false;
  pollfd p{rx.get(), POLLIN, 0};
  return ::poll(&p, 1, 20) == 1;
}

// A fresh namespace with lo up and `addresses` on it, ready for use. IPv6 installs the
// local route of a new address from a work queue, after RTM_NEWADDR has returned: a
// SYN sent before that meets "network unreachable".
inline netns::Namespace make_namespace(const std::string& name,
                                       const std::vector<std::string>& addresses) {
  auto ns = netns::Namespace::create(name);
  ns.run([&] {
    bring_up_loopback();
    for (const auto& a : addresses) add_loopback_address(Address::parse(a));
    for (const auto& a : addresses)
      if (!eventually([&] { return receives(Address::parse(a)); }))
        throw Error("address " + a + " never became routable in namespace " + name);
  });
  return ns;
}

inline FourTuple tuple_of(int fd) { return {local_of(fd), peer_of(fd)}; }

inline UniqueFd tcp_socket(const netns::Namespace& ns, Family f) {
  return ns.run([&] {
    UniqueFd fd(::socket(to_af(f), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw_errno("socket(SOCK_STREAM)");
    set_io_timeouts(fd.get());
    return fd;
  });
}

inline void bind_to(int fd, const SockAddr& at) {
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto ss = at.to_sockaddr(len);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) throw_errno("bind " + at.str());
}

// A listener on `at` (port 0: the kernel picks one; read it back with local_of).
inline UniqueFd tcp_listen(const netns::Namespace& ns, const SockAddr& at, int defer_accept_s = 0) {
  UniqueFd fd = tcp_socket(ns, at.addr.family);
  bind_to(fd.get(), at);
  if (defer_accept_s > 0 &&
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_accept_s, sizeof defer_accept_s) != 0)
    throw_errno("TCP_DEFER_ACCEPT");
  if (::listen(fd.get(), 16) != 0) throw_errno("listen " + at.str());
  return fd;
}

// A connected client bound to `from` (port 0: ephemeral, chosen by connect() as for
// an unbound socket, not by bind()). Blocks until established.
inline UniqueFd tcp_connect(const netns::Namespace& ns, const SockAddr& from, const SockAddr& to) {
  UniqueFd fd = tcp_socket(ns, to.addr.family);
  int one = 1;
  if (from.port == 0 &&
      ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0)
    throw_errno("IP_BIND_ADDRESS_NO_PORT");
  bind_to(fd.get(), from);
  socklen_t len = 0;
  auto ss = to.to_sockaddr(len);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw_errno("connect " + from.str() + " > " + to.str());
  return fd;
}

inline UniqueFd accept_one(int listener) {
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) throw_errno("accept");
  set_io_timeouts(fd.get());
  return fd;
}

// recv() result: bytes read, or -errno.
inline long recv_result(int fd) {
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno);
}

}  // namespace tcpfault::observe_lab
