#include "netns/route_socket.h"

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "netns/error.h"
#include "netns/nl_ptr.h"

namespace tcpfault::netns {

RouteSocket::RouteSocket(const Namespace& ns) : ns_name_(ns.name()) {
  sock_ = nl_socket_alloc();
  if (!sock_) throw Error("out of memory allocating a netlink socket");
  const int err = ns.run([&] { return nl_connect(sock_, NETLINK_ROUTE); });
  if (err < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    throw Error("connect rtnetlink socket in namespace " + ns_name_ + ": " + nl_geterror(err));
  }
}

RouteSocket::~RouteSocket() {
  if (sock_) nl_socket_free(sock_);  // also closes the fd
}

void RouteSocket::check(int err, const std::string& what, const std::string& hint) const {
  if (err >= 0) return;
  std::string msg = what + " in namespace " + ns_name_ + ": " + nl_geterror(err);
  if (!hint.empty()) msg += " (" + hint + ")";
  throw Error(msg);
}

int RouteSocket::link_index(const std::string& ifname) const {
  rtnl_link* raw = nullptr;
  const int err = rtnl_link_get_kernel(sock_, 0, ifname.c_str(), &raw);
  NlLinkPtr link(raw);
  check(err, "look up interface " + ifname, "was the link created in this namespace?");
  return rtnl_link_get_ifindex(link.get());
}

}  // namespace tcpfault::netns
