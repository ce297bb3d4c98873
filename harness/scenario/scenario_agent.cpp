// A scenario whose target is an agent (docs/agent-protocol.md): it runs one side, and
// what needs the Linux kernel on that side is not applicable.
#include <filesystem>

#include "harness/scenario/scenario.h"

namespace tcpfault {

void Scenario::start_agent() {
  // Its stderr is kept with the artifacts (in the temporary directory without them).
  const std::string dir = artifacts_or_failure_dir();
  const std::string log = (std::filesystem::path(dir) / (artifact_stem(options_.name) + ".agent.log")).string();
  agent_ = std::make_unique<AgentTarget>(options_.target, *topology_, trace_, log);
  expect_->set_agent_states(&agent_->states());
  (agent_->side() == Host::Client ? client_ : server_) = agent_->make_endpoint(options_.family);
}

void Scenario::require_kernel(Host h, const std::string& what) const {
  if (!options_.target.is_agent() || h != options_.target.side) return;
  throw NotApplicable(netns::to_string(h) + ": the " + options_.target.label() + " target " + what);
}

}  // namespace tcpfault
