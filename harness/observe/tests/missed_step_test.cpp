// missed_step on scripted table reads: a read taken between a step's tracepoint and the
// kernel's store of the new state is not a missed step; one the table still shows after
// the wait for a late event is, and it goes to the later read's state.
#include <gtest/gtest.h>

#include <deque>

#include "harness/observe/missed_step.h"

namespace tcpfault {
namespace {

using enum TcpState;

SocketInfo full(TcpState s) { return SocketInfo{.state = s}; }

// Table reads in order; how many were taken.
struct Reads {
  std::deque<std::optional<SocketInfo>> left;
  int taken = 0;
  std::optional<SocketInfo> operator()() {
    ++taken;
    auto next = left.front();
    if (left.size() > 1) left.pop_front();
    return next;
  }
};

TEST(MissedStep, AReadBeforeTheKernelStoredTheRecordedStepIsNoStep) {
  // FIN_WAIT2's event is recorded; the first read still sees FIN_WAIT1, the second FIN_WAIT2.
  Reads reads{{full(FIN_WAIT1), full(FIN_WAIT2)}};
  EXPECT_EQ(missed_step(FIN_WAIT2, std::ref(reads), [] { return false; }), std::nullopt);
  EXPECT_EQ(reads.taken, 2);
}

TEST(MissedStep, AStepTheTableStillShowsAfterTheWaitIsFilledInWithTheLaterState) {
  Reads reads{{full(FIN_WAIT1), full(FIN_WAIT2)}};
  EXPECT_EQ(missed_step(ESTABLISHED, std::ref(reads), [] { return false; }), FIN_WAIT2);
  Reads gone{{std::nullopt}};
  EXPECT_EQ(missed_step(LAST_ACK, std::ref(gone), [] { return false; }), CLOSED);
}

TEST(MissedStep, NothingIsFilledInWhenTheStepsEventArrivesOrTheTableAgrees) {
  Reads differs{{full(CLOSE_WAIT)}};
  EXPECT_EQ(missed_step(ESTABLISHED, std::ref(differs), [] { return true; }), std::nullopt);
  Reads agrees{{full(ESTABLISHED)}};
  bool waited = false;
  EXPECT_EQ(missed_step(ESTABLISHED, std::ref(agrees), [&] { return waited = true; }), std::nullopt);
  EXPECT_FALSE(waited);  // no wait when the first read shows no step
  EXPECT_EQ(agrees.taken, 1);
}

TEST(MissedStep, OtherSocketsAndStatesWatchedElsewhereAreNoStep) {
  EXPECT_EQ(state_shown_past(SYN_RECV, full(LISTEN)), std::nullopt);  // the listener of the address
  EXPECT_EQ(state_shown_past(SYN_SENT, SocketInfo{.state = NEW_SYN_RECV, .request_sock = true}), std::nullopt);
  EXPECT_EQ(state_shown_past(TIME_WAIT, std::nullopt), std::nullopt);  // an expired minisocket
  EXPECT_EQ(state_shown_past(LISTEN, std::nullopt), std::nullopt);
  EXPECT_EQ(state_shown_past(CLOSE_WAIT, full(LAST_ACK)), LAST_ACK);
}

}  // namespace
}  // namespace tcpfault
