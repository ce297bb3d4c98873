// The backoff model (harness/timing/backoff.h) and the schedule matcher (harness/timing/schedule_check.h),
// on numbers alone. The kernel's own timing is checked by the cases (HS3, HS4, CL10, TM*).
#include "harness/timing/backoff.h"

#include <gtest/gtest.h>

#include "harness/timing/schedule_check.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;

std::vector<std::int64_t> ms_of(const Schedule& s) {
  std::vector<std::int64_t> out;
  for (const auto& step : s.steps) out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(step.at).count());
  return out;
}

std::int64_t give_up_ms(const Schedule& s) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(s.give_up.value().at).count();
}

using Ms = std::vector<std::int64_t>;

TEST(Backoff, BudgetDoublesFromTheBaseThenAddsTheCap) {
  EXPECT_EQ(retransmission_budget(2, 200ms), 1400ms);   // (2^3 - 1) x 200 ms
  EXPECT_EQ(retransmission_budget(15, 200ms), 924600ms);  // the default tcp_retries2: 924.6 s
  EXPECT_EQ(retransmission_budget(2, 1s), 7s);
  // Capped at 1 s: 200, 400, 800 ms double (ilog2(1000 / 200) = 2), then 1 s per retry.
  EXPECT_EQ(retransmission_budget(4, 200ms, 1s), 1400ms + 2s);
}

TEST(Backoff, SynLinearThenDoublingGivesUpOnTheBudget) {
  // tcp_syn_retries 2, linear timeouts 4 (this kernel's default): six SYNs 1 s apart,
  // ETIMEDOUT when the 7 s budget runs out.
  auto s = syn_schedule({.retries = 2, .linear_timeouts = 4});
  EXPECT_EQ(ms_of(s), (Ms{0, 1000, 2000, 3000, 4000, 5000}));
  EXPECT_EQ(give_up_ms(s), 7000);
  EXPECT_EQ(s.steps[0].label, "SYN");
  EXPECT_EQ(s.give_up->label, "ETIMEDOUT");
  // Without linear timeouts: 0, 1, 3 s and 7 s.
  s = syn_schedule({.retries = 2, .linear_timeouts = 0});
  EXPECT_EQ(ms_of(s), (Ms{0, 1000, 3000}));
  EXPECT_EQ(give_up_ms(s), 7000);
  // tcp_syn_retries 1: the budget (3 s) ends the linear run after three SYNs.
  s = syn_schedule({.retries = 1, .linear_timeouts = 4});
  EXPECT_EQ(ms_of(s), (Ms{0, 1000, 2000}));
  EXPECT_EQ(give_up_ms(s), 3000);
}

TEST(Backoff, SynDefaultsGiveUpOnTheCount) {
  // tcp_syn_retries 6 and 4 linear: the count of 10 retransmissions comes first
  // (the 127 s budget would allow one more).
  auto s = syn_schedule({.retries = 6, .linear_timeouts = 4});
  EXPECT_EQ(ms_of(s), (Ms{0, 1000, 2000, 3000, 4000, 5000, 7000, 11000, 19000, 35000, 67000}));
  EXPECT_EQ(give_up_ms(s), 131000);
}

TEST(Backoff, SynAckDoublesAndTheRequestIsDroppedAfterTheRetries) {
  auto s = synack_schedule({.retries = 2});
  EXPECT_EQ(ms_of(s), (Ms{0, 1000, 3000}));
  EXPECT_EQ(give_up_ms(s), 7000);
  EXPECT_EQ(s.give_up->label, "request dropped");
}

TEST(Backoff, RetransmissionsWithoutProbeDoubleFromTheRto) {
  // tcp_retries2 3: budget 3 s from the first retransmission (at 200 ms).
  auto s = retransmission_schedule({.rto = 200ms, .retries = 3});
  EXPECT_EQ(ms_of(s), (Ms{0, 200, 600, 1400, 3000}));
  EXPECT_EQ(give_up_ms(s), 6200);  // 6.0 s after the first retransmission >= 3 s
}

TEST(Backoff, TailLossProbeComesFirstAndDoesNotStartTheBudget) {
  // CL10 on this kernel: tcp_orphan_retries 2, RTO 204 ms, probe at one RTO.
  auto s = retransmission_schedule({.rto = 204ms, .retries = 2, .probe_timeout = 204ms});
  EXPECT_EQ(ms_of(s), (Ms{0, 204, 408, 816, 1632}));
  EXPECT_EQ(s.steps[1].label, "tail loss probe");
  EXPECT_EQ(s.steps[2].label, "retransmission 1");
  EXPECT_EQ(give_up_ms(s), 3264);  // 2856 ms after the first timer retransmission >= 1400 ms
}

TEST(Backoff, CloseCallsAreNamed) {
  // tcp_retries2 3 at an RTO of 204 ms: the last retransmission is 2856 ms after the
  // first timer retransmission, within an eighth of the 3 s budget.
  auto s = retransmission_schedule({.rto = 204ms, .retries = 3, .probe_timeout = 204ms});
  EXPECT_EQ(s.close_call,
            "at the expiry 2856 ms after the first timer retransmission the 3000 ms budget is within the "
            "timers' lateness (up to an eighth): the stack may give up there");
  // At 304 ms every decision is clear of it; so are the SYN schedules.
  EXPECT_EQ(retransmission_schedule({.rto = 304ms, .retries = 3, .probe_timeout = 304ms}).close_call, "");
  EXPECT_EQ(syn_schedule({.retries = 2, .linear_timeouts = 4}).close_call, "");
  EXPECT_EQ(syn_schedule({.retries = 2}).close_call, "");
}

TEST(Backoff, RetransmissionTimeoutStopsDoublingAtTheCap) {
  auto s = retransmission_schedule({.rto = 200ms, .retries = 4, .rto_max = 500ms});
  EXPECT_EQ(ms_of(s), (Ms{0, 200, 600, 1100, 1600, 2100}));
  // Budget with a 500 ms cap: ilog2(500 / 200) = 1, so 3 x 200 ms + 3 x 500 ms = 2.1 s,
  // spent at the expiry 2.4 s after the first retransmission.
  EXPECT_EQ(give_up_ms(s), 2600);
}

TEST(Backoff, ProbeTimeoutIsTwoRttsPlusRtoMinCappedByTheRto) {
  EXPECT_EQ(tail_loss_probe_timeout(100us, 204ms, 200ms, 1, 4ms), 200200us);
  EXPECT_EQ(tail_loss_probe_timeout(50ms, 300ms, 200ms, 1, 4ms), 300ms);  // the RTO comes first
  EXPECT_EQ(tail_loss_probe_timeout(10ms, 300ms, 200ms, 3, 4ms), 28ms);   // more in flight: 2 ticks
  EXPECT_EQ(tail_loss_probe_timeout(0us, 300ms, 200ms, 1, 4ms), 300ms);  // no RTT sample yet
}

TEST(Backoff, KeepaliveProbesThenTheGiveUp) {
  auto s = keepalive_schedule({.idle = 1s, .interval = 1s, .count = 3});
  EXPECT_EQ(ms_of(s), (Ms{1000, 2000, 3000}));
  EXPECT_EQ(give_up_ms(s), 4000);
  EXPECT_EQ(s.origin, "the last segment from the peer");
}

TEST(Backoff, WindowProbesDoubleUntilTheBackoffCap) {
  auto s = window_probe_schedule({.base = 200ms, .retries2 = 2, .answered_probes = 5});
  EXPECT_EQ(ms_of(s), (Ms{200, 600, 1400, 2200, 3000}));  // 200, 400, 800, then 800 (backoff capped at 2)
  EXPECT_FALSE(s.give_up);
  s = window_probe_schedule({.base = 200ms, .retries2 = 3});
  EXPECT_EQ(ms_of(s), (Ms{200, 600, 1400}));
  EXPECT_EQ(give_up_ms(s), 3000);
}

TEST(Backoff, FirstKeepsAPrefixWithoutTheGiveUp) {
  auto s = syn_schedule({.retries = 2}).first(2);
  EXPECT_EQ(ms_of(s), (Ms{0, 1000}));
  EXPECT_FALSE(s.give_up);
  EXPECT_THROW(syn_schedule({.retries = 2}).first(4), Error);
  EXPECT_THROW(syn_schedule({.retries = 2}).first(0), Error);
}

TEST(Backoff, NonsenseInputsAreRefusedWithTheReason) {
  try {
    retransmission_schedule({.rto = 0ms, .retries = 3});
    FAIL() << "accepted a zero RTO";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RTO must be > 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(syn_schedule({.retries = 0}), Error);
  EXPECT_THROW(keepalive_schedule({.idle = 1s, .interval = 1s, .count = 0}), Error);
}

// ---- the matcher ----

constexpr std::int64_t kMs = 1'000'000;

ScheduleObservation observed(std::vector<std::int64_t> ms_times, std::optional<std::int64_t> give_up_ms = {}) {
  ScheduleObservation o;
  o.steps_what = "SYN from client";
  for (auto t : ms_times) o.steps_ns.push_back(5000 * kMs + t * kMs);
  if (give_up_ms) {
    o.check_give_up = true;
    o.give_up_what = "a call on client fails with ETIMEDOUT";
    o.give_up_ns = 5000 * kMs + *give_up_ms * kMs;
  }
  o.trace_start_ns = 0;
  return o;
}

TEST(ScheduleCheck, ToleranceIsFiveMsOrAnEighth) {
  EXPECT_EQ(schedule_tolerance(20ms), 5ms);
  EXPECT_EQ(schedule_tolerance(1s), 125ms);
  EXPECT_EQ(schedule_tolerance(4s), 500ms);
}

TEST(ScheduleCheck, TimesWithinTheirIntervalsPass) {
  auto s = syn_schedule({.retries = 2});
  auto v = check_schedule(s, observed({0, 1010, 3100}, 7300));  // +1010, +2090, +4200
  EXPECT_TRUE(v.ok) << v.seen << "\n" << v.table;
  EXPECT_EQ(v.expected,
            "3 x SYN from client, then ETIMEDOUT (a call on client fails with ETIMEDOUT); each interval "
            "within max(5 ms, 12.5 %)");
}

TEST(ScheduleCheck, EachIntervalIsJudgedOnItsOwn) {
  // 1 s late at the second step: from the first segment that is within 12.5 % of 3 s,
  // but the interval is 3 s where 2 s +- 250 ms is due.
  auto s = syn_schedule({.retries = 2});
  auto v = check_schedule(s, observed({0, 1000, 4000}));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.seen, "3 x SYN from client; off: retransmission 2 (+3000.0 ms where +2000.0 ms ± 250.0 ms)");
  EXPECT_NE(v.table.find("retransmission 2"), std::string::npos);
  EXPECT_NE(v.table.find("<- off"), std::string::npos) << v.table;
}

TEST(ScheduleCheck, MissingAndExtraStepsAreNamed) {
  auto s = syn_schedule({.retries = 2});
  auto v = check_schedule(s, observed({0, 1000}, 3000));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.seen, "2 x SYN from client, then ETIMEDOUT; off: retransmission 2 (missing), ETIMEDOUT "
                    "(+2000.0 ms where +4000.0 ms ± 500.0 ms)");
  v = check_schedule(s.first(2), observed({0, 1000, 3000}));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.seen, "3 x SYN from client; off: segment 3 (extra)");
}

TEST(ScheduleCheck, AGiveUpNotSeenFails) {
  auto s = syn_schedule({.retries = 2});
  auto o = observed({0, 1000, 3000}, 7000);
  o.give_up_ns.reset();
  auto v = check_schedule(s, o);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.seen, "3 x SYN from client, no ETIMEDOUT; off: ETIMEDOUT (missing)");
}

TEST(ScheduleCheck, TheTableShowsOneStepPerLine) {
  auto s = syn_schedule({.retries = 2});
  auto v = check_schedule(s, observed({0, 1003, 3001}, 7002));
  ASSERT_TRUE(v.ok);
  EXPECT_EQ(v.table,
            "    step                expected   interval ± tolerance              seen     interval\n"
            "    SYN                   0.0 ms                                   0.0 ms\n"
            "    retransmission 1   1000.0 ms   +1000.0 ms ± 125.0 ms        1003.0 ms   +1003.0 ms\n"
            "    retransmission 2   3000.0 ms   +2000.0 ms ± 250.0 ms        3001.0 ms   +1998.0 ms\n"
            "    ETIMEDOUT          7000.0 ms   +4000.0 ms ± 500.0 ms        7002.0 ms   +4001.0 ms\n"
            "    (times from the first SYN from client, at +5000.0 ms in the ladder)\n");
}

TEST(ScheduleCheck, AnOriginTimesTheFirstStep) {
  auto s = keepalive_schedule({.idle = 1s, .interval = 1s, .count = 3});
  auto o = observed({1000, 2000, 3000}, 4000);
  o.steps_what = "KEEPALIVE from client";
  o.origin_ns = 5000 * kMs;
  o.origin_what = "the last segment from server";
  EXPECT_TRUE(check_schedule(s, o).ok);
  // The first probe 500 ms early: only the origin shows it.
  o.steps_ns = {5500 * kMs, 6500 * kMs, 7500 * kMs};
  o.give_up_ns = 8500 * kMs;
  auto v = check_schedule(s, o);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.seen, "3 x KEEPALIVE from client, then ETIMEDOUT; off: keepalive probe 1 (+500.0 ms where "
                    "+1000.0 ms ± 125.0 ms)");
  // Without the origin the same times pass: the first interval is not measured.
  o.origin_ns.reset();
  EXPECT_TRUE(check_schedule(s, o).ok);
}

}  // namespace
}  // namespace tcpfault
