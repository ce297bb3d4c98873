// The socket states of a side run by an agent, for expect_state / expect_transitions.
//
// An agent whose hello lists the feature `state_events` reports every change; each
// event becomes a transition of the trace (source "agent state event"). For one that
// does not, the states are inferred from the wire (harness/wire/wire_states.h) whenever an
// expectation asks, and the inferred steps are written into the trace (source "wire:
// <reason>") when the scenario fails or ends, so the ladder shows them too. The trace
// notes at the start which source it is.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "harness/endpoints/endpoint.h"
#include "harness/trace/trace.h"

namespace tcpfault {

class AgentStates {
 public:
  AgentStates(Host host, std::shared_ptr<Trace> trace) : host_(host), trace_(std::move(trace)) {}

  Host host() const { return host_; }
  // Where the states come from; set once the hello reply is known.
  void use_events(bool from_events);
  bool from_events() const;
  std::string source() const;  // "the agent's state events" / "inferred from the wire"

  // A state event from the agent (the client's reader thread). Throws
  // std::invalid_argument saying what is wrong with a malformed one.
  void on_state_event(const nlohmann::json& event);

  // The socket's transitions so far, in order.
  std::vector<TransitionEvent> transitions_of(const SocketRef& s) const;
  // The stack's own view of a socket's state (the agent's `sockets`), nullopt when it
  // cannot tell. Asked only when the states are inferred from the wire.
  using StackView = std::function<std::optional<TcpState>(const SocketRef&)>;
  void set_stack_view(StackView view);
  // Its state now: the last transition's, CLOSED when it has none. Inferred from the
  // wire, a step is dated when the middlebox delivered its segment, which the stack
  // processes a moment later (longer on a busy CPU): while the stack's own view is a
  // state the wire has already taken it past, that earlier state is the answer, so
  // that an expectation gating the next call waits for the stack itself.
  TcpState current(const SocketRef& s) const;
  // Writes the inferred steps not yet in the trace into it (nothing for state events).
  void record_inferred();

 private:
  std::vector<TransitionEvent> inferred(const SocketRef* only) const;

  Host host_;
  std::shared_ptr<Trace> trace_;
  mutable std::mutex mu_;
  bool from_events_ = false;
  StackView stack_view_;
  std::set<std::tuple<std::int64_t, std::string, std::string, int, int>> recorded_;  // inferred steps in the trace
};

}  // namespace tcpfault
