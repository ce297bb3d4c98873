// The protocol's socket requests (listen ... sockets) on lwIP sockets.
//
// Each request is admitted on the reading thread, in arrival order: its arguments are
// checked (ProtocolError at once) and the sockets it names are taken into use. What it
// returns is the job that does the call, on a thread of its own: it returns the reply's
// results, or throws SocketFailure (an errno reply) or ProtocolError.
#pragma once

#include <functional>

#include "agents/lwip/handle_table.h"
#include "agents/lwip/ipv6_router.h"
#include "agents/lwip/json_lines.h"
#include "agents/lwip/stack_sysctls.h"
#include "agents/lwip/state_events.h"

namespace tcpfault::lwip_agent {

// The most bytes one recv returns: its hex must fit the 1 MiB line with room to spare.
inline constexpr std::size_t kMaxRecv = 256 * 1024;

class SocketCommands {
 public:
  // `sysctls` gives every connect's socket its keepalive defaults.
  SocketCommands(StateScanner& scanner, Ipv6RouterWatch& router, const StackSysctls& sysctls)
      : scanner_(scanner), router_(router), sysctls_(sysctls) {}

  using Job = std::function<Json()>;
  Job listen(const Json& req);
  Job accept(const Json& req);
  Job connect(const Json& req);
  Job send(const Json& req);
  Job recv(const Json& req);
  Job shutdown(const Json& req);
  Job close(const Json& req);
  Job setsockopt(const Json& req);
  Job getsockopt(const Json& req);
  Job sockets(const Json& req);

  // A keepalive default changed: every connection with a handle takes it where it set
  // nothing of its own (a connection still waiting to be accepted takes it at accept).
  void keepalive_defaults_changed();

  // hello's addresses: the local end of a connect, and (IPv6) the subnet outside which
  // a connect needs the router.
  void set_addresses(std::optional<Address> ipv4, std::optional<std::pair<Address, int>> ipv6);

 private:
  StateScanner& scanner_;
  // Whether a connect() lwIP failed with ECONNRESET had completed its handshake first.
  bool reset_after_handshake(const FourTuple& attempt);
  Ipv6RouterWatch& router_;
  const StackSysctls& sysctls_;
  HandleTable table_;
  std::optional<Address> own_address(Family f) const;
  std::optional<Address> ipv4_;
  std::optional<std::pair<Address, int>> ipv6_subnet_;
};

}  // namespace tcpfault::lwip_agent
