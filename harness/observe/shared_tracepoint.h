// One state reader per process, shared by every scenario in it.
//
// The reader is the BPF observer (bpf_observer.h) when it loads, else the perf reader
// of the sock:inet_sock_set_state tracepoint (state_tracepoint.h), which the state
// observer completes by polling sock_diag. TCPFAULT_OBSERVER chooses: "perf" forces the
// fallback, "bpf" refuses it (the first subscription throws if BPF cannot load), unset
// or "auto" tries BPF first.
//
// Opening either costs little, but closing the last perf event makes the kernel wait
// for an RCU grace period (about 40 ms here) before it returns. Scenarios come and go
// many times per process, so the reader is opened on first use and kept until the
// process exits; each scenario subscribes with its own sink and filters what it gets.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "harness/observe/state_tracepoint.h"

namespace tcpfault {

// Which reader the process uses, and why.
struct ObserverChoice {
  bool exact = false;     // the BPF observer: every step when it happens, no polling
  std::string name;       // "bpf" or "perf"
  std::string why;        // why perf: the BPF observer's error, or TCPFAULT_OBSERVER=perf
  double load_ms = 0;     // what opening the reader took
};

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
  // The reader in use (fixed for the process once the first subscription opened it).
  const ObserverChoice& choice() const;
  // Records the kernel dropped because the reader's buffers were full (0 unless overwhelmed).
  std::uint64_t lost() const;

 private:
  std::uint64_t id_;
};

}  // namespace tcpfault
