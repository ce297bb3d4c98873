#include "harness/roles/roles.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace tcpfault {
namespace {

using Connection = RoleTracker::Connection;

constexpr std::array<std::pair<Role, const char*>, 13> kRoleNames{{
    {SYN, "SYN"},
    {SYN_ACK, "SYN_ACK"},
    {HANDSHAKE_ACK, "HANDSHAKE_ACK"},
    {DATA, "DATA"},
    {PURE_ACK, "PURE_ACK"},
    {FIN, "FIN"},
    {ACK_OF_FIN, "ACK_OF_FIN"},
    {FINAL_ACK, "FINAL_ACK"},
    {RST_ROLE, "RST"},
    {KEEPALIVE, "KEEPALIVE"},
    {WINDOW_PROBE, "WINDOW_PROBE"},
    {RETRANSMISSION, "RETRANSMISSION"},
    {COPY, "COPY"},
}};

// RFC 7323 2.3: a larger shift is taken as 14.
constexpr std::uint8_t kMaxWindowShift = 14;

// Serial-number order (RFC 1982): sequence numbers wrap at 2^32.
bool before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

bool is_pure_ack(const Packet& p) {
  return p.has(tcp_flag::ACK) && p.payload_len == 0 &&
         !p.has(tcp_flag::SYN | tcp_flag::FIN | tcp_flag::RST);
}

// An ACK that may carry one of the ACK roles: SYN and RST segments never do.
bool is_plain_ack(const Packet& p) {
  return p.has(tcp_flag::ACK) && !p.has(tcp_flag::SYN | tcp_flag::RST);
}

// The roles the header flags alone give.
Roles flag_roles(const Packet& p) {
  Roles r = 0;
  if (p.has(tcp_flag::SYN)) r |= p.has(tcp_flag::ACK) ? SYN_ACK : SYN;
  if (p.has(tcp_flag::FIN)) r |= FIN;
  if (p.has(tcp_flag::RST)) r |= RST_ROLE;
  if (is_pure_ack(p)) r |= PURE_ACK;
  return r;
}

// An RST's payload is a diagnostic, not stream data.
bool carries_data(const Packet& p) { return p.payload_len > 0 && !p.has(tcp_flag::RST); }

std::pair<SockAddr, SockAddr> pair_key(const SockAddr& a, const SockAddr& b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

// A connection seen from the sender of one segment.
struct View {
  const Connection& c;
  bool from_opener;
  const DirectionState& self;  // the sender's direction
  const DirectionState& peer;  // the receiver's direction
  bool crafted;                // made by the middlebox: a repeat is a COPY

  View(const Connection& conn, const Packet& p, bool made_by_middlebox = false)
      : c(conn),
        from_opener(p.source() == conn.opener),
        self(from_opener ? conn.from_opener : conn.to_opener),
        peer(from_opener ? conn.to_opener : conn.from_opener),
        crafted(made_by_middlebox) {}

  // What repeating something its end already sent makes of this segment.
  Roles repeat() const { return crafted ? COPY : RETRANSMISSION; }
  // The second FIN of the connection, sent by the end that did not close first.
  bool is_second_fin(const Packet& p) const { return p.has(tcp_flag::FIN) && c.fins > 0 && !sent_first_fin(); }

  bool sent_first_fin() const { return c.fins > 0 && from_opener == c.opener_fin_first; }
};

bool established(const Connection& c) {
  return c.from_opener.syn_seen && c.to_opener.syn_seen && c.from_opener.ack_seen &&
         c.to_opener.ack_seen;
}

// A SYN opens a new connection unless it repeats a SYN of the current one or is the
// other end's half of a simultaneous open.
bool starts_new_connection(const Connection* c, const Packet& p) {
  if (!p.has(tcp_flag::SYN) || p.has(tcp_flag::ACK)) return false;
  if (c == nullptr) return true;
  const DirectionState& sender = p.source() == c->opener ? c->from_opener : c->to_opener;
  // Another ISN from the same end is a new socket. The same ISN is the same SYN sent
  // again, even after an RST (the RST may have been dropped before the end saw it),
  // but not after both FINs were acknowledged: that end has been connected since.
  if (sender.syn_seen) return p.seq != sender.isn || (c->finished() && !c->reset);
  return c->finished();
}

// A probe-shaped segment (see probe_shaped) at snd_nxt - 1 while the peer's window is
// open, from an idle end: the peer has acknowledged everything it sent. A keepalive is
// sent only then (RFC 9293 3.8.4; Linux tcp_keepalive_timer waits while packets are out,
// and tcp_xmit_probe_skb sends it at snd_una - 1). Otherwise the segment at snd_nxt - 1 is
// a stale ACK that a FIN overtook, or (one byte) the last byte sent again.
bool is_keepalive(const View& v, const Packet& p) {
  if (v.peer.last_window == 0) return false;
  if (p.seq != v.self.snd_nxt - 1) return false;
  return v.peer.ack_seen && v.peer.last_ack == v.self.snd_nxt;
}

// A probe-shaped segment sent into a zero window: below what the peer acknowledged,
// the byte the peer has not taken yet, or one new byte.
bool is_window_probe(const View& v, const Packet& p) {
  if (v.peer.last_window != 0) return false;
  const std::uint32_t snd_una = v.peer.last_ack;
  if (p.seq == snd_una - 1) return true;
  return p.payload_len == 1 && (p.seq == snd_una || p.seq == v.self.snd_nxt);
}

// An ACK of at most one byte without SYN, FIN or RST, once the connection is established.
bool probe_shaped(const View& v, const Packet& p) {
  return established(v.c) && p.has(tcp_flag::ACK) &&
         !p.has(tcp_flag::SYN | tcp_flag::FIN | tcp_flag::RST) && p.payload_len <= 1;
}

bool repeats_sequence_space(const View& v, const Packet& p) {
  if (p.has(tcp_flag::SYN)) {
    // The SYN-ACK of a simultaneous open shares the SYN's sequence number but is
    // the first of its kind; only a second SYN-ACK repeats one.
    return v.self.syn_seen && (!p.has(tcp_flag::ACK) || v.self.ack_seen);
  }
  return v.self.syn_seen && p.seq_len() > 0 && before(p.seq, v.self.snd_nxt);
}

// A pure ACK behind its sender's snd_nxt, acknowledging nothing its sender had not
// acknowledged already, that no probe explains: built before a segment of its sender that
// overtook it on the way (Linux builds an ACK on the CPU that received the segment it
// answers, so a delayed ACK can leave a few us after a FIN that close() sent on another CPU).
bool is_stale_ack(const View& v, const Packet& p) {
  return is_pure_ack(p) && v.self.syn_seen && before(p.seq, v.self.snd_nxt) && v.self.ack_seen &&
         !before(v.self.last_ack, p.ack);
}

Roles handshake_ack_roles(const View& v, const Packet& p) {
  if (!v.from_opener || !is_plain_ack(p) || !v.self.syn_seen || !v.peer.syn_seen) return 0;
  const std::uint32_t after_isn = v.self.isn + 1;
  if (p.seq != after_isn || p.ack != v.peer.isn + 1 || v.self.snd_nxt != after_isn) return 0;
  if (v.c.handshake_acks == 0) return HANDSHAKE_ACK;
  if (!is_pure_ack(p)) return 0;
  if (v.crafted) return HANDSHAKE_ACK | COPY;  // the same ACK again, made by the middlebox
  // Answers to SYN-ACKs that came again; any other is an ordinary duplicate ACK
  // (answering a keepalive, say).
  if (v.c.handshake_acks < v.c.synacks) return HANDSHAKE_ACK | RETRANSMISSION;
  return 0;
}

Roles ack_of_fin_roles(const View& v, const Packet& p) {
  if (v.c.fins == 0 || v.sent_first_fin() || !is_plain_ack(p)) return 0;
  const std::uint32_t target = v.peer.fin_seq + 1;
  if (before(p.ack, target)) return 0;
  if (!v.c.ack_of_fin) return ACK_OF_FIN;
  // Repeats count while the FIN is still the latest thing this side acknowledged.
  if (!is_pure_ack(p) || p.ack != target || !v.self.ack_seen || v.self.last_ack != target)
    return 0;
  const RoleTracker::AckSent repeat{p.seq, p.ack, p.flags};
  if (*v.c.ack_of_fin == repeat) return ACK_OF_FIN | v.repeat();
  return ACK_OF_FIN;
}

Roles final_ack_roles(const View& v, const Packet& p) {
  if (v.c.fins < 2 || !v.sent_first_fin() || !is_plain_ack(p)) return 0;
  const std::uint32_t target = v.peer.fin_seq + 1;
  if (before(p.ack, target)) return 0;
  if (v.c.final_acks == 0) return FINAL_ACK;
  if (!is_pure_ack(p) || p.ack != target) return 0;
  if (v.crafted) return FINAL_ACK | COPY;  // nothing is left to send: it is the same ACK
  if (v.c.final_acks < v.c.second_fins) return FINAL_ACK | RETRANSMISSION;
  return 0;
}

int fin_number(const View& v) {
  if (v.self.fin_seen) return v.sent_first_fin() ? 1 : 2;
  return v.c.fins + 1;
}

Classified describe(const Connection& c, const Packet& p, bool crafted) {
  const View v(c, p, crafted);
  Classified out;
  out.connection = c.id;
  out.from_opener = v.from_opener;

  Roles r = flag_roles(p);
  const bool probe_shape = probe_shaped(v, p);
  const bool keepalive = probe_shape && is_keepalive(v, p);
  const bool window_probe = probe_shape && is_window_probe(v, p);
  if (keepalive) r |= KEEPALIVE;
  if (window_probe) r |= WINDOW_PROBE;
  if (!keepalive && !window_probe) {
    if (carries_data(p)) r |= DATA;
    if (repeats_sequence_space(v, p)) r |= v.repeat();
  }
  if (keepalive || window_probe || !is_stale_ack(v, p)) {
    r |= handshake_ack_roles(v, p);
    r |= ack_of_fin_roles(v, p);
    r |= final_ack_roles(v, p);
  }
  out.roles = r;
  if (p.has(tcp_flag::FIN)) out.fin_number = fin_number(v);
  return out;
}

void learn_syn(Connection& c, DirectionState& self, const Packet& p) {
  self.syn_seen = true;
  self.isn = p.seq;
  self.snd_nxt = p.seq;
  if (p.options.wscale) self.syn_wscale = std::min(*p.options.wscale, kMaxWindowShift);
  // Scaling is on only when both SYNs offered it.
  if (c.from_opener.syn_wscale && c.to_opener.syn_wscale) {
    c.from_opener.wscale = *c.from_opener.syn_wscale;
    c.to_opener.wscale = *c.to_opener.syn_wscale;
  }
}

void learn_fin(Connection& c, DirectionState& self, bool from_opener, const Packet& p) {
  if (self.fin_seen) return;
  self.fin_seen = true;
  self.fin_seq = p.seq + p.seq_len() - 1;  // the FIN is the last number
  if (c.fins++ == 0) c.opener_fin_first = from_opener;
}

// A segment its receiver never got: the window it offered is not the one the receiver has.
void forget_window(Connection& c, const Packet& p) {
  DirectionState& sender = p.source() == c.opener ? c.from_opener : c.to_opener;
  sender.last_window = sender.window_before;
}

// What a segment's receiver will answer: each SYN-ACK and each second FIN, whoever sent
// it (the end itself, a copy, a crafted one). `delta` is -1 when the middlebox lost it.
void count_answerable(Connection& c, const Packet& p, int delta) {
  const View v(c, p);
  if (p.has(tcp_flag::SYN) && p.has(tcp_flag::ACK) && !v.from_opener) c.synacks += delta;
  if (v.is_second_fin(p)) c.second_fins += delta;
}

void learn(Connection& c, const Packet& p, const Classified& seen) {
  const bool from_opener = seen.from_opener;
  DirectionState& self = from_opener ? c.from_opener : c.to_opener;
  // A stale ACK carries an older window (and ACK number) than the segment that overtook it.
  const bool stale = is_stale_ack(View(c, p), p) && !(seen.roles & (KEEPALIVE | WINDOW_PROBE));

  if (p.has(tcp_flag::SYN) && !self.syn_seen) learn_syn(c, self, p);
  if (p.has(tcp_flag::FIN)) learn_fin(c, self, from_opener, p);
  count_answerable(c, p, +1);
  const std::uint32_t end = p.seq + p.seq_len();
  if (self.syn_seen && p.seq_len() > 0 && before(self.snd_nxt, end)) self.snd_nxt = end;
  if (p.has(tcp_flag::ACK)) {
    // Reordered ACKs never take back what was acknowledged.
    if (!self.ack_seen || !before(p.ack, self.last_ack)) self.last_ack = p.ack;
    self.ack_seen = true;
  }
  self.window_before = self.last_window;  // what its peer keeps if the middlebox loses it
  // An RST's window means nothing (Linux sends 0); a SYN's is never scaled.
  if (!p.has(tcp_flag::RST) && !stale) {
    self.last_window = p.has(tcp_flag::SYN) ? p.window
                                            : static_cast<std::uint32_t>(p.window) << self.wscale;
  }
  if (p.options.timestamp) self.last_tsval = p.options.timestamp->first;
  if (p.has(tcp_flag::RST)) c.reset = true;

  if (seen.roles & HANDSHAKE_ACK) ++c.handshake_acks;
  if (seen.roles & ACK_OF_FIN) c.ack_of_fin = RoleTracker::AckSent{p.seq, p.ack, p.flags};
  if (seen.roles & FINAL_ACK) ++c.final_acks;
}

}  // namespace

Roles roles_from_flags(const Packet& p) { return flag_roles(p); }

std::string roles_string(Roles r) {
  std::string out;
  for (const auto& [role, name] : kRoleNames) {
    if ((r & role) == 0) continue;
    if (!out.empty()) out += '|';
    out += name;
  }
  return out.empty() ? "NONE" : out;
}

std::optional<Role> role_from_name(const std::string& name) {
  std::string canonical;
  for (char ch : name) {
    canonical += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (canonical == "RST_ROLE") return RST_ROLE;
  for (const auto& [role, role_name] : kRoleNames) {
    if (canonical == role_name) return role;
  }
  return std::nullopt;
}

Classified RoleTracker::classify(const Packet& p, bool injected) {
  const auto key = pair_key(p.source(), p.destination());
  auto it = connections_.find(key);
  Connection* current = it == connections_.end() ? nullptr : &it->second;

  if (starts_new_connection(current, p)) {
    Connection fresh;
    fresh.opener = p.source();
    fresh.listener = p.destination();
    // A crafted SYN is judged as an opener would be, but opens nothing (id 0).
    if (injected) {
      crafted_syns_.insert_or_assign(key, CraftedSyn{p.destination(), p.seq});
      return describe(fresh, p, true);
    }
    fresh.id = next_id_++;
    current = &(connections_[key] = fresh);
  }
  if (current == nullptr) {
    Classified out;
    out.roles = flag_roles(p);
    if (carries_data(p)) out.roles |= DATA;
    return out;
  }
  Classified out = describe(*current, p, injected);
  if (!injected && first_answer_to_crafted_syn(key, p)) out.roles &= ~RETRANSMISSION;
  if (injected)
    count_answerable(*current, p, +1);
  else
    learn(*current, p, out);
  return out;
}

bool RoleTracker::first_answer_to_crafted_syn(const PairKey& key, const Packet& p) {
  auto it = crafted_syns_.find(key);
  if (it == crafted_syns_.end()) return false;
  CraftedSyn& syn = it->second;
  const bool answers = p.has(tcp_flag::SYN) && p.has(tcp_flag::ACK) && p.source() == syn.receiver &&
                       p.ack == syn.isn + 1;
  if (!answers || syn.answered_with == p.seq) return false;  // not its answer, or that answer again
  syn.answered_with = p.seq;
  return true;
}

Classified RoleTracker::copy_of(const Packet& p, const Classified& original) {
  Classified out = original;
  out.roles |= COPY;
  auto it = connections_.find(pair_key(p.source(), p.destination()));
  if (it != connections_.end() && it->second.id == original.connection && original.connection)
    count_answerable(it->second, p, +1);
  return out;
}

void RoleTracker::lost(const Packet& p) {
  auto it = connections_.find(pair_key(p.source(), p.destination()));
  if (it == connections_.end()) return;
  count_answerable(it->second, p, -1);
  forget_window(it->second, p);
}

const RoleTracker::Connection* RoleTracker::find(const SockAddr& a, const SockAddr& b) const {
  auto it = connections_.find(pair_key(a, b));
  return it == connections_.end() ? nullptr : &it->second;
}

}  // namespace tcpfault
