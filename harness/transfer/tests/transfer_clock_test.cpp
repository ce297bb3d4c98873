// When a transfer gives up: the deadline bounds the whole, the stall timeout only a
// stretch with nothing moving.
#include "harness/transfer/transfer_clock.h"

#include <gtest/gtest.h>

namespace tcpfault {
namespace {

using namespace std::chrono_literals;
using Expiry = TransferClock::Expiry;
const TransferClock::Clock::time_point t0{1000s};

TEST(TransferClock, WithoutAStallTimeoutOnlyTheDeadlineCounts) {
  TransferClock c(t0, 30s, 0s);
  EXPECT_EQ(c.wait_until(), t0 + 30s);
  EXPECT_EQ(c.expired(t0 + 29s), Expiry::None);
  EXPECT_EQ(c.expired(t0 + 30s), Expiry::Deadline);
}

TEST(TransferClock, NothingMovingForTheStallTimeoutEndsItBeforeTheDeadline) {
  TransferClock c(t0, 600s, 60s);
  EXPECT_EQ(c.wait_until(), t0 + 60s);
  EXPECT_EQ(c.expired(t0 + 59s), Expiry::None);
  EXPECT_EQ(c.expired(t0 + 60s), Expiry::Stalled);
}

TEST(TransferClock, ProgressKeepsASlowTransferGoingPastTheStallTimeout) {
  TransferClock c(t0, 600s, 60s);
  for (auto t = t0 + 50s; t < t0 + 500s; t += 50s) {
    c.progress(t);
    EXPECT_EQ(c.expired(t + 59s), Expiry::None);
    EXPECT_EQ(c.wait_until(), t + 60s);
  }
  // A stretch of 60 s with nothing after the last byte at 450 s.
  EXPECT_EQ(c.expired(t0 + 510s), Expiry::Stalled);
}

TEST(TransferClock, TheLaterOfTwoSidesProgressCounts) {
  TransferClock c(t0, 600s, 60s);
  c.progress(t0 + 40s);
  c.progress(t0 + 10s);  // the other side's older reading
  EXPECT_EQ(c.wait_until(), t0 + 100s);
}

TEST(TransferClock, TheDeadlineBoundsEvenAMovingTransfer) {
  TransferClock c(t0, 100s, 60s);
  c.progress(t0 + 90s);
  EXPECT_EQ(c.wait_until(), t0 + 100s);
  EXPECT_EQ(c.expired(t0 + 100s), Expiry::Deadline);
}

}  // namespace
}  // namespace tcpfault
