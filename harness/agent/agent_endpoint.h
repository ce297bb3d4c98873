// The endpoint of a side run by an agent (docs/agent-protocol.md): listen and connect
// are requests to the agent, and so is every call on the sockets they make
// (harness/agent/agent_connection.h). What the protocol cannot do throws NotApplicable.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "harness/agent/agent_client.h"
#include "harness/endpoints/endpoint.h"

namespace tcpfault {

struct SocketRegistry;

class AgentEndpoint : public Endpoint {
 public:
  // `target` names it in reports ("lwip"); `features` are the hello reply's.
  AgentEndpoint(Host host, Address address, Address peer, std::string target, std::shared_ptr<Trace> trace,
                std::shared_ptr<AgentClient> client, std::set<std::string> features);

  std::string target() const override { return target_; }
  Listener listen(const SockAddr& at, int backlog = 128) override;
  Connection connect(const SockAddr& to, const ConnectOptions& options = {}) override;
  void close_all(const std::string& why) override;

 private:
  std::string target_;
  std::shared_ptr<Trace> trace_;
  std::shared_ptr<AgentClient> client_;
  std::set<std::string> features_;
  std::shared_ptr<SocketRegistry> made_;
};

}  // namespace tcpfault
