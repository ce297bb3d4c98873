// The process of an agent (docs/agent-protocol.md): started, watched, stopped.
//
// `/bin/sh -c 'exec COMMAND'` runs in the side's network namespace with fd 3 = the
// control socket, fd 4 = the TAP device, TCPFAULT_AGENT_FD=3 and TCPFAULT_TAP_FD=4 in
// its environment, stdin and stdout on /dev/null and stderr in a log file. A thread of
// this object forks it and waits for it: that thread is its parent, so the process gets
// SIGKILL (PR_SET_PDEATHSIG) when the thread ends or the whole harness dies, and no
// other code can reap it by accident. When it exits, `on_exit` is called (from that
// thread) with how it ended.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "netns/namespace.h"

namespace tcpfault {

struct AgentSpawn {
  std::string command;                   // run as /bin/sh -c 'exec COMMAND'
  const netns::Namespace* ns = nullptr;  // where it runs
  int control_fd = -1;                   // becomes its fd 3
  int tap_fd = -1;                       // becomes its fd 4
  std::string log_path;                  // its stderr (the directory is made if needed)
};

class AgentProcess {
 public:
  // Starts it; throws Error if it cannot (the log file, fork). A command that does not
  // exist still starts: the shell then exits with status 127 and says why in the log.
  AgentProcess(const AgentSpawn& spawn, std::function<void(const std::string& how)> on_exit);
  ~AgentProcess();  // kills it if it still runs, and reaps it
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // How it ended: "exited with status 3", "was killed by signal 9 (SIGKILL)"; nullopt while it runs.
  std::optional<std::string> exit_status() const;
  // Waits until it has exited, at most `limit`; returns whether it has.
  bool wait_exit(std::chrono::milliseconds limit) const;
  // SIGKILL unless it has exited already, then waits until it is reaped.
  void kill();
  // The last lines of its stderr, at most `max_bytes` (whole lines), "" when it wrote nothing.
  std::string stderr_tail(std::size_t max_bytes = 2000) const;

 private:
  void run(const AgentSpawn& spawn, int log_fd, int null_fd);  // the parent thread

  std::string log_path_;
  std::function<void(const std::string&)> on_exit_;
  pid_t pid_ = -1;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool started_ = false;  // the fork was tried: pid_ or start_error_ tells how it went
  std::string start_error_;
  bool exited_ = false;   // it has exited (maybe not yet reaped: its pid is still ours)
  bool reaped_ = false;
  std::string status_;
  std::thread parent_;
};

}  // namespace tcpfault
