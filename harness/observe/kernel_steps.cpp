#include "harness/observe/kernel_steps.h"

#include <cstring>

namespace tcpfault {

namespace {

Address address_of(const std::uint8_t* raw, std::uint16_t family) {
  Address a;
  a.family = family == 10 ? Family::V6 : Family::V4;
  std::memcpy(a.bytes.data(), raw, a.size());
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family == Family::V6 && std::memcmp(raw, mapped, 12) == 0) {
    Address v4;
    v4.family = Family::V4;
    std::memcpy(v4.bytes.data(), raw + 12, 4);
    return v4;
  }
  return a;
}

TcpState state(std::uint8_t s) { return static_cast<TcpState>(s); }

bool closing(TcpState s) {
  return s == TcpState::FIN_WAIT1 || s == TcpState::FIN_WAIT2 || s == TcpState::CLOSING;
}

}  // namespace

FourTuple tuple_of(const state_event& e) {
  return {{address_of(e.local, e.family), e.local_port}, {address_of(e.remote, e.family), e.remote_port}};
}

std::string end_reason(const state_event& e) {
  const bool tw = e.kind == SE_TW_END;
  switch (e.why) {
    case SE_END_TIMER:
      if (!tw) return "its SYN-ACK timer (tcp_synack_retries spent, or its listener gone)";
      return state(e.from) == TcpState::FIN_WAIT2 ? "its timer (tcp_fin_timeout)" : "its timer (TIME_WAIT's 60 s)";
    case SE_END_RST: return "an RST from the peer";
    case SE_END_RST_SENT:
      return tw ? "a segment it answered with an RST"
                : "a segment it answered with an RST (a full accept queue with tcp_abort_on_overflow, or an "
                  "unacceptable ACK)";
    case SE_END_SYN: return "a new SYN for its 4-tuple, taken by the listener";
    case SE_END_SEGMENT: return "a segment for its 4-tuple";
    default:
      return tw ? "no segment: a connect() took over its 4-tuple (tcp_tw_reuse), or its namespace went away"
                : "no segment: its listener closed, or an ICMP error for it";
  }
}

std::uint64_t KernelSteps::identity(std::uint64_t object) const {
  auto a = alias_.find(object);
  return a == alias_.end() ? object : a->second;
}

void KernelSteps::emit(const state_event& e, std::int64_t t_ns, std::uint64_t id, TcpState from, TcpState to,
                       std::string source) {
  Transition t;
  t.mono_ns = t_ns;
  t.socket = id;
  auto tuple = tuple_of(e);
  t.local = tuple.local;
  t.remote = tuple.remote;
  t.from = from;
  t.to = to;
  t.netns = e.netns;
  t.source = std::move(source);
  sink_(t);
}

void KernelSteps::add(const state_event& e) {
  const auto t = static_cast<std::int64_t>(e.t_ns);
  const auto tuple = tuple_of(e);
  const Key key{e.netns, tuple.local, tuple.remote};
  switch (e.kind) {
    case SE_STATE:
      on_state(e);
      return;
    case SE_TW_NEW:
      pending_tw_[key] = {e.object, t, state(e.to)};
      return;
    case SE_TW_SUBSTATE:
      emit(e, t, identity(e.object), TcpState::FIN_WAIT2, TcpState::TIME_WAIT,
           "bpf: timewait minisocket, the peer's FIN");
      return;
    case SE_TW_END: {
      if (auto p = pending_tw_.find(key); p != pending_tw_.end() && p->second.tw == e.object) pending_tw_.erase(p);
      emit(e, t, identity(e.object), state(e.from), TcpState::CLOSED,
           "bpf: timewait minisocket ended by " + end_reason(e));
      alias_.erase(e.object);
      return;
    }
    case SE_REQ_NEW:
      live_req_[key] = e.object;
      alias_.erase(e.object);
      emit(e, t, e.object, TcpState::LISTEN, TcpState::SYN_RECV, "bpf: request socket, hashed for a SYN");
      return;
    case SE_REQ_END: {
      if (children_.erase(e.object)) return;  // it became a full socket
      if (auto r = live_req_.find(key); r != live_req_.end() && r->second == e.object) live_req_.erase(r);
      const TcpState to = e.why == SE_END_RST ? TcpState::LISTEN : TcpState::CLOSED;
      emit(e, t, e.object, TcpState::SYN_RECV, to, "bpf: request socket dropped, by " + end_reason(e));
      return;
    }
    default:
      return;
  }
}

void KernelSteps::on_state(const state_event& e) {
  const auto t = static_cast<std::int64_t>(e.t_ns);
  const auto tuple = tuple_of(e);
  const Key key{e.netns, tuple.local, tuple.remote};
  const TcpState from = state(e.from), to = state(e.to);
  // A new life at this address (the kernel reuses freed sockets' memory).
  if (from == TcpState::CLOSED) alias_.erase(e.object);
  if (from == TcpState::LISTEN && to == TcpState::SYN_RECV) {
    alias_.erase(e.object);
    if (auto r = live_req_.find(key); r != live_req_.end()) {
      // The request socket's child: the same life goes on in the full socket.
      alias_[e.object] = r->second;
      children_.insert(r->second);
      live_req_.erase(r);
      return;
    }
  }
  if (to == TcpState::CLOSED && closing(from)) {
    if (auto p = pending_tw_.find(key); p != pending_tw_.end()) {
      const std::uint64_t id = identity(e.object);
      emit(e, p->second.t_ns, id, from, p->second.state, "bpf: handed to a timewait minisocket (tcp_time_wait)");
      alias_[p->second.tw] = id;
      pending_tw_.erase(p);
      alias_.erase(e.object);
      return;
    }
  }
  emit(e, t, identity(e.object), from, to, "bpf: inet_sock_set_state");
  if (to == TcpState::CLOSED) alias_.erase(e.object);
}

}  // namespace tcpfault
