// IPv6 Router Advertisements (RFC 4861 4.2), for stacks that learn their default router
// only that way (lwIP 2.1): the middlebox announces itself on the link to the stack.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "netns/address.h"

namespace tcpfault::netns {

using MacAddress = std::array<std::uint8_t, 6>;

// The ICMPv6 message: type 134, current hop limit 64, no M/O flags, `lifetime` as the
// router lifetime (seconds, at most 9000 per RFC 4861), reachable time and retransmit
// timer unspecified, and one Source Link-Layer Address option with `mac`. The checksum
// is left 0: the kernel fills it in for raw ICMPv6 sockets.
std::vector<std::uint8_t> router_advert_message(const MacAddress& mac, std::chrono::seconds lifetime);

// Sends one Router Advertisement out of `ifname` to all nodes (ff02::1), from one of the
// interface's link-local addresses that is usable now (not tentative) and with hop limit
// 255 (receivers drop anything else), in the namespace the calling thread is in. Returns
// the link-local source used: the router address receivers learn. Throws Error when the
// interface has no usable link-local address or the send fails. A link-local the kernel
// generates when the link comes up stays tentative for a second or two (duplicate
// address detection): add one with IFA_F_NODAD (netns::add_address does) to send at once.
Address send_router_advert(const std::string& ifname, std::chrono::seconds lifetime = std::chrono::seconds(9000));

}  // namespace tcpfault::netns
