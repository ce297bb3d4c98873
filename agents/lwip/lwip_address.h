// lwIP's addresses in the harness's terms (netns/address.h), so that the agent writes
// "198.18.2.1:8080" and "[2001:2:0:2::1]:8080" exactly as tcpfault does.
#pragma once

#include <sys/socket.h>

#include "agents/lwip/lwip_headers.h"
#include "netns/address.h"

namespace tcpfault::lwip_agent {

Address address_of(const ip_addr_t& a);
ip_addr_t to_lwip(const Address& a);
// A sockaddr filled by lwip_getsockname / lwip_accept (lwIP uses the system's layout).
SockAddr sockaddr_from(const sockaddr_storage& ss);

}  // namespace tcpfault::lwip_agent
