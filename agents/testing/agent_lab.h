// A throwaway lab for an agent (agents/lwip, agents/gvisor), independent of the scenario
// machinery:
//
//   peer namespace (kernel)                                  agent namespace (empty)
//   tap0 198.18.2.254/24 2001:2:0:2::fe/64 fe80::fe  ~~fd~~  the agent
//   lo   198.18.1.1 2001:2:0:1::1 ("the client": off-link    its stack 198.18.2.1 2001:2:0:2::1
//        for the agent, reached through its gateway 198.18.2.254 / the RA's router)
//
// Both namespaces are fd-held and die with the process. The AgentClient speaks the
// protocol with deadlines and keeps every event it hears.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "netns/address.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault::agent_testing {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The agent process and the protocol spoken to it.
class AgentClient {
 public:
  // Starts `path` inside `ns` with fd 3 = control socket, fd 4 = `tap_fd`.
  AgentClient(const netns::Namespace& ns, int tap_fd, const std::string& path);
  ~AgentClient();  // kills the agent if it still runs
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Sends the request with the next id; returns the id.
  std::int64_t send(Json request);
  void send_raw(const std::string& bytes);
  // The reply to `id`; throws if none comes by the deadline.
  Json reply(std::int64_t id, Clock::duration within = 10s);
  // send + reply.
  Json call(Json request, Clock::duration within = 10s);
  // The next reply whose id is null (a protocol error about an unreadable line).
  Json null_id_reply(Clock::duration within = 5s);

  // Every state event so far, in order.
  std::vector<Json> events() const;
  // The states one connection (by its agent-side local and remote) went through: the
  // first event's "from", then each "to".
  std::vector<std::string> states(const std::string& local, const std::string& remote) const;
  // Waits until that connection has reached `state`; throws with what it saw instead.
  void wait_state(const std::string& local, const std::string& remote, const std::string& state,
                  Clock::duration within = 5s);
  std::vector<std::string> logs() const;

  // Closes the control socket (end of file for the agent).
  void close_control();
  // The agent's exit status (waitpid) once it exits, nullopt if it is still running at the deadline.
  std::optional<int> wait_exit(Clock::duration within);
  pid_t pid() const { return pid_; }

 private:
  void read_loop();
  pid_t pid_ = -1;
  UniqueFd control_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::int64_t, Json> replies_;
  std::deque<Json> null_replies_;
  std::vector<Json> events_, logs_;
  std::vector<std::string> garbage_;
  bool eof_ = false;
  std::int64_t next_id_ = 1;
  std::optional<int> exit_status_;
};

struct LabOptions {
  std::string agent;            // the agent program; empty: agent_path()
  bool start_agent = true;      // false: start one yourself on tap_fd() in agent_ns()
  bool hello = true;            // send hello (and the RA after it)
  bool router_advert = true;
};

class Lab {
 public:
  explicit Lab(LabOptions options = {});
  ~Lab();

  const netns::Namespace& peer() const { return *peer_; }
  const netns::Namespace& agent_ns() const { return *agent_ns_; }
  AgentClient& agent() { return *agent_; }

  // A topology slot's addresses (slot 0 shown), claimed for the life of the process.
  static Address agent_addr(Family f);     // 198.18.2.1 / 2001:2:0:2::1
  static Address client_addr(Family f);    // 198.18.1.1 / 2001:2:0:1::1, on the peer's lo
  static Address gateway_addr(Family f);   // 198.18.2.254 / fe80::fe
  static Address tap_addr(Family f);       // 198.18.2.254 / 2001:2:0:2::fe: the peer's on the TAP
  static Json hello_request();

  // Sends the router advertisement from tap0 (as tcpfault does after hello).
  void send_router_advert();
  // The tap fd the agent got; kept here too so the device outlives a crashed agent.
  int tap_fd() const { return tap_.get(); }

 private:
  std::unique_ptr<netns::Namespace> peer_, agent_ns_;
  UniqueFd tap_;
  std::unique_ptr<AgentClient> agent_;
};

// Kernel sockets in the peer namespace, non-blocking, with deadlines.
namespace peer {
UniqueFd listen(const netns::Namespace& ns, const SockAddr& at);
UniqueFd connect(const netns::Namespace& ns, const SockAddr& from, const SockAddr& to);  // returns once connected
UniqueFd accept(int listener, Clock::duration within = 5s);
void send_all(int fd, const std::string& data, Clock::duration within = 10s);
// Reads exactly n bytes (or to EOF, if `to_eof`); throws on timeout or error.
std::string recv_n(int fd, std::size_t n, Clock::duration within = 10s);
// Reads until EOF; returns the bytes; throws on a reset (message says ECONNRESET) or timeout.
std::string recv_to_eof(int fd, Clock::duration within = 10s);
// The errno of the next failing recv (0 at EOF); throws on timeout.
int recv_error(int fd, Clock::duration within = 5s);
SockAddr local_of(int fd);
}  // namespace peer

// The lab's agent when LabOptions names none: the program the environment variable
// LAB_AGENT_ENV names (e.g. a script that runs it under valgrind), else LAB_AGENT_PATH;
// each test program sets both when it compiles the lab (the lwIP tests: lwIP's agent and
// TCPFAULT_LWIP_AGENT).
std::string agent_path();

std::string hex(const std::string& bytes);
std::string unhex(const std::string& hex);

}  // namespace tcpfault::agent_testing
