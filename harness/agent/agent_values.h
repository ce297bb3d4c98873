// How the agent protocol writes values (docs/agent-protocol.md): addresses
// "198.18.2.1:8080" and "[2001:2:0:2::1]:8080", bytes as lowercase hex, errnos by their
// Linux names, states by RFC 9293's names as Linux spells them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/tcp_state.h"
#include "netns/address.h"

namespace tcpfault {

// Throws std::invalid_argument saying what is wrong.
SockAddr parse_agent_sockaddr(std::string_view text);
std::string to_hex(std::string_view bytes);
std::string from_hex(std::string_view hex);  // throws std::invalid_argument
// "ECONNRESET" -> ECONNRESET; nullopt for a name Linux does not have.
std::optional<int> errno_from_name(std::string_view name);
// The protocol's state names ("SYN_RECV" ...); nullopt for any other.
std::optional<TcpState> agent_state(std::string_view name);

}  // namespace tcpfault
