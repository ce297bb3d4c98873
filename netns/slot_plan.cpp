#include "netns/slot_plan.h"

#include <stdexcept>
#include <string>

namespace tcpfault::netns {

int prefix_length(Family f) { return f == Family::V4 ? 24 : 64; }

int subnet_number(int slot, Subnet side) {
  if (slot < 0 || slot >= kSlotCount)
    throw std::out_of_range("topology slot " + std::to_string(slot) + " is outside 0.." +
                            std::to_string(kSlotCount - 1));
  return 2 * slot + (side == Subnet::ClientSide ? 1 : 2);
}

Address slot_address(int slot, Subnet side, Family f, std::uint16_t host) {
  const int subnet = subnet_number(slot, side);
  Address a;
  a.family = f;
  if (f == Family::V4) {
    if (host == 0 || host > 254)
      throw std::out_of_range("IPv4 host number " + std::to_string(host) +
                              " is not usable in a /24 (1..254)");
    // 198.18.0.0 + subnet * 256: the third octet wraps into 198.19.x.x.
    a.bytes[0] = 198;
    a.bytes[1] = static_cast<std::uint8_t>(18 + subnet / 256);
    a.bytes[2] = static_cast<std::uint8_t>(subnet % 256);
    a.bytes[3] = static_cast<std::uint8_t>(host);
  } else {
    if (host == 0)
      throw std::out_of_range("IPv6 host number 0 is the subnet-router anycast address");
    // 2001:2:0:<subnet>::<host>
    a.bytes[0] = 0x20;
    a.bytes[1] = 0x01;
    a.bytes[3] = 0x02;
    a.bytes[6] = static_cast<std::uint8_t>(subnet >> 8);
    a.bytes[7] = static_cast<std::uint8_t>(subnet & 0xff);
    a.bytes[14] = static_cast<std::uint8_t>(host >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(host & 0xff);
  }
  return a;
}

}  // namespace tcpfault::netns
