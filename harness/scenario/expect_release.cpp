#include "harness/scenario/expect_release.h"

namespace tcpfault {

namespace {

// The engine records a segment it keeps back as "held by rule #n ..." (a delay too, at
// first) and, once let go, "held ..."/"delayed ..., let go after ...".
bool kept_back_by(const SegmentEvent& s, int rule) {
  return s.rule_id == rule && (s.fate.rfind("held", 0) == 0 || s.fate.rfind("delayed", 0) == 0);
}

}  // namespace

SegmentEvent expect_released(const Expectations& expect, const Trace& trace, int rule, const std::string& label,
                             int nth, std::chrono::milliseconds within) {
  if (nth < 1) throw Error("expect_released: nth counts from 1, got " + std::to_string(nth));
  const auto deadline = Clock::now() + within;
  std::size_t next = 0;     // where the search for the nth held segment goes on
  int held = 0;             // segments the rule kept back so far
  std::optional<std::size_t> index;  // the nth one's place in the timeline
  std::optional<SegmentEvent> seen;
  while (true) {
    const auto version = trace.version();
    if (!index)
      next = trace.visit_segments(next, [&](const SegmentEvent& s) {
        if (index || !kept_back_by(s, rule)) return;
        if (++held == nth) index = s.id - 1;
      });
    if (index) {
      // Its fate is updated in place when it goes.
      trace.visit_segments(*index, [&](const SegmentEvent& s) {
        if (s.id == *index + 1) seen = s;
      });
      if (seen && seen->released_ns) return *seen;
    }
    if (Clock::now() >= deadline) break;
    trace.wait_change(version, deadline);
  }
  const std::string which = nth == 1 ? "the segment" : "the " + ordinal(static_cast<std::size_t>(nth)) + " segment";
  expect.fail(which + " held by rule #" + std::to_string(rule) + " (" + label + ") let go within " +
                  std::to_string(within.count()) + " ms",
              "let go",
              seen ? "still held since " + trace.offset(seen->t_ns) + ": " + format_packet(seen->packet, seen->relative) +
                         " {" + seen->fate + "}"
                   : "the rule has kept back " + std::to_string(held) + " segment(s) so far");
}

}  // namespace tcpfault
