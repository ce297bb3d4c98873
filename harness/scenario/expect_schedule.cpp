#include "harness/scenario/expect_schedule.h"

#include <cstring>

#include "harness/scenario/quiet_poll.h"
#include "harness/timing/schedule_check.h"

namespace tcpfault {

namespace {

bool in_state(const std::optional<SocketInfo>& info, TcpState want) {
  if (want == TcpState::CLOSED) return !info || info->state == TcpState::CLOSED;
  if (!info) return false;
  return info->state == want || (want == TcpState::SYN_RECV && info->state == TcpState::NEW_SYN_RECV);
}

// Watches for the give-up while the expectation waits.
class GiveUpWatch {
 public:
  GiveUpWatch(const Expectations& expect, const StateObserver& states, const GiveUp& g)
      : expect_(expect), states_(states), g_(g) {}

  // When the give-up happened, at or after `since_ns`, if it has.
  std::optional<std::int64_t> find(const std::vector<Event>& events, std::int64_t since_ns) {
    if (g_.kind == GiveUp::Kind::CallError) {
      for (const auto& e : events)
        if (auto* c = std::get_if<CallEvent>(&e))
          if (c->host == g_.host && c->err == g_.err && c->t_ns >= since_ns) return c->t_ns;
      return std::nullopt;
    }
    // A recorded step into the state (the tracepoint, or sock_diag filling a gap) ...
    for (const auto& t : expect_.transitions_of(g_.socket))
      if (t.to == g_.state && t.from != t.to && t.t_ns >= since_ns) return t.t_ns;
    // ... or, for what has no tracepoint (a request socket), the socket table, read
    // while waiting: the first time it shows the state after showing another.
    if (polled_ns_) return polled_ns_;
    if (in_state(expect_.socket_now(g_.socket), g_.state)) {
      if (saw_other_) polled_ns_ = mono_now_ns();
      else already_ = true;
    } else {
      saw_other_ = true;
      already_ = false;
    }
    return polled_ns_;
  }

  // Why no time was found, when the socket was in the state before anyone looked.
  std::string unknown_time_note() const {
    return already_ ? " (" + g_.socket.str() + " was already " + to_string(g_.state) +
                          " when this expectation began and no transition recorded when: expect the "
                          "schedule before the give-up)"
                    : "";
  }

 private:
  const Expectations& expect_;
  const StateObserver& states_;
  GiveUp g_;
  std::optional<std::int64_t> polled_ns_;
  bool saw_other_ = false, already_ = false;
};

}  // namespace

std::string GiveUp::describe() const {
  if (kind == Kind::CallError) return "a call on " + netns::to_string(host) + " fails with " + errno_name(err);
  return socket.str() + (state == TcpState::CLOSED ? " is gone" : " in " + to_string(state));
}

void expect_schedule(const Expectations& expect, const Trace& trace, const StateObserver& states,
                     const Match& m, const Schedule& schedule, const ScheduleExpectation& options) {
  if (schedule.steps.empty()) throw Error("expect_schedule: the schedule has no steps");
  if (options.gives_up && !schedule.give_up)
    throw Error("expect_schedule: gives_up was given but the schedule (" + schedule.description +
                ") never gives up; leave gives_up out, or use a whole schedule rather than first(n)");
  if (options.since && schedule.origin.empty())
    throw Error("expect_schedule: since= needs a schedule timed from an earlier event (keepalive, window "
                "probes); " + schedule.description + " is timed from its first segment");

  // How long the whole schedule takes from its first step, plus the last step's
  // tolerance and a second.
  const Usec first_at = schedule.origin.empty() ? schedule.steps.front().at : Usec{0};
  const std::size_t n = schedule.steps.size();
  const ScheduleStep& last = options.gives_up ? *schedule.give_up : schedule.steps.back();
  const Usec before_last = options.gives_up ? schedule.steps.back().at : n >= 2 ? schedule.steps[n - 2].at : first_at;
  const Usec span = last.at - first_at + schedule_tolerance(last.at - before_last) + std::chrono::seconds(1);
  const std::int64_t called_ns = mono_now_ns();

  ScheduleObservation seen;
  seen.steps_what = m.describe();
  seen.trace_start_ns = trace.start_ns();
  if (options.since) {
    std::string d = options.since->describe();  // "any segment from server" -> "segment from server"
    seen.origin_what = "the last " + (d.rfind("any segment", 0) == 0 ? d.substr(4) : d);
  }
  if (options.gives_up) {
    seen.check_give_up = true;
    seen.give_up_what = options.gives_up->describe();
  }
  std::optional<GiveUpWatch> watch;
  if (options.gives_up) watch.emplace(expect, states, *options.gives_up);

  QuietPoll poll(states.exact());  // how often the socket table is read while nothing happens
  while (true) {
    auto version = trace.version();
    trace.refresh();
    const std::vector<Event> events = trace.events();
    auto segs = matching_segments(events, m);
    seen.steps_ns.clear();
    // Each step when its sender sent it (the kernel's stamp): a verdict loop that fell
    // behind must not look like a late timer. The origin, a segment toward the timer's
    // owner, counts from when the middlebox passed it on (its verdict).
    for (auto* s : segs) seen.steps_ns.push_back(s->arrived_ns());
    seen.origin_ns.reset();
    if (options.since && !segs.empty())
      for (auto* s : matching_segments(events, *options.since))
        if (s->t_ns < segs.front()->arrived_ns()) seen.origin_ns = s->t_ns;
    const std::int64_t from_ns = seen.origin_ns ? *seen.origin_ns : segs.empty() ? called_ns : segs.front()->arrived_ns();
    if (watch) seen.give_up_ns = watch->find(events, segs.empty() ? called_ns : segs.front()->arrived_ns());

    bool complete = seen.steps_ns.size() >= schedule.steps.size() && (!watch || seen.give_up_ns);
    if (complete) break;
    std::int64_t deadline_ns = options.within ? called_ns + std::chrono::nanoseconds(*options.within).count()
                                              : from_ns + std::chrono::nanoseconds(span).count();
    std::int64_t now = mono_now_ns();
    if (now >= deadline_ns) break;
    poll.wait(trace, version, Clock::now() + std::chrono::nanoseconds(deadline_ns - now));
  }

  std::string summary = m.describe() + " on the schedule of " + schedule.description;
  if (options.gives_up) summary += ", then " + schedule.give_up->label;
  if (options.since && !seen.steps_ns.empty() && !seen.origin_ns)
    expect.fail(summary, seen.origin_what + " before the first " + seen.steps_what,
                "none: the first " + seen.steps_what + " came before any");
  ScheduleVerdict v = check_schedule(schedule, seen);
  if (v.ok) return;
  if (watch && !seen.give_up_ns) v.seen += watch->unknown_time_note();
  if (!schedule.close_call.empty()) v.table += "    note: " + schedule.close_call + "\n";
  if (!v.table.empty() && v.table.back() == '\n') v.table.pop_back();  // fail() ends the line
  expect.fail(summary, v.expected, v.seen + "\n" + v.table);
}

}  // namespace tcpfault
