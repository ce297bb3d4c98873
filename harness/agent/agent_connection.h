// An agent's connections and listeners: each call is one request to the agent
// (docs/agent-protocol.md), recorded in the trace like a kernel socket's call.
// Used by harness/agent/agent_endpoint.cpp; cases see them as Connection and Listener.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "harness/agent/agent_client.h"
#include "harness/endpoints/endpoint.h"
#include "harness/endpoints/socket_registry.h"

namespace tcpfault {

// What every socket of one agent endpoint shares.
struct AgentContext {
  std::shared_ptr<AgentClient> client;
  std::shared_ptr<Trace> trace;
  std::shared_ptr<SocketRegistry> made;
  Host host = Host::Server;
  std::set<std::string> features;  // from the hello reply

  // The side label NotApplicable messages start with: "server: the lwip target".
  const std::string& label() const { return client->side_label(); }
  // Fields of a reply; a missing or malformed one is a target failure (garbage).
  int errno_of(const Json& reply, const std::string& cmd) const;
  SockAddr addr_of(const Json& reply, const char* field, const std::string& cmd) const;
  std::int64_t handle_of(const Json& reply, const char* field, const std::string& cmd) const;
};

// `handle` is empty for a connect() that failed before the agent made a connection.
std::shared_ptr<ConnectionImpl> make_agent_connection(const AgentContext& ctx, std::optional<std::int64_t> handle,
                                                      FourTuple tuple, CallResult connect);
std::shared_ptr<ListenerImpl> make_agent_listener(const AgentContext& ctx, std::int64_t handle, SockAddr local);

}  // namespace tcpfault
