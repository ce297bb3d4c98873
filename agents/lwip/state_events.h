// Every state change of every lwIP connection, as the protocol's "state" events.
//
// lwIP has no state hook in the prebuilt library, so the scanner compares lwIP's pcb
// lists (tcp_active_pcbs, tcp_tw_pcbs) with what it saw last time, keeping each
// connection by its 4-tuple; a pcb that is gone went to CLOSED. It runs with the core
// lock held, from core_hooks: before the lock is released (after each input frame,
// each timer run, each application call) and before lwIP removes a pcb; and from the
// listeners' accept callback, the moment a passive open reaches ESTABLISHED.
//
// What one locked section can do to one pcb, from lwIP 2.1's tcp_in.c, tcp.c and
// api_msg.c, and why a scan after it still reports every state:
// - SYN_RCVD + an ACK carrying a FIN: ESTABLISHED then CLOSE_WAIT in one tcp_process().
//   The listener's accept callback runs in between (TCP_EVENT_ACCEPT), and scans.
// - FIN_WAIT_1 + ACK of our FIN + data after close(): FIN_WAIT_2 then tcp_abort() of a
//   pcb that can no longer take data. tcp_abort() removes it with tcp_pcb_remove(),
//   which scans first. So does LAST_ACK's final ACK and every other abort.
// - FIN_WAIT_1 + FIN + ACK of our FIN: lwIP goes straight to TIME_WAIT (it never
//   enters FIN_WAIT_2 then), so FIN_WAIT1 -> TIME_WAIT is one step of lwIP's own.
// - Timers (tcp_slowtmr) unlink a pcb they give up on by hand, not by tcp_pcb_remove(),
//   but each pcb changes at most once per run: X -> CLOSED.
// Any other path sets a pcb's state at most once per section. Between sections nothing
// changes (every change needs the core lock), so no step falls between two scans.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "netns/address.h"

struct tcp_pcb;

namespace tcpfault::lwip_agent {

// lwIP's state names in Linux's spelling (SYN_RCVD -> "SYN_RECV", FIN_WAIT_1 -> "FIN_WAIT1").
const char* linux_state_name(int lwip_state);

struct StateChange {
  std::int64_t t_ns = 0;  // CLOCK_MONOTONIC
  FourTuple tuple;
  std::string from, to;
};

struct Connection {
  FourTuple tuple;
  std::string state;
};

class StateScanner {
 public:
  using Sink = std::function<void(const StateChange&)>;
  explicit StateScanner(Sink sink) : sink_(std::move(sink)) {}

  // Core lock held. Reports every difference from the last scan, in list order.
  void scan_locked();
  // Core lock held. Every connection lwIP holds now (listeners excluded).
  static std::vector<Connection> connections_locked();
  // Core lock held. Whether the latest connection on this 4-tuple reached ESTABLISHED
  // (a connect() that then fails with lwIP's ECONNRESET was reset, not refused).
  bool reached_established_locked(const FourTuple& tuple) const { return established_.contains(tuple); }
  // Core lock held. Makes every listening pcb scan when it hands over a connection that
  // just reached ESTABLISHED; call after each listen().
  void watch_listeners_locked();
  // Before lwIP starts: `prepare` runs (core lock held) on each passively opened pcb the
  // moment its handshake completes, before its listener's accept callback hands it over.
  void set_passive_open_hook(std::function<void(tcp_pcb&)> prepare) { prepare_ = std::move(prepare); }
  void passive_open_locked(tcp_pcb& pcb) const {
    if (prepare_) prepare_(pcb);
  }

 private:
  Sink sink_;
  std::function<void(tcp_pcb&)> prepare_;
  std::map<FourTuple, int> known_;  // lwIP enum tcp_state by 4-tuple
  std::set<FourTuple> established_;  // tuples whose latest connection reached ESTABLISHED
};

}  // namespace tcpfault::lwip_agent
