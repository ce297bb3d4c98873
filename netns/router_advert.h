// An IPv6 router advertisement from the middlebox on one link.
//
// A stack behind a TAP (docs/agent-protocol.md) may learn its IPv6 router only from an
// advertisement: the middlebox sends one to all nodes (ff02::1) from its link-local
// address, naming itself default router with its link-layer address and the link's MTU.
#pragma once

#include <string>

#include "netns/namespace.h"

namespace tcpfault::netns {

void send_router_advertisement(const Namespace& middlebox, const std::string& ifname);

}  // namespace tcpfault::netns
