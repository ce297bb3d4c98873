// An IPv6 router advertisement from the middlebox on one link.
//
// A stack behind a TAP (docs/agent-protocol.md) may learn its IPv6 router only from an
// advertisement: one goes to all nodes (ff02::1) from the link's link-local address,
// hop limit 255, naming the sender default router with its link-layer address.
#pragma once

#include <chrono>
#include <string>

#include "netns/address.h"

namespace tcpfault::netns {

// Sends one out of `ifname`, in the namespace the calling thread is in; returns the
// link-local source (the router address receivers learn). Throws Error on failure.
Address send_router_advert(const std::string& ifname, std::chrono::seconds lifetime = std::chrono::seconds(9000));

}  // namespace tcpfault::netns
