#include "harness/scenario/socket_end.h"

#include <cerrno>

#include "harness/wire/wire_states.h"

namespace tcpfault {

namespace {

// What an end sent right as an RST reached it crossed that RST on the wire (the verdict
// loop may see it that much later on a loaded machine); what it sends later shows it lived
// on: a retransmission, a keepalive, data (no retransmission timer is this short).
constexpr std::int64_t kCrossing_ns = 100'000'000;

bool begins_a_life(TcpState from) { return from == TcpState::CLOSED || from == TcpState::LISTEN; }

// The index of the step before `i` that changes the state, or -1.
int previous_step(const std::vector<TransitionEvent>& ts, int i) {
  for (int j = i - 1; j >= 0; --j)
    if (ts[j].from != ts[j].to) return j;
  return -1;
}

std::string sender(Host h) { return h == Host::Middlebox ? "the middlebox" : "the " + netns::to_string(h); }

std::string with_fate(const std::string& text, const std::string& fate) {
  return fate.empty() || fate == "passed" ? text : text + " (" + fate + ")";
}

// What the segments of the socket's life say about its end.
struct EndEvidence {
  struct Rst {
    std::int64_t t_ns = 0;
    Host from = Host::Client;
    std::string fate;
  };
  std::optional<Rst> rst_in;         // the last RST delivered to it before it closed
  std::int64_t last_in_ns = 0;       // when the last segment was delivered to it
  std::int64_t last_out_ns = 0;      // when it last sent something other than an RST
  std::optional<Rst> own_rst;        // an RST|ACK it sent as it closed (an abort)
  std::int64_t first_in_after_ns = 0;  // the first segment delivered to it after it closed
};

EndEvidence read_segments(const Trace& trace, const SocketRef& s, std::int64_t from_ns, std::int64_t closed_ns) {
  EndEvidence e;
  const FourTuple& t = s.tuple;
  trace.visit_segments(0, [&](const SegmentEvent& g) {
    if (g.t_ns < from_ns) return;
    const bool to_it = g.packet.source() == t.remote && g.packet.destination() == t.local;
    const bool from_it = g.packet.source() == t.local && g.packet.destination() == t.remote;
    if (to_it) {
      const auto delivered = delivered_at(g);
      if (!delivered) return;
      if (*delivered > closed_ns) {
        if (!e.first_in_after_ns || *delivered < e.first_in_after_ns) e.first_in_after_ns = *delivered;
        return;
      }
      e.last_in_ns = std::max(e.last_in_ns, *delivered);
      const Packet& got = g.delivered ? *g.delivered : g.packet;  // a rule may have made it an RST
      if (got.has(tcp_flag::RST) && (!e.rst_in || *delivered >= e.rst_in->t_ns))
        e.rst_in = EndEvidence::Rst{*delivered, g.from, g.fate};
    } else if (from_it) {
      if (!g.packet.has(tcp_flag::RST)) {
        e.last_out_ns = std::max(e.last_out_ns, g.t_ns);
      } else if (!e.own_rst && g.packet.has(tcp_flag::ACK)) {
        e.own_rst = EndEvidence::Rst{g.t_ns, g.from, g.fate};
      }
    }
  });
  return e;
}

// The first call on the socket that failed with an errno (not a deadline of the harness).
std::optional<CallEvent> failed_call(const Trace& trace, const SocketRef& s, std::int64_t from_ns) {
  for (const auto& ev : trace.other_events()) {
    const auto* c = std::get_if<CallEvent>(&ev);
    if (!c || c->host != s.host || !c->socket || *c->socket != s.tuple || c->t_ns < from_ns) continue;
    if (c->err == 0 || c->err == EAGAIN || c->err == EINPROGRESS) continue;
    return *c;
  }
  return std::nullopt;
}

// A connect() on the 4-tuple, from either end, begun after `ns`: a new socket may be
// on its way there.
bool reopened_after(const Trace& trace, const SocketRef& s, std::int64_t ns) {
  for (const auto& ev : trace.other_events()) {
    const auto* c = std::get_if<CallEvent>(&ev);
    if (!c || !c->socket || c->call.rfind("connect(", 0) != 0) continue;
    const bool same = (c->host == s.host && *c->socket == s.tuple) ||
                      (c->host != s.host && *c->socket == s.tuple.reversed());
    if (same && c->t_ns - c->duration_ns > ns) return true;
  }
  return false;
}

}  // namespace

std::optional<SocketEnd> socket_end(const Trace& trace, const SocketRef& s,
                                    const std::vector<TransitionEvent>& ts, bool gone, bool whole_only) {
  if (!gone) return std::nullopt;
  int last = previous_step(ts, static_cast<int>(ts.size()));
  if (last < 0 || ts[last].to != TcpState::CLOSED) return std::nullopt;
  const TransitionEvent& end = ts[last];
  if (reopened_after(trace, s, end.t_ns)) return std::nullopt;

  SocketEnd out;
  out.closed_ns = end.t_ns;
  out.from = end.from;
  // Back to the step that began this life; a break in the chain is a step the record lacks.
  out.whole = true;
  int first = last;
  while (!begins_a_life(ts[first].from)) {
    int before = previous_step(ts, first);
    if (before < 0) break;  // recorded from here on: nothing known to be missing
    if (ts[before].to != ts[first].from) {
      out.whole = false;
      break;
    }
    first = before;
  }
  if (whole_only && !out.whole) return std::nullopt;  // before reading a long timeline again
  // Segments and calls after the previous life ended belong to this one.
  const int previous = previous_step(ts, first);
  const std::int64_t since_ns = previous < 0 ? 0 : ts[previous].t_ns;

  const std::string step = to_string(end.from) + " -> CLOSED at " + trace.offset(end.t_ns);
  const EndEvidence e = read_segments(trace, s, since_ns, end.t_ns);
  // Its own RST|ACK is an abort's (tcp_send_active_reset, as the socket closes, before or
  // after its step) unless a segment that reached it after it closed could have drawn it:
  // the host answers what meets no socket. A reset socket sends no RST of its own.
  const bool aborted = e.own_rst && (e.own_rst->t_ns <= end.t_ns || !e.first_in_after_ns ||
                                     e.own_rst->t_ns < e.first_in_after_ns);
  // The RST counts when it was the last thing the socket got and nothing it sent later
  // shows it lived on.
  const bool reset = e.rst_in && e.rst_in->t_ns >= e.last_in_ns && e.last_out_ns <= e.rst_in->t_ns + kCrossing_ns &&
                     !(aborted && e.own_rst->t_ns > e.rst_in->t_ns);
  if (reset)
    out.cause = with_fate("reset by the RST from " + sender(e.rst_in->from) + " at " + trace.offset(e.rst_in->t_ns),
                          e.rst_in->fate) + " (" + step + ")";
  else if (aborted)
    out.cause = with_fate("aborted: it sent an RST at " + trace.offset(e.own_rst->t_ns), e.own_rst->fate) + " (" +
                step + ")";
  else
    out.cause = step;
  out.named_by_rst = reset || aborted;
  if (auto call = failed_call(trace, s, since_ns))
    out.cause += "; " + call->call + " failed with " + errno_name(call->err) + " at " + trace.offset(call->t_ns);
  return out;
}

}  // namespace tcpfault
