#include "harness/timing/backoff.h"

#include <algorithm>
#include <bit>
#include <cstdio>

#include "netns/error.h"

namespace tcpfault {

namespace {

// A schedule longer than this is a mistake in its inputs (a zero timeout, say).
constexpr std::size_t kMaxSteps = 1000;

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("backoff model: " + what);
}

void add_step(Schedule& s, std::string label, Usec at) {
  require(s.steps.size() < kMaxSteps, "more than " + std::to_string(kMaxSteps) + " steps in " + s.description);
  s.steps.push_back({std::move(label), at});
}

std::string retransmission(int n) { return "retransmission " + std::to_string(n); }

// At an expiry where the model retransmits, `elapsed` of the budget has passed; the real
// timers may have run late by up to an eighth of it (and a few ms).
void note_close_call(Schedule& s, Usec elapsed, Usec budget, const std::string& since) {
  if (!s.close_call.empty() || elapsed + elapsed / 8 + std::chrono::milliseconds(5) < budget) return;
  s.close_call = "at the expiry " + format_ms(elapsed) + " after " + since + " the " + format_ms(budget) +
                 " budget is within the timers' lateness (up to an eighth): the stack may give up there";
}

}  // namespace

std::string format_ms(Usec t) {
  char buf[32];
  double ms = double(t.count()) / 1000.0;
  if (t.count() % 1000 == 0) std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  return buf;
}

Schedule Schedule::first(std::size_t n) const {
  require(n >= 1 && n <= steps.size(), "first(" + std::to_string(n) + ") of a schedule with " +
                                           std::to_string(steps.size()) + " steps");
  Schedule out = *this;
  out.steps.resize(n);
  out.give_up.reset();
  out.close_call.clear();  // no give-up, no close call
  out.description += " (first " + std::to_string(n) + " steps)";
  return out;
}

std::string Schedule::str() const {
  std::string out;
  for (const auto& s : steps) out += (out.empty() ? "" : ", ") + s.label + " at " + format_ms(s.at);
  if (give_up) out += ", " + give_up->label + " at " + format_ms(give_up->at);
  if (!origin.empty()) out += " (from " + origin + ")";
  return out;
}

Usec retransmission_budget(int retries, Usec base, Usec rto_max) {
  require(retries >= 0, "retries must be >= 0, got " + std::to_string(retries));
  require(base.count() > 0 && rto_max >= base, "the base timeout must be > 0 and <= rto_max");
  // Doubling until the timeout would pass rto_max, then rto_max per retry.
  const int linear_after = std::bit_width(static_cast<std::uint64_t>(rto_max / base)) - 1;  // ilog2
  if (retries <= linear_after) return base * ((std::int64_t{2} << retries) - 1);
  return base * ((std::int64_t{2} << linear_after) - 1) + rto_max * (retries - linear_after);
}

Schedule syn_schedule(const SynRetries& r) {
  require(r.retries >= 1, "tcp_syn_retries must be >= 1, got " + std::to_string(r.retries));
  require(r.linear_timeouts >= 0, "tcp_syn_linear_timeouts must be >= 0");
  require(r.initial.count() > 0, "the initial SYN timeout must be > 0");
  Schedule s;
  s.description = "SYN retransmissions (tcp_syn_retries " + std::to_string(r.retries) +
                  ", tcp_syn_linear_timeouts " + std::to_string(r.linear_timeouts) + ", first timeout " +
                  format_ms(r.initial) + ")";
  add_step(s, "SYN", Usec{0});
  // tcp_write_timeout in SYN_SENT: a count, or the time since the first SYN.
  const int max_retransmits = r.retries + r.linear_timeouts;
  const Usec budget = retransmission_budget(r.retries, r.initial, r.rto_max);
  Usec t{0}, timeout = r.initial;
  for (int sent = 0;; ++sent) {
    t += timeout;
    if (sent >= max_retransmits || (sent > 0 && t >= budget)) break;
    if (sent > 0) note_close_call(s, t, budget, "the first SYN");
    add_step(s, retransmission(sent + 1), t);
    if (sent + 1 > r.linear_timeouts) timeout = std::min(timeout * 2, r.rto_max);
  }
  s.give_up = ScheduleStep{"ETIMEDOUT", t};
  return s;
}

Schedule synack_schedule(const SynAckRetries& r) {
  require(r.retries >= 1, "tcp_synack_retries must be >= 1, got " + std::to_string(r.retries));
  require(r.initial.count() > 0, "the initial SYN-ACK timeout must be > 0");
  Schedule s;
  s.description = "SYN-ACK retransmissions (tcp_synack_retries " + std::to_string(r.retries) +
                  ", first timeout " + format_ms(r.initial) + ")";
  add_step(s, "SYN-ACK", Usec{0});
  // reqsk_timer_handler: the request expires once num_timeout reaches the retries.
  Usec t{0};
  for (int timeouts = 0;; ++timeouts) {
    t += std::min(r.initial * (std::int64_t{1} << std::min(timeouts, 30)), r.rto_max);
    if (timeouts >= r.retries) break;
    add_step(s, retransmission(timeouts + 1), t);
  }
  s.give_up = ScheduleStep{"request dropped", t};
  return s;
}

Usec tail_loss_probe_timeout(Usec srtt, Usec rto, Usec rto_min, int in_flight, Usec tick) {
  require(in_flight >= 1, "a tail loss probe needs a segment in flight");
  // Without an RTT sample the probe waits the initial timeout.
  Usec timeout = srtt.count() == 0 ? kTcpTimeoutInit : 2 * srtt + (in_flight == 1 ? rto_min : 2 * tick);
  return std::min(timeout, rto);
}

Schedule retransmission_schedule(const RtoRetries& r) {
  require(r.rto.count() > 0, "the RTO must be > 0");
  require(r.retries >= 0, "the retries must be >= 0");
  require(!r.probe_timeout || r.probe_timeout->count() > 0, "the probe timeout must be > 0");
  Schedule s;
  s.description = "retransmissions by RTO (RTO " + format_ms(r.rto) + ", " + r.retries_name + " " + std::to_string(r.retries) +
                  (r.probe_timeout ? ", tail loss probe after " + format_ms(*r.probe_timeout) : std::string()) +
                  ", budget " + format_ms(retransmission_budget(r.retries, kTcpRtoMin, r.rto_max)) +
                  " from the first timer retransmission)";
  add_step(s, r.segment, Usec{0});
  Usec t{0};
  if (r.probe_timeout) {
    t += *r.probe_timeout;
    add_step(s, "tail loss probe", t);
  }
  // retransmits_timed_out: time since the first timer retransmission (retrans_stamp,
  // which the probe does not set) against the budget, at each expiry.
  const Usec budget = retransmission_budget(r.retries, kTcpRtoMin, r.rto_max);
  std::optional<Usec> first_retransmission;
  Usec timeout = std::min(r.rto, r.rto_max);
  for (int n = 1;; ++n) {
    t += timeout;
    if (first_retransmission && t - *first_retransmission >= budget) break;
    if (first_retransmission) note_close_call(s, t - *first_retransmission, budget, "the first timer retransmission");
    add_step(s, retransmission(n), t);
    if (!first_retransmission) first_retransmission = t;
    timeout = std::min(timeout * 2, r.rto_max);
  }
  s.give_up = ScheduleStep{r.give_up, t};
  return s;
}

Schedule keepalive_schedule(const KeepaliveSettings& k) {
  require(k.idle.count() > 0 && k.interval.count() > 0, "keepalive idle and interval must be > 0");
  require(k.count >= 1, "the keepalive count must be >= 1, got " + std::to_string(k.count));
  Schedule s;
  s.description = "keepalive probes (TCP_KEEPIDLE " + format_ms(k.idle) + ", TCP_KEEPINTVL " +
                  format_ms(k.interval) + ", TCP_KEEPCNT " + std::to_string(k.count) + ")";
  s.origin = "the last segment from the peer";
  for (int n = 0; n < k.count; ++n) add_step(s, "keepalive probe " + std::to_string(n + 1), k.idle + n * k.interval);
  s.give_up = ScheduleStep{"ETIMEDOUT", k.idle + k.count * k.interval};
  return s;
}

Schedule window_probe_schedule(const WindowProbeSettings& w) {
  require(w.base.count() > 0, "the probe timeout base must be > 0");
  require(w.retries2 >= 1, "tcp_retries2 must be >= 1");
  require(w.answered_probes >= 0, "answered_probes must be >= 0");
  const bool answered = w.answered_probes > 0;
  Schedule s;
  s.description = "zero-window probes (base " + format_ms(w.base) + ", tcp_retries2 " +
                  std::to_string(w.retries2) + (answered ? ", answered" : ", unanswered") + ")";
  s.origin = "the ACK that closed the window";
  const int probes = answered ? w.answered_probes : w.retries2;
  Usec t{0};
  int backoff = 0;
  for (int n = 1; n <= probes; ++n) {
    t += std::min(w.base * (std::int64_t{1} << std::min(backoff, 30)), w.rto_max);
    add_step(s, "window probe " + std::to_string(n), t);
    if (backoff < w.retries2) ++backoff;
  }
  if (!answered)
    s.give_up = ScheduleStep{"ETIMEDOUT", t + std::min(w.base * (std::int64_t{1} << std::min(backoff, 30)), w.rto_max)};
  return s;
}

}  // namespace tcpfault
