#include "harness/wire/wire_state_causes.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "netns/error.h"

namespace tcpfault {

std::string to_string(DisagreementCause c) {
  switch (c) {
    case DisagreementCause::RequestSocket: return "request-socket";
    case DisagreementCause::ConnectFailedLocally: return "connect-failed-locally";
    case DisagreementCause::FinNotSent: return "fin-not-sent";
    case DisagreementCause::TimerGaveUp: return "timer-gave-up";
    case DisagreementCause::OrphanFinWait2Timeout: return "orphan-fin-wait2-timeout";
    case DisagreementCause::TimeWaitNotKept: return "time-wait-not-kept";
    case DisagreementCause::MinisocketPolled: return "minisocket-polled";
    case DisagreementCause::TimeWaitEndUnrecorded: return "time-wait-end-unrecorded";
    case DisagreementCause::TimeWaitTakenOver: return "time-wait-taken-over";
    case DisagreementCause::ClosedInSynSent: return "closed-in-syn-sent";
    case DisagreementCause::ListenerClosed: return "listener-closed";
    case DisagreementCause::SocketGone: return "socket-gone";
    case DisagreementCause::ForeignSocket: return "foreign-socket";
    case DisagreementCause::TimeWaitExpired: return "time-wait-expired";
    case DisagreementCause::SynRecvChildClosed: return "syn-recv-child-closed";
    case DisagreementCause::SynCookieChild: return "syn-cookie-child";
    case DisagreementCause::StackDeviation: return "stack-deviation";
    case DisagreementCause::Unexplained: return "unexplained";
  }
  return "?";
}

namespace {

using St = TcpState;
using Cause = DisagreementCause;

// A kernel step and a wire step this close are about the same event (the kernel's
// timestamp and the middlebox's differ by the path between them).
constexpr std::int64_t kSameEvent_ns = 50'000'000;
// How far a kernel step may lie outside the socket call that made it (the call is
// timed in user space, around the system call).
constexpr std::int64_t kCallSlack_ns = 1'000'000;
// The SYN timer's first timeout is never shorter (Linux's TCP_TIMEOUT_INIT; gVisor's
// and lwIP's are as long or longer).
constexpr std::int64_t kFirstSynTimeout_ns = 1'000'000'000;

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }
bool from_minisocket(const AlignedStep& s) { return contains(s.kernel_source, "timewait minisocket"); }
// Recorded by the BPF observer when it happened, not polled (the fallback's steps are
// the perf tracepoint's and sock_diag's).
bool exact(const AlignedStep& s) { return s.kernel_source.rfind("bpf:", 0) == 0; }
bool kernel_only(const AlignedStep& s) { return s.agreement == StepAgreement::KernelOnly; }
bool wire_only(const AlignedStep& s) { return s.agreement == StepAgreement::WireOnly; }

// RFC 9293's state diagram (3.3.2) and its event processing (3.10): every step a
// conforming stack may take. SYN_RECV -> CLOSED is a child's reset or abort (the listener
// stays); X -> CLOSED from a synchronized state a reset, an abort or a timer.
bool rfc9293_step(St from, St to) {
  static const std::set<std::pair<St, St>> steps = {
      {St::CLOSED, St::LISTEN},          {St::CLOSED, St::SYN_SENT},         {St::LISTEN, St::SYN_RECV},
      {St::LISTEN, St::SYN_SENT},        {St::LISTEN, St::CLOSED},           {St::SYN_SENT, St::SYN_RECV},
      {St::SYN_SENT, St::ESTABLISHED},   {St::SYN_SENT, St::CLOSED},         {St::SYN_RECV, St::ESTABLISHED},
      {St::SYN_RECV, St::FIN_WAIT1},     {St::SYN_RECV, St::CLOSE_WAIT},     {St::SYN_RECV, St::LISTEN},
      {St::SYN_RECV, St::CLOSED},        {St::ESTABLISHED, St::FIN_WAIT1},   {St::ESTABLISHED, St::CLOSE_WAIT},
      {St::ESTABLISHED, St::CLOSED},     {St::FIN_WAIT1, St::FIN_WAIT2},     {St::FIN_WAIT1, St::CLOSING},
      {St::FIN_WAIT1, St::TIME_WAIT},    {St::FIN_WAIT1, St::CLOSED},        {St::FIN_WAIT2, St::TIME_WAIT},
      {St::FIN_WAIT2, St::CLOSED},       {St::CLOSE_WAIT, St::LAST_ACK},     {St::CLOSE_WAIT, St::CLOSED},
      {St::CLOSING, St::TIME_WAIT},      {St::CLOSING, St::CLOSED},          {St::LAST_ACK, St::CLOSED},
      {St::TIME_WAIT, St::CLOSED},
  };
  return steps.count({from, to}) > 0;
}

class Explainer {
 public:
  explicit Explainer(const ComparisonInput& in) : in_(in) {
    for (const auto& s : in.segments)
      if (s.classified.connection) of_connection_[s.classified.connection].push_back(&s);
  }

  void explain(EndComparison& e, std::uint64_t connection) {
    e_ = &e;
    connection_ = connection;
    paired_.clear();
    segments_ = connection ? &of_connection_[connection] : &none_;
    // Kernel-only steps first: some wire-only steps are explained by them.
    for (auto& s : e.steps)
      if (kernel_only(s)) set(s, e.agent() ? agent_step(s) : kernel_step(s));
    for (auto& s : e.steps)
      if (wire_only(s)) set(s, e.agent() ? agent_wire_step(s) : wire_step(s));
    if (e.agent()) deviation_consequences();
  }

 private:
  struct Verdict {
    Cause cause;
    std::string text;
  };

  static void set(AlignedStep& s, Verdict v) {
    s.cause = v.cause;
    s.explanation = std::move(v.text);
  }

  std::string at(std::int64_t t) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "+%.3f ms", double(t - in_.origin_ns) / 1e6);
    return buf;
  }
  static std::string seg(const SegmentEvent& s) { return "segment " + std::to_string(s.id); }
  static std::string step_name(const AlignedStep& s) { return to_string(s.from) + " -> " + to_string(s.to); }

  bool sent_by_end(const SegmentEvent& s) const {
    return s.from == e_->host && s.packet.source() == e_->local;
  }
  bool toward_end(const SegmentEvent& s) const {
    return s.to == e_->host && s.packet.destination() == e_->local;
  }

  // ---- steps only the kernel recorded ----

  Verdict kernel_step(const AlignedStep& s) {
    if (auto v = connect_failed(s)) return *v;
    if (auto v = taken_over(s)) return *v;
    if (!e_->on_wire) return foreign(s);
    if (auto v = closed_before_fin_sent(s)) return *v;
    if (s.from == St::FIN_WAIT2 && s.to == St::CLOSED && from_minisocket(s)) {
      // Only the fallback polls: the BPF observer records the TIME_WAIT in between.
      if (const AlignedStep* tw = wire_step_near(St::FIN_WAIT2, St::TIME_WAIT, s.kernel_t_ns, /*before=*/true);
          tw && !exact(s))
        return {Cause::MinisocketPolled, polled_text(*tw, s)};
      return {Cause::OrphanFinWait2Timeout,
              "tcp_fin_timeout" + sysctl_value("tcp_fin_timeout") +
                  " ended the orphan's FIN_WAIT2 minisocket at " + at(s.kernel_t_ns) +
                  "; a timer with no segment, and no FIN came from the peer before it"};
    }
    if (s.to == St::CLOSED && (s.from == St::FIN_WAIT2 || s.from == St::CLOSING) && !from_minisocket(s))
      if (const AlignedStep* tw = wire_step_near(s.from, St::TIME_WAIT, s.kernel_t_ns, false))
        return {Cause::TimeWaitNotKept, not_kept_text(*tw, s)};
    if (auto v = closed_in_syn_sent(s)) return *v;
    // The BPF observer sees a timewait minisocket's timer end it (TIME_WAIT's 60 s): a
    // scenario that lives that long (DT5 runs its transfer again in a second topology).
    if (s.from == St::TIME_WAIT && s.to == St::CLOSED && exact(s) && contains(s.kernel_source, "by its timer"))
      if (auto v = time_wait_expired(s)) return *v;
    // Only a request socket sits in SYN_RECV in the kernel; an RST or a segment it
    // answered with one would be on the wire.
    if (exact(s) && contains(s.kernel_source, "request socket dropped") && !contains(s.kernel_source, "RST"))
      if (auto v = listener_closed(s)) return *v;
    if (s.to == St::CLOSED && s.from != St::LISTEN && s.from != St::TIME_WAIT)
      if (auto v = timer_gave_up(s)) return *v;
    if (s.to == St::FIN_WAIT1 || s.to == St::LAST_ACK)
      if (auto v = fin_not_sent(s)) return *v;
    // A request socket the wire took further (its handshake ACK met a full accept queue)
    // and the kernel later dropped.
    if (s.from == St::SYN_RECV && contains(s.kernel_source, "request socket") && request_only())
      for (const auto& w : e_->steps)
        if (wire_only(w) && w.from == St::SYN_RECV && w.to == St::ESTABLISHED && w.wire_t_ns <= s.kernel_t_ns)
          return {Cause::RequestSocket,
                  "the kernel kept the request socket the wire took as ESTABLISHED at " + at(w.wire_t_ns) +
                      " (its handshake ACK met a full accept queue: ListenOverflows) and dropped it at " +
                      at(s.kernel_t_ns) + " (" + s.kernel_source + ")"};
    return {Cause::Unexplained, "no rule explains the kernel's " + step_name(s) + " at " + at(s.kernel_t_ns) +
                                    " (" + s.kernel_source + ")"};
  }

  // A failed connect() on the end's host around the step, for SYN_SENT and back.
  std::optional<Verdict> connect_failed(const AlignedStep& s) const {
    const bool syn_sent = (s.from == St::CLOSED && s.to == St::SYN_SENT) || (s.from == St::SYN_SENT && s.to == St::CLOSED);
    if (!syn_sent) return std::nullopt;
    for (const auto& c : in_.calls) {
      if (c.host != e_->host || !c.err || c.call.rfind("connect(", 0) != 0) continue;
      if (s.kernel_t_ns < c.t_ns - c.duration_ns - kCallSlack_ns || s.kernel_t_ns > c.t_ns + kCallSlack_ns) continue;
      // Its SYN never left: nothing from this end on the wire while the call ran.
      for (const auto* g : *segments_)
        if (sent_by_end(*g) && g->t_ns >= c.t_ns - c.duration_ns && g->t_ns <= c.t_ns) return std::nullopt;
      return Verdict{Cause::ConnectFailedLocally,
                     c.call + " failed with " + errno_name(c.err) + " at " + at(c.t_ns) +
                         " before a SYN left: the kernel set SYN_SENT and then CLOSED, nothing reached the wire"};
    }
    return std::nullopt;
  }

  // A TIME_WAIT minisocket the BPF observer saw end with no segment for its 4-tuple,
  // inside a connect() of its host toward the same peer: that connect() took it over.
  // An agent's step is its own event, made when it happened, like the BPF observer's.
  std::optional<Verdict> taken_over(const AlignedStep& s) const {
    if (s.from != St::TIME_WAIT || s.to != St::CLOSED || !(exact(s) || e_->agent())) return std::nullopt;
    const std::string held =
        e_->agent() ? "the " + e_->stack + " stack's TIME_WAIT connection" : "the TIME_WAIT minisocket";
    // A new connection's SYN for the 4-tuple: what ended the minisocket (the SYN itself,
    // or an RST from the peer in that new connection's exchange) is that connection's.
    for (const auto& g : in_.segments) {
      const Packet& p = g.packet;
      if (!toward_end(g) || g.packet.source() != e_->remote || !p.has(tcp_flag::SYN) || p.has(tcp_flag::ACK)) continue;
      if (g.classified.connection == connection_ || g.t_ns > s.kernel_t_ns + kSameEvent_ns) continue;
      return Verdict{Cause::TimeWaitTakenOver,
                     "a new connection's SYN for its 4-tuple (" + seg(g) + " at " + at(g.t_ns) + ") met " + held +
                         ", which ended at " + at(s.kernel_t_ns) + " (" +
                         s.kernel_source + "); on the wire that is the new connection's exchange, and the old one "
                         "just stops"};
    }
    if (!contains(s.kernel_source, "no segment") && !e_->agent()) return std::nullopt;
    for (const auto& c : in_.calls) {
      if (c.host != e_->host || c.call.rfind("connect(", 0) != 0 || !contains(c.call, e_->remote.str())) continue;
      if (s.kernel_t_ns < c.t_ns - c.duration_ns - kCallSlack_ns || s.kernel_t_ns > c.t_ns + kCallSlack_ns) continue;
      return Verdict{Cause::TimeWaitTakenOver,
                     c.call + " at " + at(c.t_ns) + " took over the 4-tuple of " + held + ": the " +
                         (e_->agent() ? "stack" : "kernel") + " ended it at " + at(s.kernel_t_ns) +
                         " without a segment; on the wire the old connection just stops and the next SYN starts a "
                         "new one"};
    }
    return std::nullopt;
  }

  Verdict foreign(const AlignedStep& s) const {
    const AlignedStep* first = nullptr;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns && (!first || k.kernel_t_ns < first->kernel_t_ns)) first = &k;
    const bool started = first && ((first->from == St::CLOSED && first->to == St::SYN_SENT) ||
                                   (first->from == St::LISTEN && first->to == St::SYN_RECV));
    bool named = false;
    for (const auto& c : in_.calls)
      named = named || (c.host == e_->host && (contains(c.call, e_->remote.str()) || contains(c.call, e_->local.str())));
    // Between this topology's client and server every segment crosses the middlebox:
    // a socket of theirs that got synchronized did so in segments it saw.
    const AlignedStep* synchronized = nullptr;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns && k.to != St::SYN_SENT && k.to != St::CLOSED && k.to != St::LISTEN && !synchronized)
        synchronized = &k;
    if (started && named && !synchronized)
      return {Cause::Unexplained, "a kernel socket of this scenario's calls that the middlebox never saw: " +
                                      step_name(s) + " at " + at(s.kernel_t_ns)};
    std::string why = !started ? "its first recorded step is " + step_name(*first) + " at " + at(first->kernel_t_ns) +
                                     " (its start was never seen)"
                      : !named ? "no call of this scenario names " + e_->remote.str()
                               : "it reached " + to_string(synchronized->to) + " at " + at(synchronized->kernel_t_ns) +
                                     " without a segment through this middlebox, the only path between this "
                                     "topology's hosts";
    return {Cause::ForeignSocket,
            why + ", and none of its segments crossed this middlebox: not a socket of this scenario (the "
                  "tracepoint is machine-wide; an earlier topology's namespaces, still closing, or another "
                  "program use these addresses)"};
  }

  // The end's last segments were retransmissions (or probes) nobody answered, and the
  // kernel then closed it without a segment: a timer gave up.
  std::optional<Verdict> timer_gave_up(const AlignedStep& s) const {
    const SegmentEvent* last_sent = nullptr;
    std::int64_t last_delivery = 0;
    for (const auto* g : *segments_) {
      if (sent_by_end(*g) && g->t_ns <= s.kernel_t_ns) last_sent = g;
      if (toward_end(*g))
        if (auto d = delivered_at(*g); d && *d <= s.kernel_t_ns) last_delivery = std::max(last_delivery, *d);
    }
    if (!last_sent || last_delivery > last_sent->t_ns) return std::nullopt;
    const Roles retry = RETRANSMISSION | KEEPALIVE | WINDOW_PROBE;
    const bool unanswered_syn = s.from == St::SYN_SENT && (last_sent->classified.roles & Role::SYN);
    if (!(last_sent->classified.roles & retry) && !unanswered_syn) return std::nullopt;
    int tries = 0, dropped = 0;
    const SegmentEvent* first_try = nullptr;
    // The tries: what takes sequence space or probes (not the bare ACKs among them).
    for (const auto* g : *segments_)
      if (sent_by_end(*g) && g->t_ns > last_delivery && g->t_ns <= s.kernel_t_ns &&
          (g->packet.seq_len() || (g->classified.roles & (KEEPALIVE | WINDOW_PROBE)))) {
        ++tries;
        dropped += tcpfault::dropped(*g);
        if (!first_try) first_try = g;
      }
    // The last segment repeats a bare ACK (a retransmitted final ACK): no try to time out.
    if (!first_try) return std::nullopt;
    const Roles r = last_sent->classified.roles;
    std::string timer;
    if (e_->agent()) {
      timer = "the " + e_->stack + " stack's " +
              (s.from == St::SYN_SENT   ? std::string("SYN")
               : s.from == St::SYN_RECV ? std::string("SYN-ACK")
               : (r & KEEPALIVE)        ? std::string("keepalive")
               : (r & WINDOW_PROBE)     ? std::string("zero-window probe")
                                        : std::string("retransmission")) +
              " timer";
    } else if (s.from == St::SYN_SENT) timer = "the SYN timer (tcp_syn_retries" + sysctl_value("tcp_syn_retries") + ")";
    else if (s.from == St::SYN_RECV) timer = "the SYN-ACK timer (tcp_synack_retries)";
    else if (r & KEEPALIVE) timer = "keepalive (TCP_KEEPCNT probes)";
    else if (r & WINDOW_PROBE) timer = "the zero-window probe timer (tcp_retries2" + sysctl_value("tcp_retries2") + ")";
    else if (s.from == St::FIN_WAIT1 || s.from == St::CLOSING || s.from == St::LAST_ACK)
      timer = "the retransmission timer (tcp_orphan_retries" + sysctl_value("tcp_orphan_retries") +
              " for an orphan, else tcp_retries2" + sysctl_value("tcp_retries2") + ")";
    else timer = "the retransmission timer (tcp_retries2" + sysctl_value("tcp_retries2") + ")";
    return Verdict{Cause::TimerGaveUp,
                   std::to_string(tries) + " segment(s) from " + at(first_try->t_ns) + " to " + at(last_sent->t_ns) +
                       " (the last " + roles_string(r) + ", " + seg(*last_sent) + ") got no answer" +
                       (dropped ? " (" + std::to_string(dropped) + " dropped by the middlebox)" : "") + "; " +
                       timer + " gave up at " + at(s.kernel_t_ns) + " and the " + (e_->agent() ? "stack" : "kernel") +
                       " closed the " + (e_->agent() ? "connection" : "socket") + " sending nothing"};
  }

  // close() in SYN_SENT deletes the TCB and sends nothing (RFC 9293 3.10.4). The
  // application held the socket still connecting: its connect() gave up waiting
  // (EINPROGRESS). No timer did it: the step came sooner after the end's last SYN than
  // the SYN timer fires (its interval never shrinks while it backs off; the first one is
  // at least 1 s, Linux's TCP_TIMEOUT_INIT), and no option that shortens it was set.
  std::optional<Verdict> closed_in_syn_sent(const AlignedStep& s) const {
    if (s.from != St::SYN_SENT || s.to != St::CLOSED || wire_state_at(s.kernel_t_ns) != St::SYN_SENT)
      return std::nullopt;
    const CallEvent* connect = nullptr;
    for (const auto& c : in_.calls) {
      if (c.host != e_->host || c.call.rfind("connect(", 0) != 0) continue;
      if (c.socket ? !(c.socket->local == e_->local && c.socket->remote == e_->remote)
                   : !contains(c.call, e_->remote.str()))
        continue;
      if (c.t_ns - c.duration_ns <= s.kernel_t_ns) connect = &c;
    }
    for (const auto& c : in_.calls) {
      std::string call = c.call;
      for (auto& ch : call) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (c.host == e_->host && call.rfind("setsockopt(", 0) == 0 &&
          (contains(call, "user_timeout") || contains(call, "syncnt")))
        return std::nullopt;
    }
    if (!connect || connect->result != -1 || connect->err != EINPROGRESS || connect->t_ns > s.kernel_t_ns + kCallSlack_ns)
      return std::nullopt;
    std::vector<std::int64_t> syns;
    for (const auto* g : *segments_)
      if (sent_by_end(*g) && g->packet.has(tcp_flag::SYN) && !g->packet.has(tcp_flag::ACK) && g->t_ns <= s.kernel_t_ns)
        syns.push_back(g->t_ns);
    if (syns.empty()) return std::nullopt;
    const std::int64_t interval = syns.size() > 1 ? syns.back() - syns[syns.size() - 2] : kFirstSynTimeout_ns;
    const std::int64_t since = s.kernel_t_ns - syns.back();
    if (since >= interval) return std::nullopt;
    char gap[64];
    std::snprintf(gap, sizeof gap, "%.3f s after its last SYN, sooner than its %.3f s", double(since) / 1e9,
                  double(interval) / 1e9);
    return Verdict{Cause::ClosedInSynSent,
                   connect->call + " gave up waiting at " + at(connect->t_ns) +
                       " (EINPROGRESS: the socket still in SYN_SENT, " + std::to_string(syns.size()) +
                       " SYN(s) sent), and the " + (e_->agent() ? e_->stack + " stack" : std::string("kernel")) +
                       " closed it at " + at(s.kernel_t_ns) + ", " + gap +
                       (syns.size() > 1 ? " interval before" : " first timeout") +
                       ": no SYN timer fired, the application closed it; CLOSE in SYN_SENT deletes the TCB and "
                       "sends nothing (RFC 9293 3.10.4), so the wire's machine stays in SYN_SENT"};
  }

  // A passive-open child still in SYN_RECV (on the wire too) whose listener closed before
  // it ended: the stack dropped it sending nothing, and nothing reached it then.
  std::optional<Verdict> listener_closed(const AlignedStep& s) const {
    if (s.from != St::SYN_RECV || s.to != St::CLOSED || e_->end != WireEnd::Acceptor ||
        wire_state_at(s.kernel_t_ns) != St::SYN_RECV || delivered_near(s.kernel_t_ns))
      return std::nullopt;
    // Since when the wire has had it in SYN_RECV.
    std::int64_t born = 0;
    for (const auto& w : e_->steps)
      if (w.wire_t_ns && w.to == St::SYN_RECV && w.wire_t_ns <= s.kernel_t_ns) born = w.wire_t_ns;
    if (!born) return std::nullopt;
    const std::string closed = listener_close_between(born, s.kernel_t_ns);
    if (closed.empty()) return std::nullopt;
    const std::string how = e_->agent() ? "the " + e_->stack + " stack dropped the child"
                                        : "the kernel dropped the request socket (" + s.kernel_source + ")";
    return Verdict{Cause::ListenerClosed,
                   "the child was in SYN_RECV since " + at(born) + " (on the wire too) when its listener closed (" +
                       closed + "); " + how + " at " + at(s.kernel_t_ns) +
                       " sending nothing, and nothing reached it then: the wire's machine stays in SYN_RECV"};
  }

  // How the end's listener closed between t0 and t1 ("" when it did not): its LISTEN ->
  // CLOSED, or the application's close of it (a dropped handle's close included).
  std::string listener_close_between(std::int64_t t0, std::int64_t t1) const {
    for (const auto& t : in_.transitions)
      if (t.host == e_->host && t.local == e_->local && t.remote.port == 0 && t.from == St::LISTEN &&
          t.to == St::CLOSED && t.t_ns >= t0 && t.t_ns <= t1)
        return "LISTEN -> CLOSED at " + at(t.t_ns) + " (" + t.source + ")";
    for (const auto& c : in_.calls)
      if (c.host == e_->host && c.call.rfind("close(listener)", 0) == 0 && !c.err && c.t_ns >= t0 &&
          c.t_ns <= t1 + kCallSlack_ns)
        return c.call + " at " + at(c.t_ns);
    return "";
  }

  // The handshake's ACK reached a child whose listener had closed: the stack completed it
  // (SYN_RECV -> ESTABLISHED), found no listener to hand it to, and aborted it with an RST
  // (lwIP's tcp_process: no listener to accept it, tcp_abort). The wire sees only the RST
  // answering the ACK: SYN_RECV -> CLOSED. One abort, named in two and in one step.
  std::optional<Verdict> completed_without_listener(const AlignedStep& s) {
    if (s.from != St::SYN_RECV || s.to != St::ESTABLISHED || e_->end != WireEnd::Acceptor) return std::nullopt;
    const AlignedStep* rst = wire_only_near(St::SYN_RECV, St::CLOSED, s.kernel_t_ns);
    if (!rst) return std::nullopt;
    const AlignedStep* aborted = nullptr;
    for (const auto& k : e_->steps)
      if (kernel_only(k) && k.from == St::ESTABLISHED && k.to == St::CLOSED && k.kernel_t_ns >= s.kernel_t_ns &&
          k.kernel_t_ns - s.kernel_t_ns < kSameEvent_ns)
        aborted = &k;
    std::int64_t born = 0;
    for (const auto& w : e_->steps)
      if (w.wire_t_ns && w.to == St::SYN_RECV && w.wire_t_ns <= s.kernel_t_ns) born = w.wire_t_ns;
    const std::string closed = born ? listener_close_between(born, s.kernel_t_ns) : "";
    if (!aborted || closed.empty()) return std::nullopt;
    Verdict v{Cause::ListenerClosed,
              "the child was in SYN_RECV since " + at(born) + " when its listener closed (" + closed +
                  "); the ACK that completed its handshake made it ESTABLISHED at " + at(s.kernel_t_ns) +
                  ", and with no listener to take it the " + e_->stack + " stack aborted it at " +
                  at(aborted->kernel_t_ns) + " with an RST: the wire sees only the RST answering that ACK, " +
                  wire_text(*rst)};
    paired_[rst] = v;
    paired_[aborted] = v;
    return v;
  }

  // A reset (or a timer) ended the end after its close() moved it to FIN_WAIT1 or
  // LAST_ACK with the FIN still queued (fin_not_sent): the wire's machine, which never saw
  // that FIN, ends it from the state before on the same segment. Or the peer's FIN came
  // first: FIN_WAIT1 -> CLOSING for the end, ESTABLISHED -> CLOSE_WAIT for the wire. One
  // end, named from two states.
  std::optional<Verdict> closed_before_fin_sent(const AlignedStep& s) {
    const bool reset = s.to == St::CLOSED && (s.from == St::FIN_WAIT1 || s.from == St::LAST_ACK);
    const bool peer_fin = s.from == St::FIN_WAIT1 && s.to == St::CLOSING;
    if (!reset && !peer_fin) return std::nullopt;
    const AlignedStep* closed = nullptr;
    for (const auto& k : e_->steps)
      if (kernel_only(k) && k.to == s.from && k.cause == Cause::FinNotSent && k.kernel_t_ns <= s.kernel_t_ns)
        closed = &k;
    if (!closed) return std::nullopt;
    const AlignedStep* w = wire_only_near(closed->from, reset ? St::CLOSED : St::CLOSE_WAIT, s.kernel_t_ns);
    if (!w) return std::nullopt;
    Verdict v{Cause::FinNotSent,
              "the " + (e_->agent() ? e_->stack + " stack" : std::string("kernel")) + " had moved the end to " +
                  to_string(s.from) + " at " + at(closed->kernel_t_ns) +
                  " (close()/shutdown() with its FIN still queued), so it reports " + step_name(s) + " at " +
                  at(s.kernel_t_ns) + " where the wire's machine, which never saw that FIN, goes " + wire_text(*w) +
                  ": one end, named from two states"};
    paired_[w] = v;
    return v;
  }

  // The close() is in the kernel, its FIN still queued behind unacknowledged data. What
  // came after the end was gone (reset, or given up) tells nothing of its send queue: the
  // peer may acknowledge all of it once the data in flight arrives. Nor does an
  // acknowledgement of everything sent that came just before the end was gone: the rest
  // of the queue (data not sent yet, the FIN behind it) had no time to leave.
  std::optional<Verdict> fin_not_sent(const AlignedStep& s) const {
    std::optional<std::uint32_t> snd_nxt, acked, snd_nxt_then, acked_then;
    std::vector<std::pair<std::int64_t, std::uint32_t>> acks;  // (when, ack) delivered to the end
    int after = 0, dropped = 0;
    std::int64_t gone = std::numeric_limits<std::int64_t>::max();
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns > s.kernel_t_ns && k.to == St::CLOSED) gone = std::min(gone, k.kernel_t_ns);
    for (const auto* g : *segments_) {
      if (g->t_ns > gone) continue;
      const Packet& p = g->packet;
      if (sent_by_end(*g)) {
        if (p.has(tcp_flag::FIN) && g->t_ns >= s.kernel_t_ns) return std::nullopt;  // it left
        const auto end = static_cast<std::uint32_t>(p.seq + p.seq_len());
        if (!snd_nxt || static_cast<std::int32_t>(end - *snd_nxt) > 0) snd_nxt = end;
        if (g->t_ns < s.kernel_t_ns) snd_nxt_then = snd_nxt;
        if (g->t_ns >= s.kernel_t_ns) {
          ++after;
          dropped += tcpfault::dropped(*g);
        }
      } else if (toward_end(*g) && delivered_at(*g) && p.has(tcp_flag::ACK)) {
        const Packet& d = g->delivered ? *g->delivered : p;
        if (!acked || static_cast<std::int32_t>(d.ack - *acked) > 0) acked = d.ack;
        if (*delivered_at(*g) < s.kernel_t_ns) acked_then = acked;
        acks.emplace_back(*delivered_at(*g), d.ack);
      }
    }
    if (!snd_nxt || !acked) return std::nullopt;
    if (static_cast<std::int32_t>(*snd_nxt - *acked) <= 0) {
      if (!snd_nxt_then || !acked_then || static_cast<std::int32_t>(*snd_nxt_then - *acked_then) <= 0 ||
          gone == std::numeric_limits<std::int64_t>::max())
        return std::nullopt;
      std::int64_t caught_up = gone;
      for (const auto& [t, ack] : acks)
        if (static_cast<std::int32_t>(ack - *snd_nxt) >= 0) caught_up = std::min(caught_up, t);
      if (gone - caught_up >= kSameEvent_ns) return std::nullopt;
      return Verdict{Cause::FinNotSent,
                     "the kernel moved the socket to " + to_string(s.to) + " at " + at(s.kernel_t_ns) +
                         " (close()/shutdown()) with " + std::to_string(*snd_nxt_then - *acked_then) +
                         " byte(s) unacknowledged, and its FIN had not left when the end was gone at " + at(gone) +
                         ": the peer acknowledged everything sent at " + at(caught_up) +
                         ", too late for the rest of the send queue (data not sent yet, the FIN behind it) to leave"};
    }
    return Verdict{Cause::FinNotSent,
                   "the kernel moved the socket to " + to_string(s.to) + " at " + at(s.kernel_t_ns) +
                       " (close()/shutdown()), but its FIN had not left when the comparison was made: it waits "
                       "in the send queue behind " + std::to_string(*snd_nxt - *acked) +
                       " unacknowledged byte(s) (" + std::to_string(after) + " retransmission(s) since, " +
                       std::to_string(dropped) + " dropped by the middlebox)"};
  }

  // ---- steps only the wire shows ----

  // The end's kernel life never got past its request socket (every step of it is one).
  bool request_only() const {
    bool any = false;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns) {
        if (!contains(k.kernel_source, "request socket")) return false;
        any = true;
      }
    return any;
  }

  Verdict wire_step(const AlignedStep& s) {
    // The wire's half of a pair a kernel step explained (closed_before_fin_sent).
    if (auto p = paired_.find(&s); p != paired_.end()) return p->second;
    if (e_->on_wire && e_->end == WireEnd::Acceptor && e_->kernel_sockets == 0) return request_socket(s);
    if (e_->on_wire && e_->end == WireEnd::Acceptor && request_only()) return request_socket(s);
    if ((s.from == St::FIN_WAIT2 && s.to == St::TIME_WAIT) || (s.from == St::TIME_WAIT && s.to == St::CLOSED))
      for (const auto& k : e_->steps)
        if (kernel_only(k) && k.cause == Cause::MinisocketPolled && k.kernel_t_ns >= s.wire_t_ns)
          return {Cause::MinisocketPolled, polled_text(s, k)};
    if (s.to == St::TIME_WAIT)
      for (const auto& k : e_->steps)
        if (kernel_only(k) && k.cause == Cause::TimeWaitNotKept && k.from == s.from &&
            std::llabs(k.kernel_t_ns - s.wire_t_ns) < kSameEvent_ns)
          return {Cause::TimeWaitNotKept, not_kept_text(s, k)};
    // The kernel's socket ended before this step: the latest kernel step before it.
    const AlignedStep* before = nullptr;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns && k.kernel_t_ns <= s.wire_t_ns && (!before || k.kernel_t_ns >= before->kernel_t_ns)) before = &k;
    // Only the fallback misses it: the BPF observer records a minisocket's end.
    if (before && before->to == St::TIME_WAIT && s.from == St::TIME_WAIT && s.to == St::CLOSED && !exact(*before))
      return {Cause::TimeWaitEndUnrecorded,
              "the kernel gives no event when a timewait minisocket goes, and the observer does not watch "
              "TIME_WAIT: its record stops at TIME_WAIT (" + at(before->kernel_t_ns) + "); the wire shows it ended at " +
                  at(s.wire_t_ns) + " (" + s.wire_reason + ", segment " + std::to_string(s.wire_segment) + ")"};
    if (before && (before->to == St::CLOSED || before->cause == Cause::TimeWaitNotKept)) {
      const std::string how = before->cause ? to_string(*before->cause) : std::string("on both sides");
      return {Cause::SocketGone, "the kernel's socket was gone since " + at(before->kernel_t_ns) + " (" +
                                     step_name(*before) + ", " + how + "): segment " + std::to_string(s.wire_segment) +
                                     " met a host with no socket for it, while the wire still moved the old machine (" +
                                     s.wire_reason + ")"};
    }
    return {Cause::Unexplained, "no rule explains the wire's " + step_name(s) + " at " + at(s.wire_t_ns) + " (" +
                                    s.wire_reason + ", segment " + std::to_string(s.wire_segment) + ")"};
  }

  Verdict request_socket(const AlignedStep& s) const {
    std::string what;
    if (s.from == St::LISTEN && s.to == St::SYN_RECV)
      what = "a request socket (NEW_SYN_RECV) answered the SYN; the kernel records states of full sockets only, "
             "and this one never became one";
    else if (s.from == St::SYN_RECV && s.to == St::ESTABLISHED)
      what = "the ACK of its SYN-ACK made no full socket of the request (a full accept queue drops it, "
             "ListenOverflows; or the request was gone): the kernel's record stays at the request socket";
    else if (s.from == St::SYN_RECV && s.to == St::LISTEN)
      what = "an RST removed the request socket (EmbryonicRsts); a request socket has no state events";
    else
      what = "after the request socket that never became a full socket, its host had no socket for the "
             "4-tuple";
    return {Cause::RequestSocket, what + " (the wire: " + s.wire_reason + ", segment " + std::to_string(s.wire_segment) +
                                      " at " + at(s.wire_t_ns) + ")"};
  }

  // ---- an agent's side: its record is the stack's own events ----
  //
  // Nothing here is the kernel's (no minisocket, request socket, observer polling or
  // machine-wide tracepoint), and no rule reads a Linux sysctl. The rules that say the
  // wire cannot show a step ask that the wire's machine be in the step's `from` state at
  // that time too: a stack that left the wire's machine earlier is a deviation, not a timer.
  // Deviations are looked for on agents' sides only: the wire follows Linux where RFC
  // 9293 leaves a choice, so on a kernel side a departure is a bug of the inference.

  Verdict agent_step(const AlignedStep& s) {
    // The stack's half of a pair an earlier step of its explained (completed_without_listener).
    if (auto p = paired_.find(&s); p != paired_.end()) return p->second;
    if (auto v = connect_failed(s)) return *v;
    if (auto v = taken_over(s)) return *v;
    if (!e_->on_wire)
      return {Cause::Unexplained, "the " + e_->stack + " stack reported " + step_name(s) + " at " + at(s.kernel_t_ns) +
                                      " for a connection the middlebox never saw"};
    if (auto v = child_closed(s)) return *v;
    if (auto v = completed_without_listener(s)) return *v;
    if (auto v = closed_before_fin_sent(s)) return *v;
    if (auto v = cookie_child(s)) return *v;
    if (auto v = skipped_state(s)) return *v;
    if (auto v = not_in_rfc9293(s)) return *v;
    if (auto v = accepted_rst(s)) return *v;
    if (auto v = closed_in_syn_sent(s)) return *v;
    if (auto v = listener_closed(s)) return *v;
    const bool wire_agrees = wire_state_at(s.kernel_t_ns) == s.from;
    if (s.from == St::TIME_WAIT && s.to == St::CLOSED && wire_agrees)
      if (auto v = time_wait_expired(s)) return *v;
    if (s.from == St::FIN_WAIT2 && s.to == St::CLOSED && wire_agrees && !delivered_near(s.kernel_t_ns))
      return {Cause::OrphanFinWait2Timeout,
              "the " + e_->stack + " stack's FIN_WAIT2 timer ended the connection at " + at(s.kernel_t_ns) +
                  " (no FIN from the peer came: the wire's machine waits in FIN_WAIT2 too); a timer with no segment"};
    if (s.to == St::CLOSED && s.from != St::LISTEN && s.from != St::TIME_WAIT && wire_agrees)
      if (auto v = timer_gave_up(s)) return *v;
    if (s.to == St::FIN_WAIT1 || s.to == St::LAST_ACK)
      if (auto v = fin_not_sent(s)) return *v;
    return {Cause::Unexplained, "no rule explains the " + e_->stack + " stack's " + step_name(s) + " at " +
                                    at(s.kernel_t_ns) + " (" + s.kernel_source + ")"};
  }

  Verdict agent_wire_step(const AlignedStep& s) {
    // The wire's half of a pair the stack's step explained (child_closed, cookie_child,
    // skipped_state).
    if (auto p = paired_.find(&s); p != paired_.end()) return p->second;
    const AlignedStep* before = nullptr;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns && k.kernel_t_ns <= s.wire_t_ns && (!before || k.kernel_t_ns >= before->kernel_t_ns)) before = &k;
    if (before && before->to == St::CLOSED && before->cause != Cause::StackDeviation)
      return {Cause::SocketGone, "the " + e_->stack + " stack's connection was gone since " + at(before->kernel_t_ns) +
                                     " (" + step_name(*before) + "): segment " + std::to_string(s.wire_segment) +
                                     " met a stack with no connection for it, while the wire still moved the old "
                                     "machine (" + s.wire_reason + ")"};
    return {Cause::Unexplained, "no rule explains the wire's " + step_name(s) + " at " + at(s.wire_t_ns) + " (" +
                                    s.wire_reason + ", segment " + std::to_string(s.wire_segment) + ") on the " +
                                    e_->stack + " stack's side"};
  }

  // The wire's state for this end at time t (its steps up to t, agreeing or wire-only).
  std::optional<St> wire_state_at(std::int64_t t) const {
    std::optional<St> state;
    for (const auto& w : e_->steps)
      if (w.wire_t_ns && w.wire_t_ns <= t + kSameEvent_ns) state = w.to;
    return state;
  }

  // A segment for this end was delivered within kSameEvent_ns before t.
  bool delivered_near(std::int64_t t) const {
    for (const auto* g : *segments_)
      if (toward_end(*g))
        if (auto d = delivered_at(*g); d && *d <= t + kSameEvent_ns && *d >= t - kSameEvent_ns) return true;
    return false;
  }

  // The wire-only step from -> to within kSameEvent_ns of t, not paired yet.
  const AlignedStep* wire_only_near(St from, St to, std::int64_t t) const {
    for (const auto& w : e_->steps)
      if (wire_only(w) && w.from == from && w.to == to && std::llabs(w.wire_t_ns - t) < kSameEvent_ns &&
          !paired_.count(&w))
        return &w;
    return nullptr;
  }
  std::string wire_text(const AlignedStep& w) const {
    return step_name(w) + " at " + at(w.wire_t_ns) + " (" + w.wire_reason + ", segment " + std::to_string(w.wire_segment) + ")";
  }

  // An RST reset the child in SYN_RECV: SYN_RECV -> CLOSED for the stack, -> LISTEN for the wire.
  std::optional<Verdict> child_closed(const AlignedStep& s) {
    if (s.from != St::SYN_RECV || s.to != St::CLOSED || e_->end != WireEnd::Acceptor) return std::nullopt;
    const AlignedStep* w = wire_only_near(St::SYN_RECV, St::LISTEN, s.kernel_t_ns);
    if (!w) return std::nullopt;
    Verdict v{Cause::SynRecvChildClosed,
              "the " + e_->stack + " stack reported the passive-open child's SYN_RECV -> CLOSED at " + at(s.kernel_t_ns) +
                  " and the wire's RFC 9293 machine " + wire_text(*w) +
                  ": one reset named two ways (a connection the stack forgets goes to CLOSED; the child never "
                  "was the listener, which stays in LISTEN)"};
    paired_[w] = v;
    return v;
  }

  // The stack's connection is born at the handshake's ACK (LISTEN -> ESTABLISHED): it
  // answered the SYN with a cookie and kept nothing, where the wire has SYN_RECV from the SYN.
  std::optional<Verdict> cookie_child(const AlignedStep& s) {
    if (s.from != St::LISTEN || s.to != St::ESTABLISHED || e_->end != WireEnd::Acceptor) return std::nullopt;
    const AlignedStep* established = wire_only_near(St::SYN_RECV, St::ESTABLISHED, s.kernel_t_ns);
    const AlignedStep* syn_recv = nullptr;
    for (const auto& w : e_->steps)
      if (wire_only(w) && w.from == St::LISTEN && w.to == St::SYN_RECV && established && w.wire_t_ns <= established->wire_t_ns)
        syn_recv = &w;
    if (!established || !syn_recv) return std::nullopt;
    Verdict v{Cause::SynCookieChild,
              "the " + e_->stack + " stack answered the SYN with a SYN cookie and kept no connection: it reports it "
                  "born at " + at(s.kernel_t_ns) + " as LISTEN -> ESTABLISHED, when the cookie came back, where the "
                  "wire's machine has " + wire_text(*syn_recv) + " then " + wire_text(*established) +
                  ": one life, two namings"};
    paired_[syn_recv] = v;
    paired_[established] = v;
    return v;
  }

  // One step of the stack's where the wire takes two on the same segment (FIN_WAIT1 ->
  // TIME_WAIT where the wire goes through FIN_WAIT2 on a FIN that acknowledges its FIN).
  std::optional<Verdict> skipped_state(const AlignedStep& s) {
    for (const auto& first : e_->steps) {
      if (!wire_only(first) || first.from != s.from || paired_.count(&first) ||
          std::llabs(first.wire_t_ns - s.kernel_t_ns) >= kSameEvent_ns)
        continue;
      const AlignedStep* second = wire_only_near(first.to, s.to, first.wire_t_ns);
      if (!second) continue;
      const std::string rfc = s.from == St::FIN_WAIT1 && s.to == St::TIME_WAIT
                                  ? " (RFC 9293 3.10.7.4 permits it: a FIN that also acknowledges its FIN; the wire, as "
                                    "Linux, takes the ACK first)"
                                  : "";
      Verdict v{Cause::StackDeviation,
                "the " + e_->stack + " stack went " + step_name(s) + " in one step at " + at(s.kernel_t_ns) +
                    " where the wire's machine goes " + wire_text(first) + " then " + wire_text(*second) +
                    ": its state machine skips " + to_string(first.to) + rfc};
      paired_[&first] = v;
      paired_[second] = v;
      return v;
    }
    return std::nullopt;
  }

  // A step RFC 9293's machine does not have (LAST_ACK -> FIN_WAIT1): no segment can cause it.
  std::optional<Verdict> not_in_rfc9293(const AlignedStep& s) const {
    if (rfc9293_step(s.from, s.to)) return std::nullopt;
    std::string near;
    for (const auto* g : *segments_)
      if (sent_by_end(*g) && std::llabs(g->t_ns - s.kernel_t_ns) < kSameEvent_ns) {
        near = "; it sent " + seg(*g) + " (" + roles_string(g->classified.roles) + ") at " + at(g->t_ns);
        break;
      }
    return Verdict{Cause::StackDeviation, "the " + e_->stack + " stack went " + step_name(s) + " at " +
                                              at(s.kernel_t_ns) + ", a transition RFC 9293's state machine does not "
                                              "have" + near + "; the wire's machine stays in " + to_string(s.from)};
  }

  // The stack closed on an RST the wire's machine (RFC 5961 3.2) answers with a challenge
  // ACK: in the window, not at rcv_nxt.
  std::optional<Verdict> accepted_rst(const AlignedStep& s) const {
    if (s.to != St::CLOSED) return std::nullopt;
    for (const auto* g : *segments_) {
      if (!toward_end(*g) || !g->packet.has(tcp_flag::RST)) continue;
      const auto d = delivered_at(*g);
      if (!d || *d > s.kernel_t_ns + kSameEvent_ns || *d < s.kernel_t_ns - kSameEvent_ns) continue;
      const std::string prefix = "segment " + std::to_string(g->id) + ": RST in the window but not at rcv_nxt";
      for (const auto& n : e_->wire_notes)
        if (n.rfind(prefix, 0) == 0)
          return Verdict{Cause::StackDeviation,
                         "the " + e_->stack + " stack went " + step_name(s) + " at " + at(s.kernel_t_ns) +
                             " on the RST of " + seg(*g) + ", in the window but not at rcv_nxt" +
                             n.substr(prefix.size(), n.find(')') + 1 - prefix.size()) +
                             ": an RST the wire's machine answers with a challenge ACK and no change (RFC 5961 "
                             "3.2, which RFC 9293 3.10.7.4 recommends): the stack took it as a reset"};
    }
    return std::nullopt;
  }

  // The stack's TIME_WAIT timer ran out: nothing for the 4-tuple reached it while it waited.
  std::optional<Verdict> time_wait_expired(const AlignedStep& s) const {
    std::int64_t entered = 0;
    for (const auto& k : e_->steps)
      if (k.kernel_t_ns && k.to == St::TIME_WAIT && k.kernel_t_ns <= s.kernel_t_ns) entered = k.kernel_t_ns;
    if (!entered) return std::nullopt;
    for (const auto& g : in_.segments)
      if (toward_end(g) && g.packet.source() == e_->remote)
        if (auto d = delivered_at(g); d && *d > entered + kSameEvent_ns && *d <= s.kernel_t_ns + kSameEvent_ns)
          return std::nullopt;
    char lasted[32];
    std::snprintf(lasted, sizeof lasted, "%.3f s", double(s.kernel_t_ns - entered) / 1e9);
    return Verdict{Cause::TimeWaitExpired,
                   (e_->agent() ? "the " + e_->stack + " stack's" : std::string("the kernel's")) +
                       " TIME_WAIT timer ran out at " + at(s.kernel_t_ns) + ", " + lasted +
                       " after it entered TIME_WAIT, with nothing for the 4-tuple reaching it meanwhile: it forgot "
                       "the connection sending nothing, which the wire cannot show"};
  }

  // After a step that departs from the wire's machine, the disagreeing steps no other
  // rule explains, until the stack's state and the wire's are one again: they follow from it.
  void deviation_consequences() {
    const AlignedStep* departed = nullptr;
    std::optional<St> stack, wire;
    for (auto& s : e_->steps) {
      if (departed && !s.agrees() && s.cause == Cause::Unexplained)
        set(s, {Cause::StackDeviation,
                "follows from the " + e_->stack + " stack's " + step_name(*departed) + " at " +
                    at(departed->kernel_t_ns) + ": since then its machine and the wire's have not been in one state "
                    "(the stack in " + (stack ? to_string(*stack) : std::string("?")) + ", the wire in " +
                    (wire ? to_string(*wire) : std::string("?")) + " before this step)"});
      if (!wire_only(s)) stack = s.to;
      if (!kernel_only(s)) wire = s.to;
      if (kernel_only(s) && s.cause == Cause::StackDeviation && !departed) departed = &s;
      if (departed && stack && wire && *stack == *wire) departed = nullptr;
    }
  }

  // ---- shared ----

  const AlignedStep* wire_step_near(St from, St to, std::int64_t t, bool before) const {
    for (const auto& w : e_->steps)
      if (wire_only(w) && w.from == from && w.to == to &&
          (before ? w.wire_t_ns <= t : std::llabs(w.wire_t_ns - t) < kSameEvent_ns))
        return &w;
    return nullptr;
  }

  std::string polled_text(const AlignedStep& wire, const AlignedStep& kernel) const {
    return "an orphan's FIN_WAIT2 minisocket gives no event; the observer looks at it every 2 ms and found it "
           "gone at " + at(kernel.kernel_t_ns) + ", missing what the wire shows in between (" + step_name(wire) +
           " at " + at(wire.wire_t_ns) + ": " + wire.wire_reason + ", segment " + std::to_string(wire.wire_segment) + ")";
  }

  std::string not_kept_text(const AlignedStep& wire, const AlignedStep& kernel) const {
    return "the kernel closed the socket at " + at(kernel.kernel_t_ns) + " (" + step_name(kernel) +
           ", no timewait minisocket) where the wire shows it entering TIME_WAIT (" + wire.wire_reason + ", segment " +
           std::to_string(wire.wire_segment) + "): no timewait bucket was free (tcp_max_tw_buckets" +
           sysctl_value("tcp_max_tw_buckets") + "; TCPTimeWaitOverflow counts it)";
  }

  // " = 2 on this host" when the scenario set that sysctl on the end's host, else "".
  std::string sysctl_value(std::string_view name) const {
    const std::string prefix = "sysctl " + netns::to_string(e_->host) + " net.ipv4." + std::string(name) + " = ";
    std::string value;
    for (const auto& n : in_.notes)
      if (n.text.rfind(prefix, 0) == 0) value = n.text.substr(prefix.size());
    return value.empty() ? "" : " = " + value + " on the " + netns::to_string(e_->host);
  }

  const ComparisonInput& in_;
  std::map<std::uint64_t, std::vector<const SegmentEvent*>> of_connection_;
  const std::vector<const SegmentEvent*> none_;
  EndComparison* e_ = nullptr;
  std::uint64_t connection_ = 0;
  const std::vector<const SegmentEvent*>* segments_ = nullptr;
  // Wire-only steps explained together with a stack's step (one end at a time).
  std::map<const AlignedStep*, Verdict> paired_;
};

}  // namespace

void explain_disagreements(WireStateComparison& comparison, const ComparisonInput& input) {
  Explainer x(input);
  for (auto& c : comparison.connections) {
    x.explain(c.opener, c.id);
    x.explain(c.acceptor, c.id);
  }
  for (auto& e : comparison.kernel_only_sockets) x.explain(e, 0);
}

}  // namespace tcpfault
