// Where each topology's addresses come from.
//
// Slot s owns two subnets: number 2s+1 (client side) and 2s+2 (server side), counted
// in /24s from 198.18.0.0 and in /64s inside 2001:2::/48. Every host number is the
// same in both families where it can be: endpoints are .1 / ::1 and the middlebox is
// .254 / ::fe (0xfe == 254). Only 198.18.0.0/15 and 2001:2::/48 are ever produced.
#pragma once

#include <cstdint>

#include "netns/address.h"

namespace tcpfault::netns {

// 2s+2 must stay inside 198.18.0.0/15, which has 512 /24s (0 is left unused).
inline constexpr int kSlotCount = 255;

enum class Subnet { ClientSide, ServerSide };

inline constexpr std::uint16_t kEndpointHost = 1;
inline constexpr std::uint16_t kMiddleboxHost = 254;  // .254 and ::fe

int prefix_length(Family f);  // 24 or 64

// The subnet number (1-based count of /24s or /64s) a slot uses for one side.
int subnet_number(int slot, Subnet side);

// Host `host` of a slot's subnet: the last octet for IPv4 (1..254), the last 16-bit
// group for IPv6. Throws std::out_of_range for a slot or host outside the plan.
Address slot_address(int slot, Subnet side, Family f, std::uint16_t host);

}  // namespace tcpfault::netns
