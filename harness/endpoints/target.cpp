#include "harness/endpoints/target.h"

#include "netns/error.h"

namespace tcpfault {

Target Target::agent(std::string command, netns::Host side, std::string name) {
  auto blank = command.find_first_not_of(" \t") == std::string::npos;
  if (blank) throw Error("an agent target needs a command (agent:COMMAND, e.g. agent:/usr/lib/tcpfault/lwip-agent)");
  if (side == netns::Host::Middlebox)
    throw Error("an agent runs the client or the server side, not the middlebox");
  return {Kind::Agent, std::move(command), side, std::move(name)};
}

Target Target::parse(std::string_view spec, netns::Host side) {
  if (spec == "kernel") return kernel();
  constexpr std::string_view kAgent = "agent:";
  if (spec.substr(0, kAgent.size()) == kAgent) return agent(std::string(spec.substr(kAgent.size())), side);
  throw Error("unknown target '" + std::string(spec) + "': use 'kernel' or 'agent:COMMAND'");
}

}  // namespace tcpfault
