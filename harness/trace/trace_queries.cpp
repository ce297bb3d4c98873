#include "harness/trace/trace_queries.h"

#include <cstdint>
#include <map>
#include <variant>

namespace tcpfault {

std::vector<TransitionEvent> transitions_of(const std::vector<Event>& events, const SocketRef& s) {
  // A socket is named by its tuple, but its first step (CLOSED -> SYN_SENT) is recorded
  // before it has a port: follow the kernel's socket identity back to it. Only to the
  // portless step just before the socket's next one: the kernel gives a freed socket's
  // address to later sockets, such as connect()s that fail before choosing a port.
  std::map<std::uint64_t, TransitionEvent> portless;  // by identity, the latest one
  std::vector<TransitionEvent> out;
  for (const auto& e : events) {
    auto* t = std::get_if<TransitionEvent>(&e);
    if (!t || t->host != s.host) continue;
    if (t->local.port == 0 && t->remote == s.tuple.remote) {
      portless[t->socket] = *t;
      continue;
    }
    if (t->local != s.tuple.local || t->remote != s.tuple.remote) continue;
    if (auto p = portless.find(t->socket); p != portless.end() && t->socket) {
      if (p->second.to == TcpState::SYN_SENT && t->from == TcpState::SYN_SENT) out.push_back(p->second);
      portless.erase(p);
    }
    out.push_back(*t);
  }
  return out;
}

std::vector<const SegmentEvent*> matching_segments(const std::vector<Event>& events, const Match& m) {
  std::vector<const SegmentEvent*> out;
  MatchCount selects(m);
  for (const auto& e : events)
    if (auto* s = std::get_if<SegmentEvent>(&e))
      if (selects(SegmentView{s->from, s->packet, s->classified})) out.push_back(s);
  return out;
}

}  // namespace tcpfault
