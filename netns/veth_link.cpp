#include "netns/veth_link.h"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "netns/error.h"
#include "netns/nl_ptr.h"

namespace tcpfault::netns {

void create_veth_pair(const RouteSocket& sock, const std::string& name, const Namespace& peer_ns,
                      const std::string& peer_name) {
  NlLinkPtr link(rtnl_link_veth_alloc());
  if (!link) throw Error("out of memory allocating veth " + name);
  // The peer object belongs to `link`; this reference is only for the setters.
  NlLinkPtr peer(rtnl_link_veth_get_peer(link.get()));

  rtnl_link_set_name(link.get(), name.c_str());
  rtnl_link_set_flags(link.get(), IFF_UP);
  // No IFF_UP on the peer: the kernel opens it before the two ends are joined and
  // refuses with ENOTCONN. It is brought up from its own namespace afterwards.
  rtnl_link_set_name(peer.get(), peer_name.c_str());
  rtnl_link_set_ns_fd(peer.get(), peer_ns.fd());

  sock.check(rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL),
             "create veth pair " + name + " <-> " + peer_name + " (peer in namespace " +
                 peer_ns.name() + ")",
             "the kernel needs veth support (CONFIG_VETH, `modprobe veth`) and the process "
             "CAP_NET_ADMIN");
}

void set_link_up(const RouteSocket& sock, const std::string& name) {
  // RTM_NEWLINK on the existing index changes only the flags set in `change`.
  NlLinkPtr current(rtnl_link_alloc());
  NlLinkPtr change(rtnl_link_alloc());
  if (!current || !change) throw Error("out of memory allocating link " + name);
  rtnl_link_set_ifindex(current.get(), sock.link_index(name));
  rtnl_link_set_flags(change.get(), IFF_UP);
  sock.check(rtnl_link_change(sock.get(), current.get(), change.get(), 0), "bring up " + name);
}

}  // namespace tcpfault::netns
