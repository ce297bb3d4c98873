// Each end's TCP state as the wire shows it: a reference RFC 9293 (3.3.2) state machine
// per end, fed by what the middlebox saw in both directions. It infers the states of
// stacks that cannot be asked (no sock_diag, no tracepoint) and cross-checks those that can.
//
// An end's own segments move it when they leave (whatever the middlebox then does to
// them); a segment moves its receiver only if it was delivered: passed, injected, or
// held and later let go (at released_ns). Dropped segments and those still held count
// for their sender only. Steps are dated by the segment that shows them, so a step
// driven by something the wire cannot show (the application's close() before its FIN,
// a listener's LISTEN) is dated by its first visible consequence and says so.
//
// Rules followed where RFC 9293 leaves a choice, as Linux does:
// - RST (RFC 5961 3.2, adopted by RFC 9293 3.10.7.4): it resets only at exactly the
//   receiver's rcv_nxt (as the middlebox saw it delivered); in CLOSE_WAIT, CLOSING and
//   LAST_ACK also at rcv_nxt - 1 (tcp_reset_check). In the window otherwise: a challenge
//   ACK, no change; outside it: ignored. In SYN_SENT only an RST that acknowledges the SYN.
// - A FIN that also acknowledges the receiver's FIN is handled ACK first (tcp_rcv_state_
//   process before tcp_fin): FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT, two steps at one time.
// - A FIN counts once its sequence number is reached: after it, in order, all the data
//   before it was delivered.
// - Passive open: the listener's child is in SYN_RECV from the SYN it answered; an RST
//   there sends it back to LISTEN (RFC 9293; Linux drops the request socket).
// - A SYN the middlebox crafted opens no connection for the role tracker but reaches the
//   socket of its 4-tuple: it counts for the latest connection there. A passive end whose
//   connection is over (CLOSED, or back in LISTEN) that answers it with a SYN-ACK is its
//   listener's new child: LISTEN -> SYN_RECV at the SYN, with fresh sequence spaces. In
//   SYN_RECV an unacceptable ACK is answered with <SEQ=SEG.ACK><CTL=RST>, no change.
// - A segment the middlebox rewrote (a modify rule, an ISN shift) moves its sender as it
//   was sent and its receiver as it was delivered (SegmentEvent::delivered).
// - Delivered segments count for their receiver once its next segment shows it took
//   them: those its ACK covers before it, the others (they crossed it) after it. An RST
//   without ACK is a host's answer to a segment that met no socket (its seq echoes that
//   segment's ACK): what came before that segment counts before it. A delivered
//   RST takes no sequence space, so no ACK orders it: it counts after any segment but
//   an RST (a reset end sends nothing else).
// - A segment reaches the socket holding its 4-tuple: when a new connection reuses the
//   tuple while the receiver's end of an older one is still synchronized (a SYN that
//   meets a LAST_ACK socket), its SYN and what falls in the old receive window count
//   for the old end (Linux answers the SYN with a challenge ACK and takes the RST that
//   answers it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/tcp_state.h"
#include "harness/trace/trace.h"

namespace tcpfault {

enum class WireEnd { Opener, Acceptor };  // opener: sent the connection's first SYN
std::string to_string(WireEnd e);

// What shows a step on the wire.
enum class Evidence {
  Sent,      // a segment the end sent (dated when the middlebox saw it)
  Received,  // a segment delivered to the end (dated when it was passed or let go)
};
std::string to_string(Evidence e);

struct InferredStep {
  std::int64_t t_ns = 0;
  TcpState from = TcpState::CLOSED;
  TcpState to = TcpState::CLOSED;
  Evidence evidence = Evidence::Sent;
  std::uint64_t segment = 0;  // the trace id of the segment that shows it
  std::string reason;         // "received FIN", "sent FIN (the close() before it is not on the wire)" ...
};

struct InferredEnd {
  WireEnd end = WireEnd::Opener;
  SockAddr addr;
  Host host = Host::Client;
  bool seen = false;           // false: this end neither sent nor received anything
  TcpState initial = TcpState::CLOSED;
  std::string initial_reason;  // why the state before the first step is what it is
  std::vector<InferredStep> steps;
  // What the wire cannot tell about this end (a TIME_WAIT's expiry, a close not yet
  // sent) and segments that moved nothing worth knowing (an RST outside the window).
  std::vector<std::string> notes;

  TcpState final_state() const { return steps.empty() ? initial : steps.back().to; }
  // The states in order, the initial one first: {CLOSED, SYN_SENT, ESTABLISHED, ...}.
  std::vector<TcpState> states() const;
};

struct InferredConnection {
  std::uint64_t id = 0;  // the role tracker's connection id (Classified::connection)
  InferredEnd opener, acceptor;
  const InferredEnd& end(WireEnd e) const { return e == WireEnd::Opener ? opener : acceptor; }
};

// delivered_at (when a segment reached its receiver) is the trace's: harness/trace/trace.h.

// Infers from segments in the order the middlebox saw them (trace arrival order).
// Segments with no connection (Classified::connection == 0) are left out, but for a SYN
// the middlebox crafted (see above).
std::vector<InferredConnection> infer_wire_states(const std::vector<SegmentEvent>& segments);
// From a scenario's trace (refreshes nothing: the segments are the middlebox's own).
std::vector<InferredConnection> infer_wire_states(const Trace& trace);

// One line per step: "opener 198.18.1.1:40000: CLOSED -> SYN_SENT at +0.000 ms (sent SYN)".
std::string describe(const InferredConnection& c, std::int64_t origin_ns = 0);

}  // namespace tcpfault
