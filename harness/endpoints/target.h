// What a scenario tests: the Linux kernel on both sides (the default), or a stack run
// by an agent on one side (docs/agent-protocol.md) with the kernel on the other.
#pragma once

#include <string>
#include <string_view>

#include "netns/topology.h"

namespace tcpfault {

struct Target {
  enum class Kind { Kernel, Agent };
  Kind kind = Kind::Kernel;
  std::string command;                   // an agent's: run as /bin/sh -c 'exec COMMAND'
  netns::Host side = netns::Host::Server;  // the side the agent runs
  std::string name;                      // in reports: "lwip"; default "agent"

  static Target kernel() { return {}; }
  static Target agent(std::string command, netns::Host side = netns::Host::Server, std::string name = "");
  // "kernel" or "agent:COMMAND"; throws Error saying what is accepted otherwise.
  static Target parse(std::string_view spec, netns::Host side = netns::Host::Server);

  bool is_agent() const { return kind == Kind::Agent; }
  // "kernel", "lwip", "agent".
  std::string label() const { return is_agent() ? (name.empty() ? "agent" : name) : "kernel"; }
};

}  // namespace tcpfault
