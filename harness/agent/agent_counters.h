// The Linux MIB counters an agent's stack counts too (docs/agent-protocol.md, "Linux
// counters"): what hello declared (nstat's names, each with the stack's statistic it
// reads), and the `counters` request that reads them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "harness/agent/agent_client.h"

namespace tcpfault {

// hello's "counters" object: name -> what the stack counts. Throws std::invalid_argument
// saying what is wrong with it.
std::map<std::string, std::string> parse_agent_counters(const Json& counters);

class AgentCounters {
 public:
  AgentCounters(std::map<std::string, std::string> declared, std::shared_ptr<AgentClient> client);

  bool empty() const { return declared_.empty(); }
  bool declares(const std::string& name) const { return declared_.count(name) > 0; }
  // "Tcp.ActiveOpens, TcpExt.ListenOverflows ...": for the trace and messages.
  std::string names() const;
  // Every declared counter's value now (the `counters` request); a reply without one of
  // them, or with a value that is not a count, is the agent's failure.
  std::map<std::string, std::int64_t> read() const;

 private:
  std::map<std::string, std::string> declared_;
  std::shared_ptr<AgentClient> client_;
};

}  // namespace tcpfault
