// The harness's end of an agent's control socket (docs/agent-protocol.md): requests and
// their replies by id, events, and the detection of a broken agent.
//
// Every request has a deadline: its timeout_ms plus 2 s (blocking calls), 2 s (the
// others), 5 s (hello). A reader thread takes the agent's lines as they come: replies
// go to the requests waiting for them, events to the handler. A target failure - the
// agent exits or closes the socket (crash), a deadline passes (hang), a line that is
// not a JSON object, a reply to an id that is not outstanding or a reply with neither
// "ok" nor "error" (garbage) - kills the agent, and every call from then on throws
// TargetFailure with the same report: which failure, and the tail of the agent's stderr.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "harness/agent/agent_process.h"
#include "harness/endpoints/target_errors.h"
#include "netns/unique_fd.h"

namespace tcpfault {

using std::chrono::milliseconds;
using Json = nlohmann::json;

// How long a request may go unanswered beyond its own timeout_ms.
inline constexpr milliseconds kAgentGrace{2000};
inline constexpr milliseconds kAgentHelloDeadline{5000};
// The longest line either side may write.
inline constexpr std::size_t kAgentMaxLine = 1 << 20;

class AgentClient {
 public:
  // `who` names the agent in reports ("the server's agent `python3 fake.py`");
  // `side_label` starts NotApplicable messages ("server: the lwip target").
  AgentClient(std::string who, std::string side_label, UniqueFd control);
  ~AgentClient();  // kills the agent if it still runs
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Starts the agent process on the other end of the control socket (whose child end
  // is spawn.control_fd) and the reader. Events go to `on_event` from the reader thread.
  void start(const AgentSpawn& spawn, std::function<void(const Json&)> on_event);

  // Sends {"id", "cmd", ...args} and waits for the reply until `deadline` after sending.
  // Returns the reply, "ok" true or false (a socket call's errno). Throws NotApplicable
  // for an "unsupported" protocol error, TargetFailure for any failure of the agent
  // (another protocol error included: the harness asked for something the protocol
  // has), Error once the session was ended. With `unsupported_is_reply`, an "unsupported"
  // protocol error is returned as the reply instead (the caller says what it means).
  Json request(const std::string& cmd, Json args, milliseconds deadline, bool unsupported_is_reply = false);
  // The deadline of a blocking call with this timeout_ms.
  static milliseconds deadline_for(milliseconds timeout) { return timeout + kAgentGrace; }

  // Ends the session: "bye" (with `say_bye`), then waits for the agent to exit
  // (bounded), else kills it; the reader stops. Later requests throw Error saying why
  // the session ended. Returns what went wrong on the way out ("" when the agent said
  // goodbye and exited), for the trace.
  std::string stop(const std::string& why, bool say_bye = true);

  // Records a target failure found outside the client (the caller's own check), kills
  // the agent and throws the report.
  [[noreturn]] void fail(const std::string& what);
  // The failure report, if the agent failed.
  std::optional<std::string> failure() const;
  [[noreturn]] void throw_failure() const;

  const std::string& side_label() const { return side_label_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::string log_path() const { return process_ ? process_->log_path() : ""; }
  bool running() const { return process_ && !process_->exit_status(); }

 private:
  struct Pending {
    std::string cmd;
    std::optional<Json> reply;
  };
  void read_lines();
  void on_line(const std::string& line);
  void on_exit(const std::string& how);
  // Records the failure once (the first wins), kills the agent, wakes every waiter.
  void mark_failed(const std::string& what);
  enum class Write { Sent, Closed, Timeout };
  Write write_line(const std::string& line, std::chrono::steady_clock::time_point deadline);

  std::string who_, side_label_;
  UniqueFd control_;
  std::unique_ptr<AgentProcess> process_;
  std::function<void(const Json&)> on_event_;
  std::thread reader_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, Pending> pending_;
  bool stopping_ = false;            // bye was sent: its exit is expected
  bool failing_ = false;             // a failure is being recorded (the agent is being killed)
  std::optional<std::string> failure_;
  std::optional<std::string> ended_;  // why the session was ended (stop)
  std::mutex write_mu_;               // one line at a time on the socket
};

}  // namespace tcpfault
