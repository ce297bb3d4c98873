// One state tracepoint reader per process, shared by every scenario in it.
//
// Opening the perf events is cheap, but closing the last one makes the kernel wait
// for an RCU grace period (about 40 ms here) before it returns. Scenarios come and go
// many times per process, so the reader is opened on first use and kept until the
// process exits; each scenario subscribes with its own sink and filters by address.
#pragma once

#include <memory>

#include "harness/state_tracepoint.h"

namespace tcpfault {

class TracepointSubscription {
 public:
  // Starts delivering every transition to `sink` (from the reader thread, or from the
  // thread in drain()). After destruction the sink is never called again.
  explicit TracepointSubscription(StateTracepoint::Sink sink);
  ~TracepointSubscription();
  TracepointSubscription(const TracepointSubscription&) = delete;
  TracepointSubscription& operator=(const TracepointSubscription&) = delete;

  // Every transition the kernel recorded before this call has reached the sinks.
  void drain();

 private:
  std::uint64_t id_;
};

}  // namespace tcpfault
