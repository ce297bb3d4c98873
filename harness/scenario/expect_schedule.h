// The timing expectation: the segments that match follow a Schedule (harness/timing/backoff.h),
// and the stack gives up when the schedule says. Waits for them, then checks each
// interval (harness/timing/schedule_check.h) and fails with expected and seen times, one step
// per line, and the ladder.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "harness/timing/backoff.h"
#include "harness/scenario/expect.h"

namespace tcpfault {

// What shows that the stack gave up, and when.
struct GiveUp {
  enum class Kind { CallError, State };
  Kind kind = Kind::CallError;
  Host host = Host::Client;  // CallError: the first call on this host that fails with `err`
  int err = 0;
  SocketRef socket;           // State: the socket's step into `state` (CLOSED: gone)
  TcpState state = TcpState::CLOSED;

  static GiveUp call_error(Host h, int err) { return {Kind::CallError, h, err, {}, TcpState::CLOSED}; }
  static GiveUp reaches(const SocketRef& s, TcpState st) { return {Kind::State, s.host, 0, s, st}; }
  std::string describe() const;  // "a call on client fails with ETIMEDOUT", "server ... in CLOSED"
};

struct ScheduleExpectation {
  std::optional<GiveUp> gives_up;  // check the give-up too (the schedule must have one)
  // For a schedule with an origin: its time 0 is the last segment matching this
  // before the first matching one. Without it the first interval is not checked.
  std::optional<Match> since;
  // How long to wait for everything; default: the schedule's length from its first
  // step (as seen, or from now) plus its last tolerance and one second.
  std::optional<std::chrono::milliseconds> within;
};

void expect_schedule(const Expectations& expect, const Trace& trace, const StateObserver& states,
                     const Match& m, const Schedule& schedule, const ScheduleExpectation& options);

}  // namespace tcpfault
