#include "harness/agent/agent_states.h"

#include "harness/agent/agent_lines.h"
#include "harness/trace/trace_queries.h"
#include "harness/wire/wire_states.h"

namespace tcpfault {

void AgentStates::use_events(bool from_events) {
  {
    std::lock_guard lock(mu_);
    from_events_ = from_events;
  }
  trace_->note(netns::to_string(host_) + " states: " + source() +
               (from_events ? "" : " (the agent does not report state events)"));
}

bool AgentStates::from_events() const {
  std::lock_guard lock(mu_);
  return from_events_;
}

std::string AgentStates::source() const {
  return from_events() ? "the agent's state events" : "inferred from the wire";
}

void AgentStates::on_state_event(const nlohmann::json& e) { trace_->add(read_state_event(e, host_)); }

std::vector<TransitionEvent> AgentStates::inferred(const SocketRef* only) const {
  std::vector<TransitionEvent> out;
  for (const auto& c : infer_wire_states(*trace_)) {
    for (const auto* ends : {&c.opener, &c.acceptor}) {
      const InferredEnd& end = *ends;
      const InferredEnd& other = &end == &c.opener ? c.acceptor : c.opener;
      if (!end.seen || end.host != host_) continue;
      if (only && !(end.addr == only->tuple.local && other.addr == only->tuple.remote)) continue;
      for (const auto& step : end.steps)
        out.push_back(TransitionEvent{step.t_ns, host_, end.addr, other.addr, 0, step.from, step.to,
                                      "wire: " + step.reason});
    }
  }
  return out;
}

std::vector<TransitionEvent> AgentStates::transitions_of(const SocketRef& s) const {
  if (s.host != host_) throw Error("agent states: " + s.str() + " is not on the agent's side");
  if (from_events()) return tcpfault::transitions_of(trace_->other_events(), s);
  return inferred(&s);
}

void AgentStates::set_stack_view(StackView view) {
  std::lock_guard lock(mu_);
  stack_view_ = std::move(view);
}

TcpState AgentStates::current(const SocketRef& s) const {
  auto ts = transitions_of(s);
  const TcpState wire = ts.empty() ? TcpState::CLOSED : ts.back().to;
  StackView view;
  {
    std::lock_guard lock(mu_);
    if (from_events_ || !stack_view_ || ts.empty()) return wire;
    view = stack_view_;
  }
  const auto stack = view(s);
  if (!stack || *stack == wire) return wire;
  // A state the wire took the socket through before its latest one: the stack lags.
  for (std::size_t i = 0; i + 1 < ts.size(); ++i)
    if (ts[i].to == *stack) return *stack;
  return wire;
}

void AgentStates::record_inferred() {
  if (from_events()) return;
  auto steps = inferred(nullptr);
  std::lock_guard lock(mu_);
  for (auto& t : steps) {
    auto key = std::make_tuple(t.t_ns, t.local.str(), t.remote.str(), int(t.from), int(t.to));
    if (!recorded_.insert(key).second) continue;
    trace_->add(std::move(t));
  }
}

}  // namespace tcpfault
