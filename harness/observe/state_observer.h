// Socket states of one topology: the transition sequence written into the trace, and
// the current state of a socket on demand (sock_diag).
//
// Transitions come from the process's shared reader (shared_tracepoint.h):
// - the BPF observer (exact): every step of full sockets, timewait minisockets and
//   request sockets when it happens, with the kernel's time and the socket's network
//   namespace, which attributes it to this topology's client or server;
// - the fallback, the perf tracepoint, which reports full sockets only and names no
//   namespace (attributed by address: each live topology has addresses of its own).
//   The kernel hands a closing connection to a timewait minisocket without an event:
//   the full socket is recorded going to CLOSED. The observer then asks sock_diag and
//   records the step as "-> TIME_WAIT" instead; an orphan's later FIN_WAIT2 -> TIME_WAIT
//   step is found by watching the minisocket until it changes; steps perf did not
//   deliver are filled in from sock_diag when an expectation asks (reconcile).
// Which one is in use, and why not BPF, is noted in the trace when the observer starts.
// A step from a state to itself (a second close() after shutdown(), an orphan's
// FIN_WAIT2 going on in a minisocket) changes nothing: it is written as a note.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "harness/socket_ref.h"
#include "harness/observe/sock_diag.h"
#include "harness/observe/shared_tracepoint.h"
#include "harness/trace/trace.h"
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
  // Whether every step comes from the kernel when it happens (the BPF observer), and
  // the reader in use.
  bool exact() const { return exact_; }
  const ObserverChoice& choice() const { return tracepoint_->choice(); }

  // Brings one socket's recorded steps up to date; returns whether they changed (read
  // them again). The exact observer only drains. The fallback also fills a gap the
  // tracepoint left: when the socket table shows a state other than the last recorded
  // one (or no socket at all after a non-final state), it records that step, marked as
  // seen by sock_diag. On this kernel perf misses tracepoint events fired in softirq on
  // an idle CPU (a timer giving up a connection, for example); ftrace sees them.
  bool reconcile(const SocketRef& ref, const std::vector<TransitionEvent>& recorded);

 private:
  void on_transition(const Transition& t);
  void on_perf_transition(TransitionEvent ev);
  std::optional<Host> host_of(const Transition& t) const;
  void watch_orphans();

  const netns::Topology& topology_;
  std::shared_ptr<Trace> trace_;
  std::shared_ptr<const SockDiag> client_diag_, server_diag_;
  std::uint64_t client_netns_ = 0, server_netns_ = 0;
  bool exact_ = false;
  // The observer's count of lost steps when the scenario began: it is the process's, and
  // only what this scenario lost needs filling in.
  std::uint64_t lost_before_ = 0;
  std::atomic<bool> loss_noted_{false};

  // Fallback only: orphaned FIN_WAIT2 minisockets whose move to TIME_WAIT has no event.
  std::mutex orphans_mu_;
  std::condition_variable orphans_cv_;
  std::map<std::pair<Host, FourTuple>, std::uint64_t> orphans_;
  bool stopping_ = false;
  std::thread orphan_watcher_;

  // The BPF observer's steps as they arrive, for reconcile to wait for a late one.
  std::mutex arrivals_mu_;
  std::condition_variable arrivals_cv_;
  std::uint64_t arrivals_ = 0;

  std::unique_ptr<TracepointSubscription> tracepoint_;  // last: stops first
};

}  // namespace tcpfault
