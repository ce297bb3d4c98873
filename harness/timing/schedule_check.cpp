#include "harness/timing/schedule_check.h"

#include <algorithm>
#include <cstdio>

namespace tcpfault {

namespace {

constexpr Usec kMinTolerance = std::chrono::milliseconds(5);

struct Row {
  std::string label;
  std::optional<Usec> expected_at, expected_interval;
  std::optional<double> seen_at_ms, seen_interval_ms;
  std::string verdict;  // "", "off", "missing", "extra", "not checked"
};

std::string ms(double v, bool sign = false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, sign ? "%+.1f ms" : "%.1f ms", v);
  return buf;
}

double to_ms(Usec t) { return double(t.count()) / 1000.0; }

std::string cell(const std::optional<double>& v, bool sign = false) { return v ? ms(*v, sign) : "-"; }

std::string interval_cell(const std::optional<Usec>& interval) {
  if (!interval) return "";
  return ms(to_ms(*interval), true) + " ± " + ms(to_ms(schedule_tolerance(*interval)));
}

std::string pad(const std::string& s, std::size_t width, bool right = false) {
  // The ± sign is two bytes in UTF-8 but one column.
  std::size_t shown = s.size() - static_cast<std::size_t>(std::count(s.begin(), s.end(), '\xc2'));
  if (shown >= width) return s;
  return right ? std::string(width - shown, ' ') + s : s + std::string(width - shown, ' ');
}

std::string render(const std::vector<Row>& rows) {
  std::size_t label_width = 4;
  for (const auto& r : rows) label_width = std::max(label_width, r.label.size());
  std::string out = "    " + pad("step", label_width) + pad("expected", 12, true) + "   " +
                    pad("interval ± tolerance", 26) + pad("seen", 12, true) + pad("interval", 13, true) + "\n";
  for (const auto& r : rows) {
    std::string line = "    " + pad(r.label, label_width) +
                       pad(r.expected_at ? ms(to_ms(*r.expected_at)) : "-", 12, true) + "   " +
                       pad(interval_cell(r.expected_interval), 26) + pad(cell(r.seen_at_ms), 12, true) +
                       pad(r.seen_interval_ms ? cell(r.seen_interval_ms, true) : "", 13, true);
    if (!r.verdict.empty()) line += "  <- " + r.verdict;
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

}  // namespace

Usec schedule_tolerance(Usec interval) { return std::max(kMinTolerance, interval / 8); }

ScheduleVerdict check_schedule(const Schedule& schedule, const ScheduleObservation& seen) {
  const bool has_origin = !schedule.origin.empty() && seen.origin_ns.has_value();
  // Expected times relative to time 0: the origin, or the first step.
  const Usec shift = has_origin || schedule.steps.empty() ? Usec{0} : schedule.steps.front().at;
  // Seen times relative to the same point.
  const bool has_zero = has_origin || !seen.steps_ns.empty();
  const std::int64_t zero_ns = has_origin ? *seen.origin_ns : has_zero ? seen.steps_ns.front() : 0;
  auto seen_ms = [&](std::int64_t t) { return double(t - zero_ns) / 1e6; };

  std::vector<Row> rows;
  if (has_origin) rows.push_back({"(" + seen.origin_what + ")", Usec{0}, std::nullopt, 0.0, std::nullopt, ""});
  std::vector<std::string> off;
  const std::size_t n = std::max(schedule.steps.size(), seen.steps_ns.size());
  std::optional<Usec> prev_expected = has_origin ? std::optional(Usec{0}) : std::nullopt;
  std::optional<double> prev_seen = has_origin ? std::optional(0.0) : std::nullopt;

  auto judge = [&](Row& r, std::optional<Usec> want_at, std::optional<double> got_at) {
    r.expected_at = want_at;
    r.seen_at_ms = got_at;
    if (want_at && prev_expected) r.expected_interval = *want_at - *prev_expected;
    if (got_at && prev_seen) r.seen_interval_ms = *got_at - *prev_seen;
    if (!want_at) {
      r.verdict = "extra";
      off.push_back(r.label + " (extra)");
    } else if (!got_at) {
      r.verdict = "missing";
      off.push_back(r.label + " (missing)");
    } else if (r.expected_interval && r.seen_interval_ms) {
      double want = to_ms(*r.expected_interval);
      double tol = to_ms(schedule_tolerance(*r.expected_interval));
      if (std::abs(*r.seen_interval_ms - want) > tol) {
        r.verdict = "off";
        off.push_back(r.label + " (" + ms(*r.seen_interval_ms, true) + " where " + interval_cell(r.expected_interval) +
                      ")");
      }
    }
    if (want_at) prev_expected = want_at;
    if (got_at) prev_seen = got_at;
  };

  for (std::size_t i = 0; i < n; ++i) {
    Row r;
    std::optional<Usec> want_at;
    if (i < schedule.steps.size()) {
      r.label = schedule.steps[i].label;
      want_at = schedule.steps[i].at - shift;
    } else {
      r.label = "segment " + std::to_string(i + 1);
    }
    std::optional<double> got_at;
    if (i < seen.steps_ns.size()) got_at = seen_ms(seen.steps_ns[i]);
    judge(r, want_at, got_at);
    rows.push_back(std::move(r));
  }
  if (seen.check_give_up) {
    Row r;
    r.label = schedule.give_up ? schedule.give_up->label : "give-up";
    std::optional<Usec> want_at;
    if (schedule.give_up) want_at = schedule.give_up->at - shift;
    std::optional<double> got_at;
    if (seen.give_up_ns && has_zero) got_at = seen_ms(*seen.give_up_ns);
    judge(r, want_at, got_at);
    if (!want_at) r.verdict = "the schedule never gives up";
    rows.push_back(std::move(r));
  }

  ScheduleVerdict v;
  v.ok = off.empty();
  const std::string give_up = seen.check_give_up && schedule.give_up
                                  ? ", then " + schedule.give_up->label + " (" + seen.give_up_what + ")"
                                  : "";
  v.expected = std::to_string(schedule.steps.size()) + " x " + seen.steps_what + give_up +
               (has_origin ? ", timed from " + seen.origin_what : "") +
               "; each interval within max(5 ms, 12.5 %)";
  std::string seen_give_up;
  if (seen.check_give_up)
    seen_give_up = seen.give_up_ns ? ", then " + (schedule.give_up ? schedule.give_up->label : seen.give_up_what)
                                   : ", no " + (schedule.give_up ? schedule.give_up->label : seen.give_up_what);
  v.seen = std::to_string(seen.steps_ns.size()) + " x " + seen.steps_what + seen_give_up;
  if (!off.empty()) {
    std::string list;
    for (const auto& o : off) list += (list.empty() ? "" : ", ") + o;
    v.seen += "; off: " + list;
  }
  v.table = render(rows);
  if (has_zero)
    v.table += "    (times from " + (has_origin ? seen.origin_what : "the first " + seen.steps_what) + ", at " +
               ms(double(zero_ns - seen.trace_start_ns) / 1e6, true) + " in the ladder)\n";
  return v;
}

}  // namespace tcpfault
