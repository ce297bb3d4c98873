// The protocol's socket requests (listen ... sockets) on lwIP sockets. Each returns the
// reply's results, or throws ProtocolError / SocketFailure for the other two answers.
#pragma once

#include "agents/lwip/handle_table.h"
#include "agents/lwip/ipv6_router.h"
#include "agents/lwip/json_lines.h"
#include "agents/lwip/state_events.h"

namespace tcpfault::lwip_agent {

// The most bytes one recv returns: its hex must fit the 1 MiB line with room to spare.
inline constexpr std::size_t kMaxRecv = 256 * 1024;

class SocketCommands {
 public:
  SocketCommands(StateScanner& scanner, Ipv6RouterWatch& router) : scanner_(scanner), router_(router) {}

  Json listen(const Json& req);
  Json accept(const Json& req);
  Json connect(const Json& req);
  Json send(const Json& req);
  Json recv(const Json& req);
  Json shutdown(const Json& req);
  Json close(const Json& req);
  Json setsockopt(const Json& req);
  Json getsockopt(const Json& req);
  Json sockets(const Json& req);

  // Called with hello's IPv6 prefix: a connect outside it needs the router.
  void set_ipv6_subnet(const Address& address, int prefix);

 private:
  StateScanner& scanner_;
  Ipv6RouterWatch& router_;
  HandleTable table_;
  std::optional<std::pair<Address, int>> ipv6_subnet_;
};

}  // namespace tcpfault::lwip_agent
