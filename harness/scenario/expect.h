// Expectations with deadlines. Each waits for the timeline (or the kernel's socket
// table) to show what it expects, and throws ExpectationFailed when the deadline
// passes: the message says what was expected, what was seen, and carries the ladder.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/agent/agent_states.h"
#include "harness/endpoints/endpoint.h"
#include "harness/roles/segment_match.h"
#include "harness/scenario/close_calls.h"
#include "harness/scenario/expectation_failure.h"
#include "harness/scenario/socket_end.h"
#include "harness/observe/state_observer.h"
#include "harness/tcp_state.h"
#include "harness/trace/trace.h"
#include "harness/trace/trace_queries.h"
#include "netns/error.h"

namespace tcpfault {

using std::chrono::milliseconds;

// Where an expectation starts looking: only segments after this point count.
struct Since {
  std::uint64_t segment = 0;  // after the segment with this arrival id (SegmentEvent::id)
  std::int64_t t_ns = 0;      // seen by the middlebox after this time (CLOCK_MONOTONIC)

  static Since after(const SegmentEvent& s) { return {s.id, 0}; }
  static Since at(std::int64_t t_ns) { return {0, t_ns}; }
  bool admits(const SegmentEvent& s) const { return s.id > segment && s.t_ns > t_ns; }
  std::string describe(const Trace& trace) const;  // " since segment #12", " since +45.3 ms", ""
};

class Expectations {
 public:
  // `on_failure` is called with the summary before throwing; it returns text to
  // append (the ladder and where the artifacts were written).
  Expectations(std::shared_ptr<Trace> trace, StateObserver& states,
               std::function<std::string(const std::string&)> on_failure);

  // sock_diag shows the socket in `want` (SYN_RECV also matches a request socket;
  // CLOSED matches no socket at all). A socket that has ended (harness/scenario/socket_end.h)
  // fails it at once, naming what ended it.
  void state(const SocketRef& s, TcpState want, milliseconds within) const;
  // The socket's transitions include `sequence` as consecutive steps; one that has ended
  // with every step of its life recorded fails it at once, naming what ended it.
  void transitions(const SocketRef& s, const std::vector<TcpState>& sequence, milliseconds within) const;
  // Exactly `count` segments matching `m` are seen (waits until `count` are there).
  void segments(const Match& m, int count, milliseconds within) const;
  // No segment matching `m` so far, nor during the next `during`; with `since`, only
  // those after it count (an nth is still counted from the first segment).
  void no_segment(const Match& m, milliseconds during, const Since& since = {}) const;
  // The socket stays in `held` until a segment matching `m` is seen: its transition
  // out of `held` (if any) comes after that segment.
  void stays_until(const SocketRef& s, TcpState held, const Match& m, milliseconds within) const;
  void error(const CallResult& r, int err) const;
  void ok(const CallResult& r) const;

  // The transitions of one socket so far (its `to` states in order).
  std::vector<TransitionEvent> transitions_of(const SocketRef& s) const;
  // What the socket table shows for it now (nullopt: no socket). For the side an agent
  // runs, its state as AgentStates knows it.
  std::optional<SocketInfo> socket_now(const SocketRef& s) const;

  // The checks whose verdict an event within `within` of their look would have turned
  // (harness/scenario/close_calls.h): state, segment-count and no-segment checks.
  std::vector<CloseCall> close_calls(std::chrono::nanoseconds within) const {
    return close_calls_.within(within.count());
  }

  // The side an agent runs: its states come from `agent` instead of the kernel.
  void set_agent_states(const AgentStates* agent) { agent_ = agent; }

  // Throws ExpectationFailed naming the test's line (ExpectationSite::current()),
  // after this thread's reporter, if any, has had it (ReportExpectationFailures).
  [[noreturn]] void fail(const std::string& summary, const std::string& expected,
                         const std::string& seen) const;

 private:
  // The socket's end, if it has ended (`recorded`: its transitions; see socket_end).
  std::optional<SocketEnd> ended(const SocketRef& s, const std::vector<TransitionEvent>& recorded,
                                 bool whole_only = false) const;
  // `end` as the timeline names it once the socket's own RST, if it sent one as it closed,
  // has come through the middlebox (it is read a moment after the step is recorded), or
  // kOwnRstWait after the step: the same end is named the same way on every run.
  SocketEnd named_end(const SocketRef& s, const SocketEnd& end, bool whole_only) const;
  // Shows `step` every segment, old and new, in arrival order, until it returns true
  // (true) or the deadline passes (false). Segments present at that moment are all shown.
  bool scan_segments(const std::function<bool(const SegmentEvent&)>& step, Clock::time_point deadline) const;

  // The first segment matching `m` (admitted by `since`), counted from the first, seen
  // after the `after`th match, up to `until_ns`; for a passed check's close call.
  std::optional<std::pair<std::int64_t, std::string>> match_after(const Match& m, const Since& since,
                                                                  std::size_t after, std::int64_t until_ns) const;

  // The test's own actions bound a close call: what a call of its made happen is not a
  // race with its checks. When the first call begun after `t_ns` began (INT64_MAX: none),
  // and when the last call returned by `t_ns` returned (0: none).
  std::int64_t next_call_after(std::int64_t t_ns) const;
  std::int64_t last_call_before(std::int64_t t_ns) const;

  std::shared_ptr<Trace> trace_;
  StateObserver& states_;
  mutable CloseCalls close_calls_;
  std::function<std::string(const std::string&)> on_failure_;
  const AgentStates* agent_ = nullptr;
  bool is_agent(const SocketRef& s) const { return agent_ && s.host == agent_->host(); }
};


}  // namespace tcpfault
