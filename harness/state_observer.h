// Socket states of one topology: the transition sequence (tracepoint) written into
// the trace, and the current state of a socket on demand (sock_diag).
//
// The kernel hands a closing connection to a timewait minisocket without a
// tracepoint event: the full socket is recorded going to CLOSED. The observer asks
// sock_diag at that moment and records the step as "-> TIME_WAIT" (or "-> FIN_WAIT2"
// for an orphan) instead; an orphan's later FIN_WAIT2 -> TIME_WAIT step is found by
// watching the minisocket until it changes.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "harness/endpoint.h"
#include "harness/sock_diag.h"
#include "harness/shared_tracepoint.h"
#include "harness/trace.h"
#include "netns/topology.h"

namespace tcpfault {

class StateObserver {
 public:
  StateObserver(const netns::Topology& topology, std::shared_ptr<Trace> trace);
  ~StateObserver();

  // What sock_diag shows now for that socket; nullopt if the kernel has none.
  std::optional<SocketInfo> socket(const SocketRef& ref) const;
  const SockDiag& diag(Host h) const;
  // The same socket table, shared with endpoints so a connection can tell its state.
  std::shared_ptr<const SockDiag> shared_diag(Host h) const;
  // Every transition recorded by the kernel before this call is in the trace.
  void drain();

  // Fills a gap the tracepoint left for one socket: when the socket table shows a
  // state other than the last recorded one (or no socket at all after a non-final
  // state), records that step, marked as seen by sock_diag. On this kernel perf
  // misses tracepoint events fired in softirq on an idle CPU (a timer giving up a
  // connection, for example); ftrace sees them. Returns whether the socket's recorded
  // steps changed (a step added, or the tracepoint's own arrived): read them again.
  bool reconcile(const SocketRef& ref, const std::vector<TransitionEvent>& recorded);

 private:
  void on_transition(const Transition& t);
  std::optional<Host> host_of_local(const Address& a) const;
  void watch_orphans();

  const netns::Topology& topology_;
  std::shared_ptr<Trace> trace_;
  std::shared_ptr<const SockDiag> client_diag_, server_diag_;

  // Orphaned FIN_WAIT2 minisockets whose move to TIME_WAIT has no event.
  std::mutex orphans_mu_;
  std::condition_variable orphans_cv_;
  std::map<std::pair<Host, FourTuple>, std::uint64_t> orphans_;
  bool stopping_ = false;
  std::thread orphan_watcher_;

  std::unique_ptr<TracepointSubscription> tracepoint_;  // last: stops first
};

}  // namespace tcpfault
