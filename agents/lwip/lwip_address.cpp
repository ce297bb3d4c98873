#include "agents/lwip/lwip_address.h"

#include <cstring>

namespace tcpfault::lwip_agent {

Address address_of(const ip_addr_t& a) {
  Address out;
  if (IP_IS_V6_VAL(a)) {
    out.family = Family::V6;
    std::memcpy(out.bytes.data(), ip_2_ip6(&a)->addr, 16);
  } else {
    out.family = Family::V4;
    std::memcpy(out.bytes.data(), &ip_2_ip4(&a)->addr, 4);
  }
  return out;
}

ip_addr_t to_lwip(const Address& a) {
  ip_addr_t out;
  std::memset(&out, 0, sizeof out);
  if (a.family == Family::V6) {
    IP_SET_TYPE_VAL(out, IPADDR_TYPE_V6);
    std::memcpy(ip_2_ip6(&out)->addr, a.bytes.data(), 16);
  } else {
    IP_SET_TYPE_VAL(out, IPADDR_TYPE_V4);
    std::memcpy(&ip_2_ip4(&out)->addr, a.bytes.data(), 4);
  }
  return out;
}

SockAddr sockaddr_from(const sockaddr_storage& ss) {
  return SockAddr::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace tcpfault::lwip_agent
