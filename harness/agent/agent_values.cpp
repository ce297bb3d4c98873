#include "harness/agent/agent_values.h"

#include <string.h>

#include <charconv>
#include <stdexcept>

namespace tcpfault {

SockAddr parse_agent_sockaddr(std::string_view text) {
  auto bad = [&](const char* why) {
    return std::invalid_argument("address '" + std::string(text) + "' " + why +
                                 " (expected 198.18.2.1:8080 or [2001:2:0:2::1]:8080)");
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) throw bad("has no ']:' after the IPv6 address");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("has no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535)
    throw bad("has no valid port");
  Address addr;
  try {
    addr = Address::parse(host);
  } catch (const std::invalid_argument&) {
    throw bad("has no valid IP address");
  }
  if ((addr.family == Family::V6) != (text.front() == '['))
    throw bad(addr.family == Family::V6 ? "needs brackets around the IPv6 address" : "has brackets around an IPv4 address");
  return {addr, static_cast<std::uint16_t>(value)};
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  if (hex.size() % 2) throw std::invalid_argument("hex data of odd length " + std::to_string(hex.size()));
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("hex data with a non-hex character at " + std::to_string(2 * i));
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::optional<int> errno_from_name(std::string_view name) {
  // glibc names every errno it knows; 1..133 covers Linux's.
  for (int e = 1; e < 134; ++e)
    if (const char* n = ::strerrorname_np(e); n && name == n) return e;
  return std::nullopt;
}

std::optional<TcpState> agent_state(std::string_view name) {
  for (TcpState s : {TcpState::CLOSED, TcpState::LISTEN, TcpState::SYN_SENT, TcpState::SYN_RECV,
                     TcpState::ESTABLISHED, TcpState::FIN_WAIT1, TcpState::FIN_WAIT2, TcpState::CLOSE_WAIT,
                     TcpState::CLOSING, TcpState::LAST_ACK, TcpState::TIME_WAIT})
    if (name == to_string(s)) return s;
  return std::nullopt;
}

}  // namespace tcpfault
