// Each socket call an endpoint makes goes into the trace with its result and duration.
#pragma once

#include <string>

#include "harness/endpoints/endpoint.h"
#include "harness/trace/trace.h"

namespace tcpfault {

struct CallTimer {
  std::int64_t start = mono_now_ns();
};

// `socket`: the connection the call was made on, so that what ends a socket can be
// traced to a call of its own that failed (harness/scenario/socket_end.h).
inline CallResult record_call(Trace& trace, Host host, std::string call, long value, int err, const CallTimer& t,
                              bool deadline_passed = false, std::optional<FourTuple> socket = std::nullopt) {
  CallResult r{std::move(call), value, err, deadline_passed};
  auto now = mono_now_ns();
  trace.add(CallEvent{now, now - t.start, host, r.call, r.value, r.err, socket});
  return r;
}

}  // namespace tcpfault
