#include "harness/tcp_state.h"

#include <array>
#include <cctype>
#include <utility>

namespace tcpfault {

namespace {

// Indexed by the kernel's number; 0 is unused.
constexpr std::array<std::string_view, 13> kNames = {
    "",          "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
    "CLOSED",    "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
};

// Spellings other tools use, after upper-casing and turning '-' into '_'.
constexpr std::array<std::pair<std::string_view, TcpState>, 8> kAliases = {{
    {"CLOSE", TcpState::CLOSED},            // the kernel's TCP_CLOSE
    {"UNCONN", TcpState::CLOSED},           // ss
    {"ESTAB", TcpState::ESTABLISHED},       // ss
    {"FIN_WAIT_1", TcpState::FIN_WAIT1},    // ss, RFC 9293
    {"FIN_WAIT_2", TcpState::FIN_WAIT2},    // ss, RFC 9293
    {"SYN_RECEIVED", TcpState::SYN_RECV},   // RFC 9293
    {"NEW_SYN_RECV", TcpState::NEW_SYN_RECV},
    {"TIMEWAIT", TcpState::TIME_WAIT},
}};

std::string normalise(std::string_view name) {
  std::string s;
  s.reserve(name.size());
  for (char c : name) s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.starts_with("TCP_")) s.erase(0, 4);
  return s;
}

}  // namespace

std::string to_string(TcpState s) {
  auto i = static_cast<std::size_t>(s);
  if (i == 0 || i >= kNames.size()) return "TCP_STATE_" + std::to_string(i);
  return std::string(kNames[i]);
}

std::optional<TcpState> state_from_name(std::string_view name) {
  const std::string key = normalise(name);
  for (std::size_t i = 1; i < kNames.size(); ++i)
    if (kNames[i] == key) return static_cast<TcpState>(i);
  for (const auto& [alias, state] : kAliases)
    if (alias == key) return state;
  return std::nullopt;
}

}  // namespace tcpfault
