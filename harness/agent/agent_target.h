// A scenario's agent (docs/agent-protocol.md), from start to goodbye: the process in
// the side's namespace with the TAP's fd, the hello that brings its stack up with the
// side's addresses, its endpoint, and where its states come from.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "harness/agent/agent_client.h"
#include "harness/agent/agent_counters.h"
#include "harness/agent/agent_endpoint.h"
#include "harness/agent/agent_states.h"
#include "harness/agent/agent_sysctls.h"
#include "harness/endpoints/target.h"
#include "harness/trace/trace.h"
#include "netns/topology.h"

namespace tcpfault {

class AgentTarget {
 public:
  // Starts the agent on the topology's agent side and says hello (5 s). Throws
  // TargetFailure when the agent fails to start or answer, Error for a bad setup.
  // `log_path` receives its stderr.
  AgentTarget(const Target& target, const netns::Topology& topology, std::shared_ptr<Trace> trace,
              const std::string& log_path);
  ~AgentTarget();  // kills the agent if stop() was not called

  Host side() const { return target_.side; }
  const Target& target() const { return target_; }
  // The endpoint for this side in `family` (the agent's stack has both).
  std::unique_ptr<AgentEndpoint> make_endpoint(Family family) const;
  AgentStates& states() { return *states_; }
  AgentClient& client() { return *client_; }
  const std::string& agent_name() const { return agent_name_; }  // the hello reply's "agent"
  const std::set<std::string>& features() const { return features_; }
  // The Linux sysctls the stack has a knob for (hello's "sysctls"; none when it said nothing).
  AgentSysctls& sysctls() { return *sysctls_; }
  const AgentSysctls& sysctls() const { return *sysctls_; }
  // The Linux counters the stack counts too (hello's "counters"; none when it said nothing).
  const AgentCounters& counters() const { return *counters_; }

  // The scenario ends: the inferred states go into the trace, then goodbye.
  void stop(const std::string& why);
  // Returns once every event the agent sent before this call was handled (a `sockets`
  // round trip: events and replies come in order).
  void catch_up();

 private:
  void hello(const netns::Topology& topology);
  // The agent's stack's own state of `s` (its `sockets` reply), nullopt when the agent
  // cannot say (no `sockets`, or an answer without the socket's state).
  std::optional<TcpState> stack_state(const SocketRef& s);

  Target target_;
  std::shared_ptr<Trace> trace_;
  Address address_[2], peer_[2];  // by family: V4, V6
  std::unique_ptr<AgentStates> states_;
  std::shared_ptr<AgentClient> client_;  // after states_: its reader feeds them
  std::string agent_name_;
  std::set<std::string> features_;
  std::unique_ptr<AgentSysctls> sysctls_;
  std::unique_ptr<AgentCounters> counters_;
  std::atomic<bool> no_sockets_request_{false};
};

}  // namespace tcpfault
