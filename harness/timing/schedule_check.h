// Checks observed times against a Schedule (harness/timing/backoff.h).
//
// Each interval is checked on its own: the time from one step to the next (the
// first from the origin, when the schedule has one; the give-up from the last step)
// must be the schedule's interval within max(5 ms, 12.5 % of it), packetdrill's rule.
// Per interval rather than from the first segment, because the kernel re-arms each
// timer when the previous one fires: a timer's lateness (up to one timer-wheel slot)
// does not carry into the next interval, and a tolerance taken from the time since the
// first segment would grow with it (12.5 % of 7 s hides a whole missing 1 s step).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/timing/backoff.h"

namespace tcpfault {

// The tolerance for one interval: max(5 ms, interval / 8).
Usec schedule_tolerance(Usec interval);

struct ScheduleObservation {
  std::string steps_what;                  // "SYN from client"
  std::vector<std::int64_t> steps_ns;      // when each matching segment was seen
  std::optional<std::int64_t> origin_ns;   // the schedule's time 0, when it has an origin
  std::string origin_what;                 // "the last segment from server"
  bool check_give_up = false;
  std::string give_up_what;                // "a call on client fails with ETIMEDOUT"
  std::optional<std::int64_t> give_up_ns;  // when that was seen, if it was
  std::int64_t trace_start_ns = 0;         // to show where the first step is in the ladder
};

struct ScheduleVerdict {
  bool ok = false;
  std::string expected;  // one line: counts and the rule
  std::string seen;      // one line: counts, then what is off
  std::string table;     // one line per step: expected and seen times and intervals
};

ScheduleVerdict check_schedule(const Schedule& schedule, const ScheduleObservation& seen);

}  // namespace tcpfault
