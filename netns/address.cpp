#include "netns/address.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace tcpfault {

int to_af(Family f) { return f == Family::V4 ? AF_INET : AF_INET6; }

std::string to_string(Family f) { return f == Family::V4 ? "IPv4" : "IPv6"; }

Address Address::parse(std::string_view text) {
  std::string s(text);
  // inet_pton reads up to a NUL: "198.18.2.1\0junk" would pass as 198.18.2.1.
  if (s.find('\0') != std::string::npos)
    throw std::invalid_argument("not an IPv4 or IPv6 address: '" + s.substr(0, s.find('\0')) + "' followed by a NUL");
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::V6;
    return a;
  }
  throw std::invalid_argument("not an IPv4 or IPv6 address: '" + s + "'");
}

Address Address::any(Family f) {
  Address a;
  a.family = f;
  return a;
}

bool Address::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i)
    if (bytes[i] != 0) return false;
  return true;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(to_af(family), bytes.data(), buf, sizeof buf);
  return buf;
}

std::string SockAddr::str() const {
  if (addr.family == Family::V6) return "[" + addr.str() + "]:" + std::to_string(port);
  return addr.str() + ":" + std::to_string(port);
}

sockaddr_storage SockAddr::to_sockaddr(socklen_t& len) const {
  sockaddr_storage ss{};
  if (addr.family == Family::V4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

SockAddr SockAddr::from_sockaddr(const sockaddr* sa) {
  SockAddr out;
  if (sa->sa_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    out.addr.family = Family::V4;
    std::memcpy(out.addr.bytes.data(), &sin->sin_addr, 4);
    out.port = ntohs(sin->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    out.addr.family = Family::V6;
    std::memcpy(out.addr.bytes.data(), &sin6->sin6_addr, 16);
    out.port = ntohs(sin6->sin6_port);
  } else {
    throw std::invalid_argument("socket address family " + std::to_string(sa->sa_family) +
                                " is neither AF_INET nor AF_INET6");
  }
  return out;
}

std::string FourTuple::str() const { return local.str() + " > " + remote.str(); }

}  // namespace tcpfault
