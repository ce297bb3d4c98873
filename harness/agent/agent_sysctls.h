// The Linux sysctls an agent's stack has a knob for (docs/agent-protocol.md, "Linux
// sysctls"): what hello declared, and the set_sysctl / get_sysctl requests on them.
// A declared key means the stack behaves as Linux does with its value; a fixed one
// cannot change. The scenario decides what a case's sysctl calls make of them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "harness/agent/agent_client.h"

namespace tcpfault {

struct AgentSysctl {
  std::string value;  // in Linux's units and text format, as /proc/sys shows it
  bool fixed = false;
  std::string means;  // the stack's own setting it maps to (free text)
};

// hello's "sysctls" object. Throws std::invalid_argument saying what is wrong with it.
std::map<std::string, AgentSysctl> parse_agent_sysctls(const Json& sysctls);

class AgentSysctls {
 public:
  AgentSysctls(std::map<std::string, AgentSysctl> declared, std::shared_ptr<AgentClient> client);

  // The declaration of a dotted key ("net.ipv4.tcp_syn_retries"), nullopt when undeclared.
  std::optional<AgentSysctl> find(const std::string& key) const;
  // "net.ipv4.tcp_keepalive_time, net.ipv4.tcp_sack (fixed 0)": for the trace.
  std::string summary() const;
  bool empty() const { return declared_.empty(); }

  // set_sysctl of a declared, settable key: nullopt when the stack took the value, else
  // the agent's refusal ("EINVAL: ...") as a write to /proc/sys would fail. A value the
  // stack cannot take although Linux would ("unsupported") throws NotApplicable with the
  // agent's reason; another protocol error or a malformed reply is the agent's failure.
  std::optional<std::string> set(const std::string& key, const std::string& value);
  // The current value of a declared key: the declared one for a fixed key, else the
  // agent's get_sysctl answer.
  std::string get(const std::string& key) const;

 private:
  std::map<std::string, AgentSysctl> declared_;
  std::shared_ptr<AgentClient> client_;
  mutable std::mutex mu_;  // declared_'s values follow what set wrote
};

}  // namespace tcpfault
