// A scenario whose target is an agent (docs/agent-protocol.md): it runs one side; a
// Linux sysctl there goes to the stack's own knob its agent declared, a Linux counter to
// the statistic it declared for it, and what needs the Linux kernel itself on that side
// is not applicable.
#include <filesystem>

#include "harness/scenario/scenario.h"
#include "netns/sysctl/sysctl.h"

namespace tcpfault {

void Scenario::start_agent() {
  // Its stderr is kept with the artifacts (in the temporary directory without them).
  const std::string dir = artifacts_or_failure_dir();
  const std::string log = (std::filesystem::path(dir) / (artifact_stem(options_.name) + ".agent.log")).string();
  agent_ = std::make_unique<AgentTarget>(options_.target, *topology_, trace_, log);
  expect_->set_agent_states(&agent_->states());
  (agent_->side() == Host::Client ? client_ : server_) = agent_->make_endpoint(options_.family);
  if (!agent_->counters().empty()) counters_at_start_[agent_->side()] = agent_->counters().read();
}

void Scenario::require_kernel(Host h, const std::string& what) const {
  if (!options_.target.is_agent() || h != options_.target.side) return;
  throw NotApplicable(netns::to_string(h) + ": the " + options_.target.label() + " target " + what);
}

Counters Scenario::agent_counters(Host h, const std::string& key) const {
  const AgentCounters& counted = agent_->counters();
  const std::string side = netns::to_string(h), target = "the " + options_.target.label() + " target";
  if (counted.empty())
    throw NotApplicable(side + ": " + target + " has no Linux MIB counters" + (key.empty() ? "" : " (" + key + ")"));
  if (!key.empty() && !counted.declares(key))
    throw NotApplicable(side + ": " + target + " has no Linux MIB counter " + key + " (its agent counts only " +
                        counted.names() + ")");
  return counted.read();
}

bool Scenario::on_agent(Host h) const { return agent_ && h == agent_->side(); }

AgentSysctl Scenario::declared_sysctl(Host h, const std::string& key) const {
  if (auto declared = agent_->sysctls().find(key)) return *declared;
  throw NotApplicable(netns::to_string(h) + ": the " + options_.target.label() + " target has no Linux sysctl " + key +
                      " (its agent declares no knob of the stack for it)");
}

std::string Scenario::write_agent_sysctl(Host h, const std::string& key, const std::string& value) {
  const AgentSysctl declared = declared_sysctl(h, key);
  const std::string side = netns::to_string(h), target = "the " + options_.target.label() + " target";
  const std::string means = declared.means.empty() ? "" : " (" + declared.means + ")";
  if (declared.fixed) {
    if (netns::value_fields(declared.value) != netns::value_fields(value))
      throw NotApplicable(side + ": " + target + " cannot change " + key + ": it behaves as " + declared.value + means);
    return " (" + target + " behaves so and cannot change it" + (declared.means.empty() ? "" : ": " + declared.means) +
           ")";
  }
  if (auto refused = agent_->sysctls().set(key, value))
    throw Error("sysctl " + key + " = '" + value + "' refused by " + target + " on the " + side + ": " + *refused);
  return "";
}

}  // namespace tcpfault
