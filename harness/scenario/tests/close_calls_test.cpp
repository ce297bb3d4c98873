// Which verdicts an event close to their look would have turned (harness/scenario/close_calls.h):
// the window, a passed check's later event looked for when asked, a failed one's as recorded.
#include "harness/scenario/close_calls.h"

#include <gtest/gtest.h>

namespace tcpfault {
namespace {

constexpr std::int64_t kMs = 1'000'000;

// A passed check whose verdict the event at `event_ms`, if it is in the asked window, turns.
CloseCalls::Later event_at(std::int64_t event_ms, std::string what = "RST") {
  return [event_ms, what](std::int64_t until_ns) -> std::optional<std::pair<std::int64_t, std::string>> {
    if (event_ms * kMs > until_ns) return std::nullopt;
    return std::pair{event_ms * kMs, what};
  };
}

TEST(CloseCalls, APassedCheckIsCloseOnlyWhenItsEventIsWithinTheWindow) {
  CloseCalls calls;
  calls.passed("no RST", 100 * kMs, event_at(101, "client > server R"));
  calls.passed("client in TIME_WAIT", 100 * kMs, event_at(150, "TIME_WAIT -> CLOSED"));
  auto close = calls.within(2 * kMs);
  ASSERT_EQ(close.size(), 1u);
  EXPECT_EQ(close[0].check, "no RST");
  EXPECT_TRUE(close[0].passed);
  EXPECT_EQ(close[0].gap_ns(), 1 * kMs);
  EXPECT_EQ(close[0].event, "client > server R");
  EXPECT_EQ(calls.within(60 * kMs).size(), 2u);
}

TEST(CloseCalls, AFailedCheckIsCloseWhenItsEventCameJustBeforeItLooked) {
  CloseCalls calls;
  calls.failed("no RST", 100 * kMs, 99 * kMs + kMs / 2, "server > client R");
  calls.failed("1 x FIN from server", 100 * kMs, 40 * kMs, "server > client F");
  auto close = calls.within(2 * kMs);
  ASSERT_EQ(close.size(), 1u);
  EXPECT_FALSE(close[0].passed);
  EXPECT_EQ(close[0].gap_ns(), kMs / 2);
}

TEST(CloseCalls, AnEventTheObserverStampedBeforeTheLookCountsByItsDistance) {
  // The socket table showed the state a moment after the tracepoint's time of the step out.
  CloseCalls calls;
  calls.passed("client in FIN_WAIT2", 100 * kMs, event_at(99, "FIN_WAIT2 -> TIME_WAIT"));
  auto close = calls.within(2 * kMs);
  ASSERT_EQ(close.size(), 1u);
  EXPECT_EQ(close[0].gap_ns(), 1 * kMs);
}

TEST(CloseCalls, KeepsTheOrderTheChecksWereAsked) {
  CloseCalls calls;
  calls.passed("first", 10 * kMs, event_at(11));
  calls.failed("second", 20 * kMs, 20 * kMs, "x");
  calls.passed("third", 30 * kMs, event_at(30));
  auto close = calls.within(2 * kMs);
  ASSERT_EQ(close.size(), 3u);
  EXPECT_EQ(close[0].check, "first");
  EXPECT_EQ(close[1].check, "second");
  EXPECT_EQ(close[2].check, "third");
}

TEST(CloseCalls, WatchesABoundedNumberOfPasses) {
  CloseCalls calls;
  for (std::size_t i = 0; i < CloseCalls::kMaxWatched + 3; ++i) calls.passed("check", 0, event_at(0));
  EXPECT_EQ(calls.within(kMs).size(), CloseCalls::kMaxWatched);
  EXPECT_EQ(calls.unwatched(), 3u);
}

}  // namespace
}  // namespace tcpfault
