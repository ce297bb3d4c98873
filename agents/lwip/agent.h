// The agent: reads requests, answers them, and reports lwIP's state changes.
//
// hello, bye, set_sysctl and get_sysctl are answered on the reading thread; every socket request runs on a
// thread of its own, so a blocked accept or recv never holds up another request
// (replies then come in the order the calls finish). Replies and events share one
// LineWriter.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "agents/lwip/ipv6_router.h"
#include "agents/lwip/json_lines.h"
#include "agents/lwip/socket_commands.h"
#include "agents/lwip/stack_sysctls.h"
#include "agents/lwip/state_events.h"
#include "agents/lwip/tap_netif.h"

namespace tcpfault::lwip_agent {

class Agent {
 public:
  // Starts lwIP; the stack gets its addresses at hello.
  Agent(LineWriter& out, int tap_fd);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // One line from tcpfault (without its newline).
  void handle_line(const std::string& line);
  // A line longer than the protocol allows.
  void handle_too_long();

 private:
  Json hello(const Json& id, const Json& req);
  Json sysctl_request(const Json& id, const std::string& cmd, const Json& req);
  void run_job(const SocketCommands::Job& job, const Json& id);
  void log(const std::string& message);
  static void on_core_unlock();

  LineWriter& out_;
  std::atomic<bool> hello_done_{false};
  std::unique_ptr<TapNetif> tap_;
  StackSysctls sysctls_;
  StateScanner scanner_;
  Ipv6RouterWatch router_;
  SocketCommands commands_;
};

}  // namespace tcpfault::lwip_agent
