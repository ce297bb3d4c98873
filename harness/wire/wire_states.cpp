#include "harness/wire/wire_states.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

namespace tcpfault {

std::string to_string(WireEnd e) { return e == WireEnd::Opener ? "opener" : "acceptor"; }
std::string to_string(Evidence e) { return e == Evidence::Sent ? "sent" : "received"; }

std::vector<TcpState> InferredEnd::states() const {
  std::vector<TcpState> out{initial};
  for (const auto& s : steps) out.push_back(s.to);
  return out;
}

namespace {

bool after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

// What the receiver got: a segment the middlebox rewrote (a modify rule, an ISN shift)
// counts for its receiver as rewritten and for its sender as sent.
const Packet& as_delivered(const SegmentEvent& s) { return s.delivered ? *s.delivered : s.packet; }
bool before_eq(std::uint32_t a, std::uint32_t b) { return !after(a, b); }

// One end's machine and what it has shown of its sequence space.
struct Machine {
  InferredEnd out;
  bool known = false;  // its state is determined (an acceptor's is not until it answers)
  TcpState state = TcpState::CLOSED;
  bool passive = false;
  // What it sent.
  bool isn_known = false;
  std::uint32_t isn = 0;
  bool fin_sent = false;
  std::uint32_t fin_seq = 0;
  std::optional<std::uint32_t> snd_nxt;  // past the highest sequence number it sent
  std::optional<std::uint8_t> syn_wscale;
  std::uint16_t last_window = 0;
  // What it received.
  bool rcv_known = false;
  std::uint32_t rcv_nxt = 0;
  struct Range {
    std::uint32_t seq, end;
    bool fin;
    std::uint64_t segment;
  };
  std::vector<Range> out_of_order;
  bool peer_fin_done = false;
  std::optional<std::pair<std::int64_t, std::uint64_t>> pending_syn;  // delivered before it answered
  // A SYN delivered to a passive end whose connection is over (CLOSED) or was reset back
  // to LISTEN: its listener's, which makes a new child if it answers with a SYN-ACK.
  struct ListenerSyn {
    std::int64_t t;
    std::uint64_t segment;
    std::uint32_t seq;
    bool crafted;
  };
  std::optional<ListenerSyn> listener_syn;
  // The ACK of an unacceptable segment it took in SYN_RECV: RFC 9293 3.10.7.4 answers it
  // with <SEQ=SEG.ACK><CTL=RST> and stays.
  std::optional<std::uint32_t> unacceptable_ack;
  // Delivered to it but not yet taken: its next segment's ACK tells whether they reached
  // it before that segment left (taken first) or crossed it (taken after).
  struct InFlight {
    std::int64_t t;
    const SegmentEvent* segment;
  };
  std::vector<InFlight> in_flight;
  std::int64_t last_t = 0;  // of its latest step: steps never go back in time

  void step(TcpState to, std::int64_t t, Evidence ev, std::uint64_t seg, std::string reason) {
    last_t = std::max(last_t, t);
    out.steps.push_back({last_t, state, to, ev, seg, std::move(reason)});
    state = to;
  }
  void note(std::uint64_t seg, const std::string& text) {
    out.notes.push_back("segment " + std::to_string(seg) + ": " + text);
  }
};

struct Pair {
  Machine opener, acceptor;
};

// In SYN_RECV an ACK is acceptable only if it acknowledges its SYN and no more.
bool acceptable_in_syn_recv(const Machine& m, const Packet& p) {
  return m.isn_known && after(p.ack, m.isn) && !(m.snd_nxt && after(p.ack, *m.snd_nxt));
}

class Inference {
 public:
  void sent(Machine& m, const SegmentEvent& s) {
    const Packet& p = s.packet;
    const std::uint64_t id = s.id;
    const std::int64_t t = s.arrived_ns();
    m.out.seen = true;
    const bool syn = p.has(tcp_flag::SYN), ack = p.has(tcp_flag::ACK), rst = p.has(tcp_flag::RST);
    if (syn) {
      m.isn_known = true;
      m.isn = p.seq;
      m.syn_wscale = p.options.wscale;
    }
    m.last_window = p.window;
    if (!rst) {
      const auto end = static_cast<std::uint32_t>(p.seq + p.seq_len());
      if (!m.snd_nxt || after(end, *m.snd_nxt)) m.snd_nxt = end;
    }
    bool new_fin = false;
    if (p.has(tcp_flag::FIN) && !rst) {
      const std::uint32_t fs = static_cast<std::uint32_t>(p.seq + p.payload_len + (syn ? 1 : 0));
      new_fin = !m.fin_sent;
      m.fin_sent = true;
      m.fin_seq = fs;
    }
    if (!m.known) {
      if (syn && !ack && !rst) {
        m.known = true;
        m.out.initial = TcpState::CLOSED;
        m.out.initial_reason = "before its SYN (the connect() that sent it is not on the wire)";
        m.state = TcpState::CLOSED;
        m.step(TcpState::SYN_SENT, t, Evidence::Sent, id, "sent SYN");
      } else if (syn && ack && !rst) {
        m.known = true;
        m.passive = true;
        m.out.initial = TcpState::LISTEN;
        m.out.initial_reason =
            "assumed: a listener's LISTEN is not visible on the wire; it answered a SYN with SYN-ACK";
        m.state = TcpState::LISTEN;
        if (m.pending_syn)
          m.step(TcpState::SYN_RECV, m.pending_syn->first, Evidence::Received, m.pending_syn->second,
                 "received SYN (shown by the SYN-ACK it answered with, segment " + std::to_string(id) + ")");
        else
          m.step(TcpState::SYN_RECV, t, Evidence::Sent, id,
                 "sent SYN-ACK (the SYN it answers was not seen delivered)");
      } else if (rst && m.pending_syn) {
        m.known = true;
        m.out.initial = TcpState::CLOSED;
        m.out.initial_reason = "no listener: it answered the SYN with RST";
        m.state = TcpState::CLOSED;
      } else {
        m.note(id, "sent " + flags_string(p.flags) + " before it showed its state: left out");
      }
      return;
    }
    if (syn && ack && !rst && m.listener_syn && p.ack == m.listener_syn->seq + 1 &&
        (m.state == TcpState::CLOSED || m.state == TcpState::LISTEN))
      return new_child(m, s);
    if (rst && m.state == TcpState::SYN_RECV && m.unacceptable_ack && p.seq == *m.unacceptable_ack) {
      m.unacceptable_ack.reset();
      m.note(id, "sent RST in SYN_RECV at the ACK of an unacceptable segment: its answer to it (RFC 9293 "
                 "3.10.7.4), no change");
      return;
    }
    if (rst && (m.state == TcpState::CLOSED || m.state == TcpState::LISTEN)) m.listener_syn.reset();
    if (rst) {
      switch (m.state) {
        case TcpState::CLOSED:
        case TcpState::LISTEN:
          break;
        case TcpState::SYN_SENT:
          m.note(id, "sent RST in SYN_SENT (the answer to an unacceptable ACK): no change");
          break;
        default:
          m.step(TcpState::CLOSED, t, Evidence::Sent, id,
                 "sent RST (an abort, or the answer to a segment it cannot take)");
      }
      return;
    }
    if (syn && ack && m.state == TcpState::SYN_SENT) {
      m.step(TcpState::SYN_RECV, t, Evidence::Sent, id,
             "sent SYN-ACK: it got the peer's SYN in SYN_SENT (simultaneous open)");
      return;
    }
    if (new_fin) {
      const std::string why = "sent FIN (the close()/shutdown() before it is not on the wire)";
      if (m.state == TcpState::ESTABLISHED || m.state == TcpState::SYN_RECV)
        m.step(TcpState::FIN_WAIT1, t, Evidence::Sent, id, why);
      else if (m.state == TcpState::CLOSE_WAIT)
        m.step(TcpState::LAST_ACK, t, Evidence::Sent, id, why);
      else
        m.note(id, "sent FIN in " + to_string(m.state) + ": no step inferred");
    }
  }

  void received(Machine& m, const Machine& peer, const SegmentEvent& s, std::int64_t t) {
    const Packet& p = as_delivered(s);
    const std::uint64_t id = s.id;
    m.out.seen = true;
    const bool syn = p.has(tcp_flag::SYN), ack = p.has(tcp_flag::ACK), rst = p.has(tcp_flag::RST);
    if (!m.known) {
      if (syn && !ack && !rst) {
        if (!m.pending_syn) m.pending_syn = {t, id};
        m.rcv_known = true;
        m.rcv_nxt = p.seq + 1;
      }
      return;
    }
    if (rst) return reset(m, peer, p, t, id);
    const bool acks_syn = ack && m.isn_known && after(p.ack, m.isn);
    if (m.state == TcpState::SYN_SENT) {
      if (syn && ack) {
        if (m.isn_known && p.ack == m.isn + 1) {
          m.rcv_known = true;
          m.rcv_nxt = p.seq + 1;
          m.step(TcpState::ESTABLISHED, t, Evidence::Received, id, "received SYN-ACK acknowledging its SYN");
        } else {
          m.note(id, "SYN-ACK that does not acknowledge its SYN: no change (it answers with RST)");
        }
      } else if (syn) {
        m.rcv_known = true;
        m.rcv_nxt = p.seq + 1;
        m.step(TcpState::SYN_RECV, t, Evidence::Received, id, "received SYN in SYN_SENT (simultaneous open)");
      }
      return;
    }
    if (syn && !ack && m.passive && (m.state == TcpState::CLOSED || m.state == TcpState::LISTEN)) {
      m.listener_syn = Machine::ListenerSyn{t, id, p.seq, s.from == Host::Middlebox};
      return;
    }
    if (syn) {
      if (!m.rcv_known) {
        m.rcv_known = true;
        m.rcv_nxt = p.seq + 1;
      }
      if (m.state == TcpState::SYN_RECV && acks_syn)
        m.step(TcpState::ESTABLISHED, t, Evidence::Received, id,
               "received SYN-ACK acknowledging its SYN (simultaneous open)");
      return;
    }
    if (m.state == TcpState::CLOSED || m.state == TcpState::LISTEN) return;
    if (ack && m.state == TcpState::SYN_RECV && !acceptable_in_syn_recv(m, p)) {
      m.unacceptable_ack = p.ack;
      m.note(id, "an ACK that does not acknowledge its SYN-ACK in SYN_RECV: unacceptable (RFC 9293 3.10.7.4), "
                 "answered with an RST, no change");
      return;
    }
    // An ACK of something it never sent: the segment is dropped and answered with an
    // ACK (RFC 9293 3.10.7.4), its FIN and data untaken.
    if (ack && m.snd_nxt && after(p.ack, *m.snd_nxt)) {
      m.note(id, "acknowledges " + std::to_string(p.ack - *m.snd_nxt) +
                     " byte(s) it never sent: dropped (RFC 9293 3.10.7.4), answered with an ACK");
      return;
    }
    // The ACK first, as Linux does (tcp_rcv_state_process, then tcp_data_queue -> tcp_fin).
    if (ack) {
      if (m.state == TcpState::SYN_RECV && acks_syn)
        m.step(TcpState::ESTABLISHED, t, Evidence::Received, id, "received the ACK of its SYN-ACK");
      if (m.fin_sent && after(p.ack, m.fin_seq)) {
        const std::string why = "received the ACK of its FIN";
        if (m.state == TcpState::FIN_WAIT1) m.step(TcpState::FIN_WAIT2, t, Evidence::Received, id, why);
        else if (m.state == TcpState::CLOSING) m.step(TcpState::TIME_WAIT, t, Evidence::Received, id, why);
        else if (m.state == TcpState::LAST_ACK) m.step(TcpState::CLOSED, t, Evidence::Received, id, why);
      }
    }
    if (!m.rcv_known || m.state == TcpState::SYN_RECV || m.state == TcpState::CLOSED) return;
    const bool fin = p.has(tcp_flag::FIN);
    const std::uint32_t end = static_cast<std::uint32_t>(p.seq + p.payload_len + (fin ? 1 : 0));
    if (!after(end, m.rcv_nxt)) {
      if (fin) m.note(id, "retransmitted FIN (already received): no change");
      return;
    }
    m.out_of_order.push_back({p.seq, end, fin, id});
    // Everything that now follows rcv_nxt in order is taken, a FIN last.
    for (bool moved = true; moved;) {
      moved = false;
      for (auto it = m.out_of_order.begin(); it != m.out_of_order.end(); ++it) {
        if (!before_eq(it->seq, m.rcv_nxt)) continue;
        const Machine::Range r = *it;
        m.out_of_order.erase(it);
        if (after(r.end, m.rcv_nxt)) {
          m.rcv_nxt = r.end;
          if (r.fin && !m.peer_fin_done) peer_fin(m, t, r.segment, r.segment == id ? 0 : id);
        }
        moved = true;
        break;
      }
    }
  }

 private:
  // Its listener answered a SYN delivered after this end's connection was over: a new
  // passive child on the same 4-tuple, its own sequence spaces, SYN_RECV from that SYN.
  static void new_child(Machine& m, const SegmentEvent& s) {
    const Packet& p = s.packet;
    const Machine::ListenerSyn syn = *m.listener_syn;
    m.listener_syn.reset();
    m.unacceptable_ack.reset();
    m.isn = p.seq;
    m.snd_nxt = static_cast<std::uint32_t>(p.seq + 1);
    m.fin_sent = false;
    m.fin_seq = 0;
    m.rcv_known = true;
    m.rcv_nxt = syn.seq + 1;
    m.out_of_order.clear();
    m.peer_fin_done = false;
    // The listener was in LISTEN all along: not a step of this end.
    m.state = TcpState::LISTEN;
    m.step(TcpState::SYN_RECV, syn.t, Evidence::Received, syn.segment,
           std::string("received SYN") + (syn.crafted ? " (crafted by the middlebox)" : "") +
               " after its connection was over: its listener's new child (shown by the SYN-ACK it answered "
               "with, segment " + std::to_string(s.id) + ")");
  }

  // `filler`: the segment that filled the hole before the FIN, 0 if it came in order.
  static void peer_fin(Machine& m, std::int64_t t, std::uint64_t id, std::uint64_t filler) {
    m.peer_fin_done = true;
    const std::string late =
        filler ? " (taken when segment " + std::to_string(filler) + " filled the hole before it)" : "";
    switch (m.state) {
      case TcpState::ESTABLISHED:
        m.step(TcpState::CLOSE_WAIT, t, Evidence::Received, id, "received FIN" + late);
        break;
      case TcpState::FIN_WAIT1:
        m.step(TcpState::CLOSING, t, Evidence::Received, id,
               "received FIN before the ACK of its own (simultaneous close)" + late);
        break;
      case TcpState::FIN_WAIT2:
        m.step(TcpState::TIME_WAIT, t, Evidence::Received, id, "received FIN" + late);
        break;
      default:
        m.note(id, "FIN received in " + to_string(m.state) + ": no step inferred");
    }
  }

  static void reset(Machine& m, const Machine& peer, const Packet& p, std::int64_t t, std::uint64_t id) {
    if (m.state == TcpState::SYN_SENT) {
      if (p.has(tcp_flag::ACK) && m.isn_known && p.ack == m.isn + 1)
        m.step(TcpState::CLOSED, t, Evidence::Received, id, "received RST acknowledging its SYN (refused)");
      else
        m.note(id, "RST that does not acknowledge its SYN: ignored in SYN_SENT");
      return;
    }
    if (m.state == TcpState::CLOSED || m.state == TcpState::LISTEN) return;
    if (!m.rcv_known) {
      m.note(id, "RST before any sequence number of the peer was delivered: ignored");
      return;
    }
    const std::string at = "seq " + std::to_string(p.seq) + ", rcv_nxt " + std::to_string(m.rcv_nxt);
    const bool half_closed =
        m.state == TcpState::CLOSE_WAIT || m.state == TcpState::CLOSING || m.state == TcpState::LAST_ACK;
    if (p.seq == m.rcv_nxt || (half_closed && p.seq == m.rcv_nxt - 1)) {
      const TcpState to = m.state == TcpState::SYN_RECV && m.passive ? TcpState::LISTEN : TcpState::CLOSED;
      std::string why = "received RST at rcv_nxt (" + at + ")";
      if (m.state == TcpState::TIME_WAIT) why += "; Linux ends TIME_WAIT on it (tcp_rfc1337 = 0, RFC 1337)";
      m.step(to, t, Evidence::Received, id, why);
      return;
    }
    // The receive window it last advertised, scaled once both SYNs offered scaling.
    std::uint64_t wnd = m.last_window;
    if (m.syn_wscale && peer.syn_wscale) wnd <<= *m.syn_wscale;
    const std::uint32_t off = p.seq - m.rcv_nxt;
    if (off < wnd)
      m.note(id, "RST in the window but not at rcv_nxt (" + at + "): a challenge ACK, no change (RFC 5961)");
    else
      m.note(id, "RST outside the window (" + at + "): ignored");
  }
};

// Whether `m`, an end of an older connection on the same 4-tuple, still holds it and
// takes `p`: it is in a synchronized state, and `p` is a SYN (answered with a challenge
// ACK) or falls in its receive window (an RST answering that challenge ACK does).
bool holds_tuple(const Machine& m, const Machine& peer, const Packet& p) {
  switch (m.state) {
    case TcpState::ESTABLISHED:
    case TcpState::FIN_WAIT1:
    case TcpState::FIN_WAIT2:
    case TcpState::CLOSE_WAIT:
    case TcpState::CLOSING:
    case TcpState::LAST_ACK:
      break;
    default:
      return false;
  }
  if (!m.known || !m.rcv_known) return false;
  if (p.has(tcp_flag::SYN)) return !p.has(tcp_flag::ACK);
  std::uint64_t wnd = m.last_window;
  if (m.syn_wscale && peer.syn_wscale) wnd <<= *m.syn_wscale;
  return static_cast<std::uint32_t>(p.seq - (m.rcv_nxt - 1)) <= wnd;
}

void closing_notes(Machine& m) {
  if (!m.known && m.pending_syn)
    m.out.notes.push_back("a SYN was delivered but it never answered: its state is not on the wire");
  switch (m.state) {
    case TcpState::TIME_WAIT:
      m.out.notes.push_back("TIME_WAIT ends after 2*MSL with no segment: its expiry is not visible on the wire");
      break;
    case TcpState::CLOSE_WAIT:
      m.out.notes.push_back("no FIN sent: whether the application closed is not visible on the wire");
      break;
    case TcpState::FIN_WAIT2:
      m.out.notes.push_back(
          "waits for the peer's FIN (an orphan's FIN_WAIT2 timeout is not visible on the wire)");
      break;
    case TcpState::LAST_ACK:
    case TcpState::FIN_WAIT1:
    case TcpState::CLOSING:
      m.out.notes.push_back("its FIN was never seen acknowledged to it (a retransmission timeout is not visible)");
      break;
    default:
      break;
  }
}

// Each segment's connection and whether it comes from that connection's opener: the
// role tracker's, except for a SYN the middlebox crafted, which opens nothing there
// (connection 0) but reaches the socket of its 4-tuple all the same: it goes to the
// latest connection on that tuple (its receiver there may be a listener's end whose
// connection is over, which answers it with a new child).
struct Attribution {
  std::uint64_t connection = 0;
  bool from_opener = false;
};
std::vector<Attribution> attribute(const std::vector<SegmentEvent>& segments) {
  std::vector<Attribution> out(segments.size());
  std::map<std::pair<SockAddr, SockAddr>, std::pair<std::uint64_t, SockAddr>> latest;  // tuple: connection, opener
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    const SockAddr src = s.packet.source(), dst = s.packet.destination();
    const auto tuple = src < dst ? std::pair{src, dst} : std::pair{dst, src};
    if (s.classified.connection) {
      out[i] = {s.classified.connection, s.classified.from_opener};
      auto& l = latest[tuple];
      if (s.classified.connection > l.first) l = {s.classified.connection, s.classified.from_opener ? src : dst};
      continue;
    }
    const Packet& p = s.packet;
    const bool crafted_syn = s.from == Host::Middlebox && p.has(tcp_flag::SYN) && !p.has(tcp_flag::ACK) &&
                             !p.has(tcp_flag::RST);
    if (auto l = latest.find(tuple); crafted_syn && l != latest.end())
      out[i] = {l->second.first, src == l->second.second};
  }
  return out;
}

}  // namespace

std::vector<InferredConnection> infer_wire_states(const std::vector<SegmentEvent>& segments) {
  const std::vector<Attribution> of = attribute(segments);
  // Sends when they reached the middlebox (the kernel's stamp: a busy verdict loop reads
  // them later, and what it delivered meanwhile had not reached their sender when it sent
  // them), deliveries when they happened: a send goes before its own delivery.
  struct Input {
    std::int64_t t;
    std::size_t index;
    bool delivery;
  };
  std::vector<Input> inputs;
  inputs.reserve(segments.size() * 2);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    if (!of[i].connection) continue;
    if (s.from != Host::Middlebox) inputs.push_back({s.arrived_ns(), i, false});
    if (auto at = delivered_at(s)) inputs.push_back({*at, i, true});
  }
  std::stable_sort(inputs.begin(), inputs.end(), [](const Input& a, const Input& b) {
    if (a.t != b.t) return a.t < b.t;
    if (a.index != b.index) return a.index < b.index;
    return !a.delivery && b.delivery;
  });

  std::map<std::uint64_t, Pair> pairs;
  std::map<std::pair<SockAddr, SockAddr>, std::vector<std::uint64_t>> on_tuple;  // connections, oldest first
  Inference inference;
  // Takes what was delivered to `m`; with `ack`, only what that ACK covers (it reached
  // `m` before the segment carrying the ACK left). An RST takes no sequence space, so
  // no ACK covers it: before a segment other than an RST it is kept for after it (an
  // end that had taken it would be closed and send nothing but RSTs).
  auto take = [&](Machine& m, const Machine& peer, std::optional<std::uint32_t> ack, bool keep_rsts = false) {
    std::vector<Machine::InFlight> later;
    for (const auto& d : m.in_flight) {
      const Packet& p = as_delivered(*d.segment);
      if ((keep_rsts && p.has(tcp_flag::RST)) ||
          (ack && !before_eq(static_cast<std::uint32_t>(p.seq + p.seq_len()), *ack))) {
        later.push_back(d);
        continue;
      }
      inference.received(m, peer, *d.segment, d.t);
    }
    m.in_flight = std::move(later);
  };
  // Before an RST without ACK: it answers the segment whose ACK it echoes, which met no
  // socket (the end's was gone), so that one and what came after count after the RST;
  // what was delivered before it was taken. Without such a segment, all of them. From
  // an end in SYN_RECV it answers an unacceptable ACK that end took: that one counts first.
  auto take_before_answered = [&](Machine& m, const Machine& peer, std::uint32_t rst_seq) {
    std::size_t answered = m.in_flight.size();
    for (std::size_t i = 0; i < m.in_flight.size(); ++i) {
      const Packet& p = as_delivered(*m.in_flight[i].segment);
      if (p.has(tcp_flag::ACK) && p.ack == rst_seq) answered = i;
    }
    std::vector<Machine::InFlight> later(m.in_flight.begin() + static_cast<std::ptrdiff_t>(answered), m.in_flight.end());
    m.in_flight.resize(answered);
    take(m, peer, std::nullopt);
    if (!later.empty() && m.state == TcpState::SYN_RECV &&
        !acceptable_in_syn_recv(m, as_delivered(*later.front().segment))) {
      m.in_flight = {later.front()};
      take(m, peer, std::nullopt);
      later.erase(later.begin());
    }
    m.in_flight = std::move(later);
  };
  for (const Input& in : inputs) {
    const SegmentEvent& s = segments[in.index];
    const std::uint64_t connection = of[in.index].connection;
    const bool from_opener = of[in.index].from_opener;
    auto [it, fresh] = pairs.try_emplace(connection);
    Pair& pr = it->second;
    const SockAddr src = s.packet.source(), dst = s.packet.destination();
    const std::pair<SockAddr, SockAddr> tuple = src < dst ? std::pair{src, dst} : std::pair{dst, src};
    if (fresh) {
      pr.opener.out.end = WireEnd::Opener;
      pr.acceptor.out.end = WireEnd::Acceptor;
      on_tuple[tuple].push_back(connection);
    }
    Machine& sender = from_opener ? pr.opener : pr.acceptor;
    Machine* receiver_of = from_opener ? &pr.acceptor : &pr.opener;
    if (in.delivery)
      // The receiving host hands a segment to the socket that holds its 4-tuple: an
      // older connection's, while that end is still in it, though the segment opens a
      // new one on the wire (a SYN reusing the tuple meets a LAST_ACK socket).
      for (std::uint64_t older : on_tuple[tuple]) {
        if (older == connection) break;
        Pair& op = pairs.at(older);
        const bool opener_gets = op.opener.out.addr == s.packet.destination();
        Machine& om = opener_gets ? op.opener : op.acceptor;
        Machine& peer = opener_gets ? op.acceptor : op.opener;
        // What reached it earlier did so before this segment (its final ACK, say).
        take(om, peer, std::nullopt);
        if (holds_tuple(om, peer, as_delivered(s))) {
          receiver_of = &om;
          break;
        }
      }
    Machine& receiver = *receiver_of;
    if (!in.delivery) {
      sender.out.addr = s.packet.source();
      sender.out.host = s.from;
      const Packet& p = s.packet;
      // Delivered segments its ACK does not cover crossed this one: they count after it.
      // A SYN without ACK covers nothing (it is never an answer: in a simultaneous open
      // the SYNs cross). An RST without ACK is an answer (to a segment for a socket that
      // is gone, or a bad ACK): what was delivered before it left was taken first.
      if (p.has(tcp_flag::ACK)) take(sender, receiver, p.ack, /*keep_rsts=*/!p.has(tcp_flag::RST));
      else if (p.has(tcp_flag::RST)) take_before_answered(sender, receiver, p.seq);
      inference.sent(sender, s);
      sender.last_t = std::max(sender.last_t, s.arrived_ns());
      take(sender, receiver, std::nullopt);
    } else {
      receiver.out.addr = s.packet.destination();
      receiver.out.host = s.to;
      receiver.in_flight.push_back({in.t, &s});
    }
  }
  for (auto& [id, pr] : pairs) {
    take(pr.opener, pr.acceptor, std::nullopt);
    take(pr.acceptor, pr.opener, std::nullopt);
  }
  std::vector<InferredConnection> out;
  for (auto& [id, pr] : pairs) {
    closing_notes(pr.opener);
    closing_notes(pr.acceptor);
    out.push_back({id, std::move(pr.opener.out), std::move(pr.acceptor.out)});
  }
  return out;
}

std::vector<InferredConnection> infer_wire_states(const Trace& trace) {
  std::vector<SegmentEvent> segments;
  trace.visit_segments(0, [&](const SegmentEvent& s) { segments.push_back(s); });
  return infer_wire_states(segments);
}

std::string describe(const InferredConnection& c, std::int64_t origin_ns) {
  std::string out;
  for (const InferredEnd* e : {&c.opener, &c.acceptor}) {
    const std::string who = to_string(e->end) + " " + e->addr.str();
    out += who + ": starts " + to_string(e->initial) + " (" + e->initial_reason + ")\n";
    for (const auto& s : e->steps) {
      char when[32];
      std::snprintf(when, sizeof when, "%+.3f ms", double(s.t_ns - origin_ns) / 1e6);
      out += who + ": " + to_string(s.from) + " -> " + to_string(s.to) + " at " + when + " (" + s.reason +
             ", segment " + std::to_string(s.segment) + ")\n";
    }
    for (const auto& n : e->notes) out += who + ": note: " + n + "\n";
  }
  return out;
}

}  // namespace tcpfault
