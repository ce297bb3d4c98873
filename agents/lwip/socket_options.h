// The protocol's socket options on lwIP sockets: linger, keepalive, nodelay.
//
// sndbuf and rcvbuf are not offered: lwIP's send buffer and receive window are fixed
// when it is built (TCP_SND_BUF, TCP_WND), and its SO_RCVBUF does not limit a TCP
// socket, so setting them could not do what a case means by it.
#pragma once

#include <string>
#include <vector>

#include "agents/lwip/handle_table.h"
#include "agents/lwip/json_lines.h"

namespace tcpfault::lwip_agent {

// The options named in hello's features.
const std::vector<std::string>& supported_options();

// Throw ProtocolError (unsupported, bad_request) or SocketFailure.
void set_option(AgentSocket& s, const std::string& option, const Json& value);
Json get_option(AgentSocket& s, const std::string& option);

// The linger time set on the socket (-1: off), to know whether close() must block.
int linger_seconds(AgentSocket& s);

}  // namespace tcpfault::lwip_agent
