// Links: veth pairs across namespaces, and bringing a link up.
#pragma once

#include <string>

#include "netns/namespace.h"
#include "netns/route_socket.h"

namespace tcpfault::netns {

// Creates `name` (up) in the namespace of `sock` and its peer `peer_name` directly
// inside `peer_ns` (by fd: the peer never appears in any other namespace). The peer is
// still down: bring it up with set_link_up through a socket of `peer_ns`.
void create_veth_pair(const RouteSocket& sock, const std::string& name, const Namespace& peer_ns,
                      const std::string& peer_name);

// Sets IFF_UP on an existing link (e.g. "lo").
void set_link_up(const RouteSocket& sock, const std::string& name);

}  // namespace tcpfault::netns
