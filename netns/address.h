// IP addresses and socket addresses shared by every layer (IPv4 and IPv6).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace tcpfault {

enum class Family { V4 = 4, V6 = 6 };

int to_af(Family f);            // AF_INET / AF_INET6
std::string to_string(Family f);  // "IPv4" / "IPv6"
// So test frameworks print "IPv4" rather than the enum's bytes.
inline void PrintTo(Family f, std::ostream* os) { *os << to_string(f); }

// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of `bytes`.
struct Address {
  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};

  static Address parse(std::string_view text);  // throws std::invalid_argument
  static Address any(Family f);
  std::size_t size() const { return family == Family::V4 ? 4 : 16; }
  bool is_unspecified() const;
  std::string str() const;
  auto operator<=>(const Address&) const = default;
};

// An address with a port: one end of a TCP connection.
struct SockAddr {
  Address addr;
  std::uint16_t port = 0;

  std::string str() const;  // "198.18.1.1:8080" or "[2001:2:0:1::1]:8080"
  sockaddr_storage to_sockaddr(socklen_t& len) const;
  static SockAddr from_sockaddr(const sockaddr* sa);
  auto operator<=>(const SockAddr&) const = default;
};

// A connection as seen from one end: local and remote.
struct FourTuple {
  SockAddr local;
  SockAddr remote;

  FourTuple reversed() const { return {remote, local}; }
  std::string str() const;  // "local > remote"
  auto operator<=>(const FourTuple&) const = default;
};

}  // namespace tcpfault
