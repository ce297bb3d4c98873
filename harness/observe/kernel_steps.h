// Steps of socket lives from the BPF observer's records (harness/observe/bpf/state_events.h),
// one process-wide stream in the kernel's order.
//
// A connection's life passes through up to three kernel objects: a request socket
// (SYN_RECV before the handshake completes), the full socket, a timewait minisocket.
// Every step carries one identity for the whole life: the first object's address. So:
// - a request socket's LISTEN -> SYN_RECV starts the life; the child the kernel makes of
//   it (the full socket's own LISTEN -> SYN_RECV, same namespace and 4-tuple) is no new
//   step, and the request's later free is no end;
// - a minisocket hashed for a closing full socket (its record comes just before that
//   socket's step to CLOSED) turns that step into the step to the minisocket's state
//   (FIN_WAIT2 -> TIME_WAIT, CLOSING -> TIME_WAIT; an orphan's FIN_WAIT2 stays FIN_WAIT2:
//   a step from a state to itself, which the observer writes as a note), dated when the
//   minisocket was hashed; its own FIN_WAIT2 -> TIME_WAIT and its end follow.
// A request socket that ends goes to LISTEN when an RST from the peer ended it (RFC 9293
// 3.10.7.4: a passive open returns to LISTEN), else to CLOSED.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "harness/observe/bpf/state_events.h"
#include "harness/observe/state_tracepoint.h"

namespace tcpfault {

class KernelSteps {
 public:
  using Sink = std::function<void(const Transition&)>;
  explicit KernelSteps(Sink sink) : sink_(std::move(sink)) {}

  // One record, in the ring buffer's order.
  void add(const state_event& e);

  // Objects followed now (for tests: nothing may be left behind).
  std::size_t followed() const { return alias_.size() + pending_tw_.size() + live_req_.size() + children_.size(); }

 private:
  using Key = std::tuple<std::uint32_t, SockAddr, SockAddr>;  // netns, local, remote
  struct PendingTw {
    std::uint64_t tw = 0;
    std::int64_t t_ns = 0;
    TcpState state = TcpState::TIME_WAIT;
  };

  std::uint64_t identity(std::uint64_t object) const;
  void emit(const state_event& e, std::int64_t t_ns, std::uint64_t id, TcpState from, TcpState to,
            std::string source);
  void on_state(const state_event& e);

  Sink sink_;
  std::unordered_map<std::uint64_t, std::uint64_t> alias_;  // object -> its life's identity
  std::map<Key, PendingTw> pending_tw_;                     // hashed, full socket not closed yet
  std::map<Key, std::uint64_t> live_req_;                   // request sockets in SYN_RECV
  std::set<std::uint64_t> children_;                        // requests that became full sockets
};

// The record's addresses as the wire shows them (v4-mapped IPv6 as IPv4).
FourTuple tuple_of(const state_event& e);
// Why a minisocket or a request socket ended, in words.
std::string end_reason(const state_event& e);

}  // namespace tcpfault
