// The end of a socket's life, and its cause, read from synthetic timelines: what the
// expectations name when they fail at once (harness/scenario/socket_end.h).
#include "harness/scenario/socket_end.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "harness/testing/scripted_connection.h"

namespace tcpfault {
namespace {

using enum TcpState;

// A timeline of one connection; times in ms from the trace's start.
class Timeline {
 public:
  Timeline() : conn_(Family::V4, 1000, 5000), trace_("socket-end") {}

  SocketRef client() const { return {Host::Client, {conn_.client, conn_.server}}; }
  SocketRef server() const { return {Host::Server, {conn_.server, conn_.client}}; }

  void step(const SocketRef& s, double ms, TcpState from, TcpState to) {
    TransitionEvent t{at(ms), s.host, s.tuple.local, s.tuple.remote, 1, from, to, "tracepoint"};
    trace_.add(t);
    steps_[s.host == Host::Client].push_back(t);
  }
  SegmentEvent& segment(Host from, double ms, std::string_view flags, std::string fate = "passed") {
    SegmentEvent e;
    e.t_ns = at(ms);
    e.from = from;
    const Side side = from == Host::Server ? S : C;  // the middlebox impersonates the client here
    e.to = side == C ? Host::Server : Host::Client;
    e.packet = conn_.packet(side, flags, 1, 1, 0, 502);
    e.fate = std::move(fate);
    pending_.push_back(std::move(e));
    return pending_.back();
  }
  void call(const SocketRef& s, double ms, std::string what, int err, double took_ms = 0) {
    trace_.add(CallEvent{at(ms), static_cast<std::int64_t>(took_ms * 1e6), s.host, std::move(what), err ? -1 : 0, err,
                         s.tuple});
  }
  std::optional<SocketEnd> end(const SocketRef& s, bool gone = true, bool whole_only = false) {
    for (auto& e : pending_) trace_.add_segment(std::move(e));
    pending_.clear();
    return socket_end(trace_, s, steps_[s.host == Host::Client], gone, whole_only);
  }

 private:
  std::int64_t at(double ms) const { return trace_.start_ns() + static_cast<std::int64_t>(ms * 1e6); }
  ScriptedConnection conn_;
  Trace trace_;
  std::vector<TransitionEvent> steps_[2];
  std::vector<SegmentEvent> pending_;
};

void open_server(Timeline& t) {
  t.step(t.server(), 1, LISTEN, SYN_RECV);
  t.step(t.server(), 2, SYN_RECV, ESTABLISHED);
}

TEST(SocketEnd, ASocketTheTableStillShowsHasNotEnded) {
  Timeline t;
  open_server(t);
  t.step(t.server(), 10, ESTABLISHED, CLOSED);
  EXPECT_FALSE(t.end(t.server(), /*gone=*/false));
}

TEST(SocketEnd, ASocketNeverSeenHasNotEnded) {
  Timeline t;
  EXPECT_FALSE(t.end(t.server()));
  open_server(t);
  EXPECT_FALSE(t.end(t.server()));  // gone from the table, but its last step was not CLOSED
}

TEST(SocketEnd, ResetByThePeersRst) {
  Timeline t;
  open_server(t);
  t.segment(Host::Client, 10, "R.");
  t.step(t.server(), 10.1, ESTABLISHED, CLOSED);
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->whole);
  EXPECT_EQ(end->from, ESTABLISHED);
  EXPECT_EQ(end->cause, "reset by the RST from the client at +10.0 ms (ESTABLISHED -> CLOSED at +10.1 ms)");
  EXPECT_TRUE(end->named_by_rst);
}

TEST(SocketEnd, ACraftedRstNamesItsRule) {
  Timeline t;
  open_server(t);
  t.segment(Host::Middlebox, 10, "R", "injected: crafted by rule #1");
  t.step(t.server(), 10.1, ESTABLISHED, CLOSED);
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->cause, "reset by the RST from the middlebox at +10.0 ms (injected: crafted by rule #1) "
                        "(ESTABLISHED -> CLOSED at +10.1 ms)");
}

TEST(SocketEnd, ASegmentARuleRewroteIntoAnRst) {
  Timeline t;
  open_server(t);
  SegmentEvent& ack = t.segment(Host::Client, 10, ".", "rewritten by rule #1 to: ...");
  ack.delivered = ack.packet;
  ack.delivered->flags = tcp_flag::RST;
  t.step(t.server(), 10.1, ESTABLISHED, CLOSED);
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->cause.rfind("reset by the RST from the client at +10.0 ms (rewritten by rule #1", 0), 0u)
      << end->cause;
}

TEST(SocketEnd, AnRstTheSocketLivedOnAfterIsNotItsCause) {
  Timeline t;
  open_server(t);
  t.segment(Host::Client, 5, "R.");   // in the window, not at rcv_nxt
  t.segment(Host::Server, 5.01, ".");  // its challenge ACK, at once
  t.segment(Host::Server, 400, "P.");  // and it lives on: its data goes again
  t.step(t.server(), 900, ESTABLISHED, CLOSED);  // a timer gives up, much later
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->cause, "ESTABLISHED -> CLOSED at +900.0 ms");
}

TEST(SocketEnd, ADroppedRstIsNotDelivered) {
  Timeline t;
  open_server(t);
  t.segment(Host::Client, 10, "R.", "dropped by rule #1");
  t.step(t.server(), 10.1, ESTABLISHED, CLOSED);
  EXPECT_EQ(t.end(t.server())->cause, "ESTABLISHED -> CLOSED at +10.1 ms");
}

TEST(SocketEnd, AnAbortSendsItsOwnRst) {
  Timeline t;
  t.step(t.client(), 1, CLOSED, SYN_SENT);
  t.step(t.client(), 2, SYN_SENT, ESTABLISHED);
  t.step(t.client(), 20, ESTABLISHED, CLOSED);
  t.segment(Host::Client, 20.05, "R.", "dropped by rule #2");
  auto end = t.end(t.client());
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->whole);
  EXPECT_EQ(end->cause, "aborted: it sent an RST at +20.1 ms (dropped by rule #2) (ESTABLISHED -> CLOSED at +20.0 ms)");
  EXPECT_TRUE(end->named_by_rst);
}

TEST(SocketEnd, AHostsAnswerLaterIsNoAbort) {
  Timeline t;
  t.step(t.client(), 1, CLOSED, SYN_SENT);
  t.step(t.client(), 2, SYN_SENT, ESTABLISHED);
  t.step(t.client(), 20, ESTABLISHED, FIN_WAIT1);
  t.step(t.client(), 21, FIN_WAIT1, FIN_WAIT2);
  t.step(t.client(), 22, FIN_WAIT2, CLOSED);  // no timewait bucket
  t.segment(Host::Client, 250, "R");  // the host answers the peer's FIN: no socket
  EXPECT_EQ(t.end(t.client())->cause, "FIN_WAIT2 -> CLOSED at +22.0 ms");
}

TEST(SocketEnd, AnRstThatAnswersASegmentAfterTheEndIsNoAbort) {
  Timeline t;
  open_server(t);
  t.step(t.server(), 20, ESTABLISHED, CLOSE_WAIT);
  t.step(t.server(), 21, CLOSE_WAIT, LAST_ACK);
  t.step(t.server(), 22, LAST_ACK, CLOSED);
  t.segment(Host::Client, 90, "S");     // reaches no socket ...
  t.segment(Host::Server, 90.1, "R.");  // ... and the host answers it
  EXPECT_EQ(t.end(t.server())->cause, "LAST_ACK -> CLOSED at +22.0 ms");
  // Named by its step only: an expectation failing on it first waits a moment for an own
  // RST still in the middlebox's queue (Expectations::named_end).
  EXPECT_FALSE(t.end(t.server())->named_by_rst);
}

TEST(SocketEnd, AnAbortSeenLateIsStillAnAbort) {
  Timeline t;
  t.step(t.client(), 1, CLOSED, SYN_SENT);
  t.step(t.client(), 2, SYN_SENT, ESTABLISHED);
  t.step(t.client(), 20, ESTABLISHED, CLOSED);
  t.segment(Host::Client, 75, "R.");  // the verdict loop was busy
  EXPECT_EQ(t.end(t.client())->cause, "aborted: it sent an RST at +75.0 ms (ESTABLISHED -> CLOSED at +20.0 ms)");
}

TEST(SocketEnd, ACallThatFailedIsNamed) {
  Timeline t;
  t.step(t.client(), 1, CLOSED, SYN_SENT);
  t.step(t.client(), 3001, SYN_SENT, CLOSED);
  t.call(t.client(), 3001.2, "connect(198.18.2.1:8080)", ETIMEDOUT, 3000);
  auto end = t.end(t.client());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->cause, "SYN_SENT -> CLOSED at +3001.0 ms; connect(198.18.2.1:8080) failed with ETIMEDOUT at +3001.2 ms");
}

TEST(SocketEnd, ResetAndTheFailedCallTogether) {
  Timeline t;
  t.step(t.client(), 1, CLOSED, SYN_SENT);
  t.segment(Host::Server, 1.5, "R.");
  t.step(t.client(), 1.6, SYN_SENT, CLOSED);
  t.call(t.client(), 1.7, "connect(198.18.2.1:8080)", ECONNREFUSED, 0.7);
  EXPECT_EQ(t.end(t.client())->cause, "reset by the RST from the server at +1.5 ms (SYN_SENT -> CLOSED at +1.6 ms); "
                                      "connect(198.18.2.1:8080) failed with ECONNREFUSED at +1.7 ms");
}

TEST(SocketEnd, AStepMissingFromTheRecordMakesItNotWhole) {
  Timeline t;
  open_server(t);
  t.step(t.server(), 30, LAST_ACK, CLOSED);  // ESTABLISHED -> CLOSE_WAIT -> LAST_ACK never arrived
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->whole);
  EXPECT_FALSE(t.end(t.server(), true, /*whole_only=*/true));
}

TEST(SocketEnd, AConnectOnTheTupleAfterTheEndMayOpenItAgain) {
  Timeline t;
  open_server(t);
  t.step(t.server(), 10, ESTABLISHED, CLOSED);
  ASSERT_TRUE(t.end(t.server()));
  t.call(t.client(), 50, "connect(198.18.2.1:8080)", 0, 5);  // begun at +45 ms, from the other end
  EXPECT_FALSE(t.end(t.server()));
}

TEST(SocketEnd, OnlyTheLatestLifeOfTheTupleCounts) {
  Timeline t;
  open_server(t);
  t.segment(Host::Client, 10, "R.");
  t.step(t.server(), 10.1, ESTABLISHED, CLOSED);
  t.step(t.server(), 60, LISTEN, SYN_RECV);  // the tuple again, after a new SYN
  t.step(t.server(), 61, SYN_RECV, ESTABLISHED);
  t.step(t.server(), 80, ESTABLISHED, CLOSE_WAIT);
  t.step(t.server(), 81, CLOSE_WAIT, LAST_ACK);
  t.step(t.server(), 82, LAST_ACK, CLOSED);
  auto end = t.end(t.server());
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->whole);
  EXPECT_EQ(end->cause, "LAST_ACK -> CLOSED at +82.0 ms");  // the first life's RST is not this one's
}

}  // namespace
}  // namespace tcpfault
