// A scenario: one topology with its middlebox fault engine, observers, endpoints and
// timeline, torn down when the object goes. This is the C++ API a case is written on:
//
//   Scenario s({.family = Family::V4, .name = "CL2"});
//   auto listener = s.server().listen(s.server_at(8080));
//   auto client = s.client().connect(s.server_at(8080));
//   auto conn = listener.accept();
//   s.faults().add(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once());
//   client.close();  ...  conn.close();
//   s.expect_transitions(conn.ref(), {TcpState::LAST_ACK, TcpState::CLOSED});
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "harness/agent/agent_target.h"
#include "harness/endpoints/endpoint.h"
#include "harness/scenario/expect.h"
#include "harness/scenario/expect_release.h"
#include "harness/scenario/expect_schedule.h"
#include "harness/intercept/fault_engine.h"
#include "harness/endpoints/kernel_endpoint.h"
#include "harness/observe/mib_counters.h"
#include "harness/observe/state_observer.h"
#include "harness/intercept/syn_flood.h"
#include "harness/endpoints/target.h"
#include "harness/endpoints/target_errors.h"
#include "harness/trace/trace.h"
#include "harness/trace/trace_output.h"
#include "harness/transfer/transfer.h"
#include "netns/sysctl/sysctl.h"
#include "netns/topology.h"

namespace tcpfault {

using namespace std::chrono_literals;

struct ScenarioOptions {
  Family family = Family::V4;
  std::string name = "scenario";
  // Where the pcapng/JSON/ladder go; default: $TCPFAULT_ARTIFACTS, else nowhere
  // (on failure they then go to failure_artifacts_dir).
  std::optional<std::string> artifacts_dir;
  // Where a failure writes them without artifacts_dir (and an agent's log goes); default:
  // the system's temporary directory's tcpfault/. The pytest plugin gives pytest's own
  // temporary folder, so runs never share one.
  std::optional<std::string> failure_artifacts_dir;
  std::uint16_t queue_number = 0;
  netns::TopologyOptions topology;
  // Packets the middlebox's kernel queue holds waiting for a verdict (held ones count);
  // more are dropped by the kernel, counted and reported (FaultEngine::Stats).
  std::uint32_t queue_max_len = NfQueue::kDefaultMaxLen;
  // false: the middlebox forwards without NFQUEUE (no faults, no segments in the trace).
  bool intercept = true;
  // Payload bytes the trace keeps; default $TCPFAULT_TRACE_PAYLOAD_CAP, else 16 MiB.
  std::optional<std::size_t> trace_payload_cap;
  // What runs each side: the kernel, or an agent on one side (docs/agent-protocol.md);
  // its stderr goes to <artifacts>/<name>.agent.log.
  Target target;
};

class Scenario {
 public:
  explicit Scenario(ScenarioOptions options);
  ~Scenario();
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  Family family() const { return options_.family; }
  const std::string& name() const { return options_.name; }
  netns::Topology& topology() { return *topology_; }
  Endpoint& client() { return *client_; }
  Endpoint& server() { return *server_; }
  Endpoint& endpoint(Host h);
  const Target& target() const { return options_.target; }
  // The running agent, when the target is one (nullptr for the kernel).
  AgentTarget* agent() { return agent_.get(); }
  // Throws NotApplicable "<side>: the <target> target <what>" when `h` is the agent's
  // side: for what needs the Linux kernel there (sysctls, MIB counters, sock_diag).
  void require_kernel(Host h, const std::string& what) const;
  FaultEngine& faults() { return *faults_; }
  Trace& trace() { return *trace_; }
  std::shared_ptr<Trace> shared_trace() const { return trace_; }  // outlives the scenario
  StateObserver& states() { return *states_; }
  const StateObserver& states() const { return *states_; }
  const Expectations& expectations() const { return *expect_; }

  SockAddr server_at(std::uint16_t port) const;
  SockAddr client_at(std::uint16_t port) const;
  Host host_of(const Address& a) const;

  // Sysctls of one host's namespace (the host machine is never touched). A key this kernel
  // lacks is set by what stands in for it (harness/scenario/absent_sysctl.h): nothing when
  // its built-in behaviour is the value asked for, an older knob, or NotApplicable.
  // On an agent's side they go to the stack's own knobs its agent declared in hello
  // (docs/agent-protocol.md, "Linux sysctls"): a key it did not declare, or a fixed one
  // asked for another value than the stack's, is NotApplicable.
  void set_sysctl(Host h, const std::string& key, const std::string& value);
  // Writes `value` and holds it for the rest of the scenario: a later set_sysctl of the
  // key (or a sysctl.conf line) writes `value` instead, and the trace says what was asked
  // ("sysctl client K = 1 (sysctl-check: the case asked for 0)"). It runs a case's own
  // scenario under a setting the case would otherwise pin (tcpfault sysctl-check).
  void hold_sysctl(Host h, const std::string& key, const std::string& value, const std::string& holder);
  // sysctl.conf text for one host; each setting is noted in the trace.
  void apply_sysctl_conf(Host h, const std::string& text);
  std::string sysctl(Host h, const std::string& key) const;
  int sysctl_int(Host h, const std::string& key) const;
  bool has_sysctl(Host h, const std::string& key) const;
  // The key's value, or for a key later kernels added, the value this kernel behaves as
  // (the older knob's, once set_sysctl set one).
  std::string sysctl_or_built_in(Host h, const std::string& key) const;
  // MIB counters now, and their change since the scenario began.
  Counters counters(Host h) const;
  std::int64_t counter_delta(Host h, const std::string& key) const;

  // ---- expectations: each throws ExpectationFailed with the ladder, naming the line of
  // the caller (`where`, a default argument: leave it out) ----
  void expect_state(const SocketRef& s, TcpState want, milliseconds within = 3000ms,
                    std::source_location where = std::source_location::current()) const;
  void expect_state(const Connection& c, TcpState want, milliseconds within = 3000ms,
                    std::source_location where = std::source_location::current()) const {
    expect_state(c.ref(), want, within, where);
  }
  void expect_transitions(const SocketRef& s, const std::vector<TcpState>& seq, milliseconds within = 3000ms,
                          std::source_location where = std::source_location::current()) const;
  void expect_transitions(const Connection& c, const std::vector<TcpState>& seq, milliseconds within = 3000ms,
                          std::source_location where = std::source_location::current()) const {
    expect_transitions(c.ref(), seq, within, where);
  }
  void expect_segments(const Match& m, int count, milliseconds within = 3000ms,
                       std::source_location where = std::source_location::current()) const;
  void expect_no_segment(const Match& m, milliseconds during = 0ms, const Since& since = {},
                         std::source_location where = std::source_location::current()) const;
  void expect_stays_until(const SocketRef& s, TcpState held, const Match& m, milliseconds within = 3000ms,
                          std::source_location where = std::source_location::current()) const;
  void expect_error(const CallResult& r, int err, std::source_location where = std::source_location::current()) const;
  void expect_ok(const CallResult& r, std::source_location where = std::source_location::current()) const;
  void expect_counter(Host h, const std::string& key, std::int64_t at_least,
                      std::optional<std::int64_t> at_most = std::nullopt,
                      std::source_location where = std::source_location::current()) const;
  // Closes `end`, whose peer closed first, once end's bare ACK of that FIN has crossed the
  // middlebox. Closed at once, end's FIN (sent from the test's CPU) can overtake that ACK
  // (built in softirq on the other CPU); the stale ACK then reaches the peer in TIME_WAIT,
  // whose answer meets a closed socket, and the RST ends TIME_WAIT. A scenario about
  // something else than that race closes the second end this way.
  CallResult close_after_acking_fin(Connection& end, milliseconds within = 3000ms,
                                    std::source_location where = std::source_location::current()) const;
  // The middlebox lost no packet that no rule asked for (its queue never overflowed).
  void expect_no_undecided_drops(std::source_location where = std::source_location::current()) const;
  // The `nth` segment (from 1) that rule `rule` kept back (a hold, a delay, a random rule's
  // reorder or delay) has been let go; returns it. Error for a rule that never holds.
  SegmentEvent expect_released(int rule, milliseconds within = 3000ms, int nth = 1,
                               std::source_location where = std::source_location::current()) const;

  // ---- bulk transfers, checked byte by byte (harness/transfer/transfer.h, scenario_transfer.cpp);
  // a transfer still running when the scenario ends is stopped ----
  std::shared_ptr<Transfer> start_transfer(const Connection& sender, const Connection& receiver,
                                           TransferOptions options = {});
  TransferReport transfer(const Connection& sender, const Connection& receiver, TransferOptions options = {});
  void expect_intact(const TransferReport& report, std::source_location where = std::source_location::current()) const;

  // ---- SYN floods from the middlebox (harness/intercept/syn_flood.h) ----
  // Starts a flood toward the server; throws Error for a spec out of bounds. The flood
  // belongs to the scenario and stops with it at the latest; floods are numbered from 1.
  SynFlood& flood_syns(FloodSpec spec);
  SynFlood& flood(int id);

  // ---- timers and silent ends (harness/scenario/timer_settings.h makes schedules from this
  // scenario's settings; harness/timing/backoff.h explains them) ----
  // The segments matching `m` follow `schedule`, each interval within max(5 ms, 12.5 %).
  void expect_schedule(const Match& m, const Schedule& schedule, const ScheduleExpectation& o = {},
                       std::source_location where = std::source_location::current()) const;
  // Destroys one end's socket and loses its RST in the middlebox: the peer is not told.
  void destroy_silently(const SocketRef& s, std::source_location where = std::source_location::current());
  // The kernel's TCP_INFO for a socket now (nullopt: no full socket).
  std::optional<TcpInfo> tcp_info(const SocketRef& s) const;

  std::string ladder() const { return render_ladder(*trace_); }
  // Every state change the stacks made before this call is in the trace: the kernel
  // observer's rings drained, and an agent's state events up to a round trip to it (its
  // events and replies come in order on one stream). What reads the final states once a
  // test is over calls it first: the last events may still be on their way.
  void catch_up_states();
  // Writes the artifacts to `dir` (default: the scenario's artifacts directory).
  ArtifactPaths write_artifacts(std::optional<std::string> dir = std::nullopt) const;
  // Where the files go when no directory is asked for: the artifacts directory, else the
  // failures' one.
  std::string artifacts_or_failure_dir() const;

 private:
  std::string failure_note(const std::string& summary) const;
  void stop_floods();  // joins every flood's sender and notes what each did in all
  void start_agent();  // scenario_agent.cpp
  // The agent's side's sysctls (scenario_agent.cpp): whether `h` is that side, and the
  // calls of the public sysctl API there. `key` is dotted.
  bool on_agent(Host h) const;
  // The agent's declaration of `key`; NotApplicable when it declared none.
  AgentSysctl declared_sysctl(Host h, const std::string& key) const;
  // Writes the stack's knob (NotApplicable for a fixed key asked for another value, Error
  // when the stack refuses the value); returns what the trace note adds after the value
  // (" (...)" for a fixed key asked for its own value, else "").
  std::string write_agent_sysctl(Host h, const std::string& key, const std::string& value);
  // The agent's Linux counters now; not applicable when it counts none, or not `key`
  // (empty: any).
  Counters agent_counters(Host h, const std::string& key) const;
  // A kernel's write_sysctl or an agent's write_agent_sysctl, whichever runs `h`.
  std::string write_sysctl_of(Host h, const std::string& key, const std::string& value);
  const netns::Namespace& ns(Host h) const;

  ScenarioOptions options_;
  std::unique_ptr<netns::Topology> topology_;
  std::shared_ptr<Trace> trace_;
  std::map<Host, Counters> counters_at_start_;
  std::unique_ptr<StateObserver> states_;
  std::unique_ptr<FaultEngine> faults_;
  std::unique_ptr<AgentTarget> agent_;
  std::unique_ptr<Endpoint> client_, server_;
  mutable std::mutex floods_mu_;  // floods may be started and read from several threads
  std::vector<std::unique_ptr<SynFlood>> floods_;
  std::unique_ptr<Expectations> expect_;
  TransferSet transfers_;
  struct HeldSysctl {
    std::string value, holder;
  };
  std::map<std::pair<Host, std::string>, HeldSysctl> held_sysctls_;  // (host, dotted key)
  // Keys this kernel lacks that an older knob stands in for, with the value it holds.
  std::map<std::pair<Host, std::string>, std::string> stood_in_;
};

// A file-name-safe form of a scenario name: "CL2/IPv4" -> "CL2_IPv4".
std::string artifact_stem(const std::string& name);

}  // namespace tcpfault
