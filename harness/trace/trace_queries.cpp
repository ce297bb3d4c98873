#include "harness/trace/trace_queries.h"

#include <cstdint>
#include <map>
#include <variant>

namespace tcpfault {

std::vector<TransitionEvent> transitions_of(const std::vector<Event>& events, const SocketRef& s) {
  // A socket is named by its tuple, but a step may be recorded before the socket has all
  // of it: connect()'s CLOSED -> SYN_SENT before a port is chosen (local port 0), and on
  // older kernels (6.1) an accepted socket's LISTEN -> SYN_RECV before its peer's address
  // is copied in (remote port 0). Follow the kernel's socket identity back to such a
  // step: only to the one just before the socket's next step, which must go on from it,
  // since the kernel gives a freed socket's address to later sockets (connect()s that
  // fail before choosing a port, for one).
  std::map<std::uint64_t, TransitionEvent> addressless;  // by identity, the latest one
  std::vector<TransitionEvent> out;
  for (const auto& e : events) {
    auto* t = std::get_if<TransitionEvent>(&e);
    if (!t || t->host != s.host) continue;
    const bool no_local_port = t->local.port == 0 && t->remote == s.tuple.remote;
    const bool no_peer = t->remote.port == 0 && t->local.port == s.tuple.local.port;
    if (no_local_port || no_peer) {
      addressless[t->socket] = *t;
      continue;
    }
    if (t->local != s.tuple.local || t->remote != s.tuple.remote) continue;
    if (auto p = addressless.find(t->socket); p != addressless.end() && t->socket) {
      if (p->second.to == t->from) out.push_back(p->second);
      addressless.erase(p);
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
      if (selects(view_of(*s))) out.push_back(s);
  return out;
}

}  // namespace tcpfault
