#include "harness/scenario/expect.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "harness/scenario/quiet_poll.h"
#include "harness/trace/trace_queries.h"

namespace tcpfault {

namespace {

std::string join_states(const std::vector<TcpState>& states) {
  std::string out;
  for (auto s : states) out += (out.empty() ? "" : " -> ") + to_string(s);
  return out.empty() ? "(none)" : out;
}

std::string times_of(const std::vector<std::int64_t>& times, const Trace& trace) {
  std::string out;
  for (auto t : times) out += (out.empty() ? "" : ", ") + trace.offset(t);
  return out;
}

bool state_is(TcpState state, TcpState want) {
  return state == want || (want == TcpState::SYN_RECV && state == TcpState::NEW_SYN_RECV);
}

bool state_matches(const std::optional<SocketInfo>& info, TcpState want) {
  if (want == TcpState::CLOSED) return !info || info->state == TcpState::CLOSED;
  return info && state_is(info->state, want);
}

std::string step_text(const TransitionEvent& t) { return to_string(t.from) + " -> " + to_string(t.to); }

// The step by which a socket left `want` for the last time, at or before `by_ns`, when it
// has not been back since: a check looking just before it would have seen `want`.
std::optional<TransitionEvent> left_before(const std::vector<TransitionEvent>& ts, TcpState want, std::int64_t by_ns) {
  std::optional<TransitionEvent> left;
  for (const auto& t : ts) {
    if (t.t_ns > by_ns || t.from == t.to) continue;
    if (state_is(t.to, want)) left.reset();
    else if (state_is(t.from, want)) left = t;
  }
  return left;
}

std::string state_text(const std::optional<SocketInfo>& info) {
  if (!info) return "no socket (CLOSED)";
  std::string s = to_string(info->state);
  if (info->timewait_sock) s += " (timewait minisocket)";
  if (info->request_sock) s += " (request socket)";
  return s;
}

bool contains_run(const std::vector<TcpState>& seen, const std::vector<TcpState>& want) {
  if (want.empty()) return true;
  if (seen.size() < want.size()) return false;
  for (std::size_t i = 0; i + want.size() <= seen.size(); ++i)
    if (std::equal(want.begin(), want.end(), seen.begin() + i)) return true;
  return false;
}

// The states a socket went through. A step that keeps the state (a full socket
// handing its FIN_WAIT2 over to a minisocket) is not a new state; nor is a second
// report of one step (filled in from the socket table, then the tracepoint's own).
std::vector<TcpState> to_states(const std::vector<TransitionEvent>& ts) {
  std::vector<TcpState> out;
  for (const auto& t : ts)
    if (t.from != t.to && (out.empty() || out.back() != t.to)) out.push_back(t.to);
  return out;
}

// How long after a socket's step into CLOSED its own RST may still be on its way through
// the middlebox's queue (a loaded machine reads it a few milliseconds late).
constexpr std::int64_t kOwnRstWait_ns = 20'000'000;

}  // namespace

std::string Since::describe(const Trace& trace) const {
  char buf[48];
  if (segment) {
    std::snprintf(buf, sizeof buf, " since segment #%llu", static_cast<unsigned long long>(segment));
    return buf;
  }
  if (t_ns) return " since " + trace.offset(t_ns);
  return "";
}

Expectations::Expectations(std::shared_ptr<Trace> trace, StateObserver& states,
                           std::function<std::string(const std::string&)> on_failure)
    : trace_(std::move(trace)), states_(states), on_failure_(std::move(on_failure)) {}

void Expectations::fail(const std::string& summary, const std::string& expected,
                        const std::string& seen) const {
  trace_->note("expectation failed: " + summary);
  std::string detail = "  expected: " + expected + "\n  seen:     " + seen + "\n";
  if (on_failure_) detail += on_failure_(summary);
  ExpectationFailed failure("expectation failed: " + summary, detail, ExpectationSite::current());
  ReportExpectationFailures::report(failure);
  throw failure;
}

std::optional<SocketInfo> Expectations::socket_now(const SocketRef& s) const {
  if (!is_agent(s)) return states_.socket(s);
  TcpState now = agent_->current(s);
  if (now == TcpState::CLOSED) return std::nullopt;
  SocketInfo info;
  info.state = now;
  info.tuple = s.tuple;
  return info;
}

std::vector<TransitionEvent> Expectations::transitions_of(const SocketRef& s) const {
  if (is_agent(s)) return agent_->transitions_of(s);
  states_.drain();
  // Transitions are never segments: the short list is enough, however busy the wire.
  auto recorded = tcpfault::transitions_of(trace_->other_events(), s);
  if (states_.reconcile(s, recorded)) recorded = tcpfault::transitions_of(trace_->other_events(), s);
  return recorded;
}

std::optional<SocketEnd> Expectations::ended(const SocketRef& s, const std::vector<TransitionEvent>& recorded,
                                             bool whole_only) const {
  auto now = socket_now(s);
  return socket_end(*trace_, s, recorded, !now || now->state == TcpState::CLOSED, whole_only);
}

std::int64_t Expectations::next_call_after(std::int64_t t_ns) const {
  std::int64_t next = INT64_MAX;
  for (const auto& e : trace_->other_events())
    if (const auto* c = std::get_if<CallEvent>(&e); c && c->t_ns - c->duration_ns > t_ns)
      next = std::min(next, c->t_ns - c->duration_ns);
  return next;
}

std::int64_t Expectations::last_call_before(std::int64_t t_ns) const {
  std::int64_t last = 0;
  for (const auto& e : trace_->other_events())
    if (const auto* c = std::get_if<CallEvent>(&e); c && c->t_ns <= t_ns) last = std::max(last, c->t_ns);
  return last;
}

SocketEnd Expectations::named_end(const SocketRef& s, const SocketEnd& end, bool whole_only) const {
  if (end.named_by_rst) return end;  // a reset socket sends no RST of its own
  const std::int64_t wait_ns = end.closed_ns + kOwnRstWait_ns - mono_now_ns();
  if (wait_ns <= 0) return end;
  scan_segments(
      [&s](const SegmentEvent& g) {
        return g.packet.has(tcp_flag::RST) && g.packet.source() == s.tuple.local &&
               g.packet.destination() == s.tuple.remote;
      },
      Clock::now() + std::chrono::nanoseconds(wait_ns));
  auto again = socket_end(*trace_, s, transitions_of(s), /*gone=*/true, whole_only);
  return again ? *again : end;
}

void Expectations::state(const SocketRef& s, TcpState want, milliseconds within) const {
  const std::string check = s.str() + " in " + to_string(want) + " within " + std::to_string(within.count()) + " ms";
  const std::int64_t looked = mono_now_ns();
  auto deadline = Clock::now() + within;
  std::optional<SocketInfo> info;
  std::optional<SocketEnd> end;
  // The fallback observer gives no event for every state change (a minisocket
  // expiring), so the socket table is read again whenever the timeline moves, and on
  // its own while it is quiet (QuietPoll says how often).
  QuietPoll poll(is_agent(s) || states_.exact());
  while (true) {
    auto version = trace_->version();
    info = socket_now(s);
    if (state_matches(info, want)) {
      // Had it looked later: the step out of the `want` it saw. The table may show a state
      // a moment after the tracepoint's time of the next step: that step counts too.
      const std::int64_t at = mono_now_ns();
      close_calls_.passed(check, at, [this, s, want, at](std::int64_t until_ns) {
        until_ns = std::min(until_ns, next_call_after(at) - 1);
        std::optional<std::pair<std::int64_t, std::string>> out;
        for (const auto& t : transitions_of(s)) {
          if (t.from == t.to || t.t_ns > until_ns) continue;
          if (state_is(t.to, want) && t.t_ns <= at) out.reset();
          else if (state_is(t.from, want) && !out) out = {t.t_ns, step_text(t)};
        }
        return out;
      });
      return;
    }
    // A socket that has ended gets nowhere (CLOSED matched above): no use waiting.
    if (!info || info->state == TcpState::CLOSED)
      end = socket_end(*trace_, s, transitions_of(s), /*gone=*/true);
    if (end || Clock::now() >= deadline) break;
    poll.wait(*trace_, version, deadline);
  }
  if (end) end = named_end(s, *end, false);
  std::string source = is_agent(s) ? " (" + agent_->source() + ")" : "";
  // Had it looked earlier: the socket was in `want` until just before the first look.
  if (auto left = left_before(transitions_of(s), want, looked); left && left->t_ns > last_call_before(looked))
    close_calls_.failed(check, looked, left->t_ns, step_text(*left));
  fail(check + (end ? ": the socket is gone, " + end->cause : ""),
       to_string(want), state_text(info) + source + "; transitions: " + join_states(to_states(transitions_of(s))));
}

void Expectations::transitions(const SocketRef& s, const std::vector<TcpState>& sequence,
                               milliseconds within) const {
  auto deadline = Clock::now() + within;
  std::vector<TransitionEvent> seen;
  std::optional<SocketEnd> end;
  // Woken by the timeline, and on its own while it is quiet: a step the tracepoint
  // missed shows up only in the socket table (see StateObserver::reconcile).
  QuietPoll poll(is_agent(s) || states_.exact());
  while (true) {
    auto version = trace_->version();
    seen = transitions_of(s);
    if (contains_run(to_states(seen), sequence)) return;
    // A socket that has ended takes no more steps; if a step of its life may be missing
    // from the record (it could still arrive), it is waited for as usual.
    if (!seen.empty() && seen.back().to == TcpState::CLOSED) end = ended(s, seen, /*whole_only=*/true);
    if (end || Clock::now() >= deadline) break;
    poll.wait(*trace_, version, deadline);
  }
  if (end) end = named_end(s, *end, true);
  fail(s.str() + " passes " + join_states(sequence) + " within " + std::to_string(within.count()) + " ms" +
           (end ? ": the socket is gone, " + end->cause : ""),
       join_states(sequence), join_states(to_states(seen)) + (is_agent(s) ? " (" + agent_->source() + ")" : ""));
}

bool Expectations::scan_segments(const std::function<bool(const SegmentEvent&)>& step,
                                 Clock::time_point deadline) const {
  // Each segment is looked at once, when it is new: a waiter costs nothing more as the
  // timeline grows.
  std::size_t next = 0;
  while (true) {
    auto version = trace_->version();
    bool done = false;
    next = trace_->visit_segments(next, [&](const SegmentEvent& s) { done = step(s) || done; });
    if (done) return true;
    if (Clock::now() >= deadline) return false;
    trace_->wait_change(version, deadline);
  }
}

std::optional<std::pair<std::int64_t, std::string>> Expectations::match_after(const Match& m, const Since& since,
                                                                               std::size_t after,
                                                                               std::int64_t until_ns) const {
  std::optional<std::pair<std::int64_t, std::string>> out;
  MatchCount selects(m);
  std::size_t seen = 0;
  trace_->visit_segments(0, [&](const SegmentEvent& seg) {
    if (out || !selects(view_of(seg)) || !since.admits(seg) || ++seen <= after || seg.t_ns > until_ns) return;
    out = {seg.t_ns, format_packet(seg.packet, seg.relative)};
  });
  return out;
}

void Expectations::segments(const Match& m, int count, milliseconds within) const {
  const std::string check = std::to_string(count) + " x " + m.describe() + " within " + std::to_string(within.count()) + " ms";
  const std::int64_t started = mono_now_ns();
  std::vector<std::int64_t> times;
  MatchCount selects(m);
  auto matches = [&selects](const SegmentEvent& s) {
    return selects(view_of(s));
  };
  // Every segment already there is counted, so one too many is seen.
  scan_segments(
      [&](const SegmentEvent& s) {
        if (matches(s)) times.push_back(s.t_ns);
        return times.size() >= static_cast<std::size_t>(count);
      },
      Clock::now() + within);
  const std::int64_t looked = mono_now_ns();
  const auto n = static_cast<std::size_t>(count);
  if (times.size() == n) {
    // Had it looked later: one more.
    close_calls_.passed(check, looked, [this, m, n, looked](std::int64_t until_ns) {
      return match_after(m, {}, n, std::min(until_ns, next_call_after(looked) - 1));
    });
    return;
  }
  // Had it looked earlier: the one too many had not come yet.
  if (times.size() > n && times[n] > last_call_before(started))
    if (auto extra = match_after(m, {}, n, INT64_MAX)) close_calls_.failed(check, looked, extra->first, extra->second);
  fail(check, "exactly " + std::to_string(count),
       std::to_string(times.size()) + (times.empty() ? "" : " (at " + times_of(times, *trace_) + ")"));
}

void Expectations::no_segment(const Match& m, milliseconds during, const Since& since) const {
  const std::string check = "no " + m.describe() + since.describe(*trace_) +
                            (during.count() ? " during " + std::to_string(during.count()) + " ms" : "");
  // Its verdict's moment: the end of the `during` it watches.
  const std::int64_t started = mono_now_ns();
  const std::int64_t looked = started + std::chrono::nanoseconds(during).count();
  std::vector<SegmentEvent> found;
  MatchCount selects(m);
  bool appeared = scan_segments(
      [&](const SegmentEvent& s) {
        // Counted from the first segment (nth), judged only after `since`.
        if (!selects(view_of(s)) || !since.admits(s)) return false;
        found.push_back(s);
        return true;
      },
      Clock::now() + during);
  if (!appeared) {
    const std::int64_t at = mono_now_ns();
    close_calls_.passed(check, at, [this, m, since, at](std::int64_t until_ns) {
      return match_after(m, since, 0, std::min(until_ns, next_call_after(at) - 1));
    });
    return;
  }
  if (found.front().t_ns > last_call_before(started))
    close_calls_.failed(check, looked, found.front().t_ns, format_packet(found.front().packet, found.front().relative));
  std::vector<std::int64_t> times;
  for (const auto& s : found) times.push_back(s.t_ns);
  fail(check, "none", std::to_string(found.size()) + " (at " + times_of(times, *trace_) + "), first: " +
                   format_packet(found.front().packet, found.front().relative));
}

void Expectations::stays_until(const SocketRef& s, TcpState held, const Match& m,
                               milliseconds within) const {
  std::int64_t seg_time = 0;
  MatchCount selects(m);
  bool seen = scan_segments(
      [&](const SegmentEvent& s) {
        if (seg_time || !selects(view_of(s))) return seg_time != 0;
        seg_time = s.t_ns;
        return true;
      },
      Clock::now() + within);
  auto ts = transitions_of(s);
  if (!seen)
    fail(s.str() + " stays " + to_string(held) + " until " + m.describe(),
         m.describe() + " within " + std::to_string(within.count()) + " ms", "no such segment");
  // Find when it entered `held` and when it left.
  std::int64_t entered = -1, left = -1;
  for (const auto& t : ts) {
    if (t.to == held && entered < 0) entered = t.t_ns;
    else if (entered >= 0 && left < 0 && t.from == held) left = t.t_ns;
  }
  auto rel = [this](std::int64_t t) { return trace_->offset(t); };
  if (entered >= 0 && entered <= seg_time && (left < 0 || left > seg_time)) return;
  fail(s.str() + " stays " + to_string(held) + " until " + m.describe(),
       "in " + to_string(held) + " from before " + rel(seg_time) + " until after it",
       entered < 0 ? "never in " + to_string(held) + " (" + join_states(to_states(ts)) + ")"
                   : "entered at " + rel(entered) + ", left at " + (left < 0 ? "never" : rel(left)));
}

void Expectations::error(const CallResult& r, int err) const {
  if (r.err == err) return;
  fail(r.call + " fails with " + errno_name(err), errno_name(err) + " (" + std::strerror(err) + ")",
       r.describe());
}

void Expectations::ok(const CallResult& r) const {
  if (r.ok()) return;
  fail(r.call + " succeeds", "success", r.describe());
}

}  // namespace tcpfault
