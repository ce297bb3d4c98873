// Each socket call an endpoint makes goes into the trace with its result and duration.
#pragma once

#include <string>

#include "harness/endpoint.h"
#include "harness/trace.h"

namespace tcpfault {

struct CallTimer {
  std::int64_t start = mono_now_ns();
};

inline CallResult record_call(Trace& trace, Host host, std::string call, long value, int err, const CallTimer& t,
                              bool deadline_passed = false) {
  CallResult r{std::move(call), value, err, deadline_passed};
  auto now = mono_now_ns();
  trace.add(CallEvent{now, now - t.start, host, r.call, r.value, r.err});
  return r;
}

}  // namespace tcpfault
