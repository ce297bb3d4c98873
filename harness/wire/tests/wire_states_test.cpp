// The wire-inferred state machine on synthetic traces (wire_script.h): each script is
// the middlebox's view, one row per segment with its fate, classified by the real role
// tracker.
#include "harness/wire/wire_states.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "harness/testing/wire_script.h"

namespace tcpfault {
namespace {

bool has_note(const InferredEnd& e, std::string_view text) {
  for (const auto& n : e.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

TEST(WireStates, ThreeWayHandshake) {
  for (Family f : {Family::V4, Family::V6}) {
    Script w(f);
    w.handshake();
    const auto c = w.infer();
    EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED);
    EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED);
    EXPECT_EQ(c.opener.host, Host::Client);
    EXPECT_EQ(c.acceptor.host, Host::Server);
    // LISTEN cannot be seen: the API says it is assumed; SYN_RECV is dated by the SYN.
    EXPECT_NE(c.acceptor.initial_reason.find("assumed"), std::string::npos);
    EXPECT_EQ(c.acceptor.steps[0].t_ns, w.ms(1));
    EXPECT_EQ(c.acceptor.steps[0].evidence, Evidence::Received);
    EXPECT_EQ(c.acceptor.steps[0].segment, 1u);
    EXPECT_EQ(c.opener.steps[1].t_ns, w.ms(2));
    EXPECT_EQ(c.acceptor.steps[1].t_ns, w.ms(3));
  }
}

TEST(WireStates, RefusedConnectionHasNoListener) {
  Script w;
  w.add(C, "S", 0, 0);
  w.add(S, "R.", 0, 1);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::CLOSED);
  EXPECT_STATES(c.acceptor, St::CLOSED);
  EXPECT_NE(c.acceptor.initial_reason.find("no listener"), std::string::npos);
}

TEST(WireStates, SimultaneousOpen) {
  Script w;
  w.add(C, "S", 0, 0);
  w.add(S, "S", 0, 0);  // crossed the client's SYN: carries no ACK
  w.add(C, "S.", 0, 1);
  w.add(S, "S.", 0, 1);
  w.add(C, ".", 1, 1);
  w.add(S, ".", 1, 1);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::SYN_RECV, St::ESTABLISHED);
  EXPECT_STATES(c.acceptor, St::CLOSED, St::SYN_SENT, St::SYN_RECV, St::ESTABLISHED);
  for (const auto* e : {&c.opener, &c.acceptor})
    for (std::size_t i = 1; i < e->steps.size(); ++i) EXPECT_GE(e->steps[i].t_ns, e->steps[i - 1].t_ns);
}

TEST(WireStates, RetransmissionsMoveNothing) {
  Script w;
  w.add(C, "S", 0, 0, 0, "dropped by rule #1");
  w.add(C, "S", 0, 0);  // the SYN again, after its RTO
  w.add(S, "S.", 0, 1, 0, "dropped by rule #2");
  w.add(S, "S.", 0, 1);
  w.add(C, ".", 1, 1);
  w.add(C, "P.", 1, 1, 100, "dropped by rule #3");
  w.add(C, "P.", 1, 1, 100);
  w.add(S, ".", 1, 101);
  w.add(C, "P.", 1, 1, 100);  // a spurious one: already acknowledged
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED);
  EXPECT_EQ(c.acceptor.steps[0].segment, 2u);  // the first SYN never arrived
  EXPECT_EQ(c.opener.steps[1].segment, 4u);
  EXPECT_TRUE(c.opener.notes.empty() && c.acceptor.notes.empty()) << describe(c);
}

TEST(WireStates, FourWayCloseClientFirst) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2,
                St::TIME_WAIT);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK,
                St::CLOSED);
  EXPECT_TRUE(has_note(c.opener, "expiry is not visible")) << describe(c);
  EXPECT_NE(c.opener.steps[2].reason.find("not on the wire"), std::string::npos);
}

TEST(WireStates, FourWayCloseServerFirst) {
  Script w;
  w.handshake();
  w.add(S, "F.", 1, 1);
  w.add(C, ".", 1, 2);
  w.add(C, "F.", 1, 2);
  w.add(S, ".", 2, 2);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK,
                St::CLOSED);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2,
                St::TIME_WAIT);
}

TEST(WireStates, SimultaneousCloseGoesThroughClosing) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, "F.", 1, 1);  // crossed: does not acknowledge the client's FIN
  w.add(C, ".", 2, 2);
  w.add(S, ".", 2, 2);
  const auto c = w.infer();
  for (const auto* e : {&c.opener, &c.acceptor}) {
    const auto st = e->states();
    ASSERT_GE(st.size(), 4u);
    EXPECT_EQ(names({st.end() - 4, st.end()}),
              names({St::ESTABLISHED, St::FIN_WAIT1, St::CLOSING, St::TIME_WAIT}))
        << describe(c);
  }
}

TEST(WireStates, FinCarryingTheAckOfTheFirstFinPassesThroughFinWait2) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, "F.", 1, 2);  // acknowledges the client's FIN and closes in one segment
  w.add(C, ".", 2, 2);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2,
                St::TIME_WAIT);
  // ACK first, then the FIN, both at the one segment's delivery.
  EXPECT_EQ(c.opener.steps[3].segment, c.opener.steps[4].segment);
  EXPECT_EQ(c.opener.steps[3].t_ns, c.opener.steps[4].t_ns);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK,
                St::CLOSED);
}

TEST(WireStates, FinalAckLostLeavesLastAck) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2, 0, "dropped by rule #1");
  const auto c = w.infer();
  EXPECT_EQ(c.opener.final_state(), St::TIME_WAIT) << describe(c);
  EXPECT_EQ(c.acceptor.final_state(), St::LAST_ACK) << describe(c);
  EXPECT_TRUE(has_note(c.acceptor, "never seen acknowledged")) << describe(c);
}

TEST(WireStates, RetransmittedFinMovesNothingAndItsAckCloses) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2, 0, "dropped by rule #1");
  w.add(S, "F.", 1, 2);  // the retransmission
  w.add(C, ".", 2, 2);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2,
                St::TIME_WAIT);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK,
                St::CLOSED);
  EXPECT_TRUE(has_note(c.opener, "retransmitted FIN")) << describe(c);
  EXPECT_EQ(c.acceptor.steps.back().segment, 9u);
}

TEST(WireStates, DroppedFinMovesOnlyItsSender) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1, 0, "dropped by rule #1");
  auto c = w.infer();
  EXPECT_EQ(c.opener.final_state(), St::FIN_WAIT1);
  EXPECT_EQ(c.acceptor.final_state(), St::ESTABLISHED) << describe(c);
  w.add(C, "F.", 1, 1);  // the retransmission gets through
  c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::CLOSE_WAIT) << describe(c);
  EXPECT_EQ(c.acceptor.steps.back().segment, 5u);
}

TEST(WireStates, HeldSegmentCountsWhenLetGo) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1, 0, "held by rule #1, let go after 50 ms (time is up)", 50);
  auto c = w.infer();
  EXPECT_EQ(c.opener.steps.back().t_ns, w.ms(4));  // the sender moved when it sent
  EXPECT_EQ(c.acceptor.steps.back().to, St::CLOSE_WAIT);
  EXPECT_EQ(c.acceptor.steps.back().t_ns, w.ms(54));
  Script never;
  never.handshake();
  never.add(C, "F.", 1, 1, 0, "held by rule #1");  // still held when the trace was read
  c = never.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::ESTABLISHED) << describe(c);
}

TEST(WireStates, DataThenFinOutOfOrderClosesWhenTheHoleFills) {
  Script w;
  w.handshake();
  w.add(C, "P.", 1, 1, 100, "held by rule #1, let go after 5 ms", 5);
  w.add(C, "F.", 101, 1);  // arrives first, after a hole
  auto c = w.infer();
  ASSERT_EQ(c.acceptor.final_state(), St::CLOSE_WAIT) << describe(c);
  EXPECT_EQ(c.acceptor.steps.back().segment, 5u);  // taken once the held data filled the hole
  EXPECT_EQ(c.acceptor.steps.back().t_ns, w.ms(9));
}

TEST(WireStates, ResetAtRcvNxtCloses) {
  Script w;
  w.handshake();
  w.add(C, "P.", 1, 1, 10);
  w.add(S, "R.", 1, 11);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::CLOSED);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSED);
  EXPECT_EQ(c.opener.steps.back().evidence, Evidence::Received);
  EXPECT_EQ(c.acceptor.steps.back().evidence, Evidence::Sent);
}

TEST(WireStates, InjectedResetOutsideTheWindowIsIgnored) {
  Script w;
  w.handshake();
  w.inject(S, "R", 1 + 10'000'000, 0);  // far past the server's window
  auto c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::ESTABLISHED) << describe(c);
  EXPECT_TRUE(has_note(c.acceptor, "outside the window")) << describe(c);
  w.inject(S, "R", 1 + 100, 0);  // in the window, not at rcv_nxt: a challenge ACK
  c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::ESTABLISHED) << describe(c);
  EXPECT_TRUE(has_note(c.acceptor, "challenge ACK")) << describe(c);
  w.inject(S, "R", 1, 0);  // exactly at rcv_nxt
  c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::CLOSED) << describe(c);
  EXPECT_EQ(c.opener.final_state(), St::ESTABLISHED) << describe(c);  // the client saw none of it
}

TEST(WireStates, DroppedResetMovesOnlyItsSender) {
  Script w;
  w.handshake();
  w.add(S, "R.", 1, 1, 0, "dropped by rule #1");
  const auto c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::CLOSED);
  EXPECT_EQ(c.opener.final_state(), St::ESTABLISHED) << describe(c);
}

TEST(WireStates, ResetInCloseWaitAtTheFinsSequenceCloses) {
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.inject(S, "R", 1, 0);  // rcv_nxt - 1: Linux takes it in CLOSE_WAIT
  const auto c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::CLOSED) << describe(c);
}

TEST(WireStates, ResetInSynSentMustAcknowledgeTheSyn) {
  Script w;
  w.add(C, "S", 0, 0);
  w.inject(C, "R.", 0, 5);  // acknowledges nothing the client sent
  auto c = w.infer();
  EXPECT_EQ(c.opener.final_state(), St::SYN_SENT) << describe(c);
  w.inject(C, "R.", 0, 1);
  c = w.infer();
  EXPECT_EQ(c.opener.final_state(), St::CLOSED) << describe(c);
}

TEST(WireStates, ResetInSynRecvReturnsTheListenerToListen) {
  Script w;
  w.add(C, "S", 0, 0);
  w.add(S, "S.", 0, 1);
  w.add(C, "R", 1, 0);
  const auto c = w.infer();
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::LISTEN);
}

TEST(WireStates, DescribeNamesEveryStepAndNote) {
  Script w;
  w.handshake();
  const auto text = describe(w.infer(), w.ms(1));
  EXPECT_NE(text.find("opener 198.18.1.1:40000: CLOSED -> SYN_SENT at +0.000 ms (sent SYN, segment 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("acceptor 198.18.2.1:8080: starts LISTEN (assumed"), std::string::npos) << text;
}

TEST(WireStates, SeparateConnectionsAreKeptApart) {
  Script w;
  w.handshake();
  w.add(S, "R.", 1, 1);
  w.add(C, "S", 5000, 0);  // a new SYN on the same pair after the reset: connection 2
  const auto all = infer_wire_states(w.segments);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, 1u);
  EXPECT_EQ(all[1].id, 2u);
  EXPECT_EQ(all[1].opener.final_state(), St::SYN_SENT);
  EXPECT_TRUE(all[1].acceptor.steps.empty());
  EXPECT_TRUE(has_note(all[1].acceptor, "never answered"));
}

// ---- what the comparison with the kernel over the suite found ----

TEST(WireStates, ShiftedIsnCountsForTheReceiverAsDelivered) {
  // A middlebox that rewrites the client's ISN (SEC2's control): the trace keeps each
  // segment as sent; the client gets the SYN-ACK with the ACK put back into its numbers.
  Script w;
  w.add(C, "S", 0, 0);
  w.segments.back().fate = "ISN rewritten by rule #1 to 7 (seq +5000)";
  w.segments.back().delivered = w.packet(C, "S", 5000, 0);
  w.add(S, "S.", 0, 5001);  // acknowledges the shifted ISN
  w.segments.back().delivered = w.packet(S, "S.", 0, 1);
  w.add(C, ".", 1, 1);
  w.segments.back().delivered = w.packet(C, ".", 5001, 1);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED);
}

TEST(WireStates, HandshakeAckRewrittenIntoResetSendsTheRequestBackToListen) {
  // HS7: a modify rule turns the client's handshake ACK into an RST on the way.
  Script w;
  w.add(C, "S", 0, 0);
  w.add(S, "S.", 0, 1);
  w.add(C, ".", 1, 1, 0, "rewritten by rule #1 to: [R]");
  w.segments.back().delivered = w.packet(C, "R", 1, 0);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED);
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::LISTEN);
}

TEST(WireStates, BareResetAnswersASegmentThatMetNoSocket) {
  // CL6: the client's orphan FIN_WAIT2 expired; later data from the server meets no
  // socket and the client's host answers it with an RST at its ACK. The ACK of the
  // FIN before it had reached the socket.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.wait(2000);
  w.add(S, "P.", 1, 2, 10);
  w.add(C, "R", 2, 0);
  auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2, St::CLOSED);
  // LD2: the listener's close aborted the server's unaccepted child as the client's FIN
  // came; the FIN met no socket and the answer to it is a bare RST: no CLOSE_WAIT.
  Script x;
  x.handshake();
  x.add(C, "F.", 1, 1);
  x.add(S, "R", 1, 0);
  c = x.infer();
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSED);
}

TEST(WireStates, ResetThatCrossedTheEndsFinCountsAfterIt) {
  // LD2: the server's abort RST (acknowledging nothing new) and the client's FIN cross;
  // the middlebox sees the RST first. The client sent its FIN in ESTABLISHED.
  Script w;
  w.handshake();
  w.add(S, "R.", 1, 1);
  w.add(C, "F.", 1, 1);
  const auto c = w.infer();
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::CLOSED);
}

TEST(WireStates, AckOfDataNeverSentIsDropped) {
  // TW5's control: an injected segment put 5 bytes the server never sent into the
  // client's stream; the client's FIN then acknowledges them and the server drops it.
  Script w;
  w.handshake();
  w.inject(C, "P.", 1, 1);
  w.segments.back().packet.payload_len = 5;
  w.add(C, ".", 1, 6);
  w.add(C, "F.", 1, 6);
  w.add(S, "F.", 1, 1);
  const auto c = w.infer();
  EXPECT_EQ(c.acceptor.final_state(), St::FIN_WAIT1) << describe(c);
  EXPECT_TRUE(has_note(c.acceptor, "never sent")) << describe(c);
}

TEST(WireStates, SynReusingTheTupleMeetsTheOlderConnectionsEndInLastAck) {
  // TW6: the client's final ACK was lost, the server stays in LAST_ACK; the client
  // reuses the 4-tuple. The server answers the new SYN with a challenge ACK, the client
  // answers that with an RST at its ACK, which closes LAST_ACK; the next SYN opens.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2, 0, "dropped by rule #1");
  w.new_isns(900'000, 5'000'000);
  w.add(C, "S", 0, 0);                        // meets LAST_ACK
  w.new_isns(900'000, 4294967000u);
  w.add(S, ".", 2, 4294967000u - 900'000 + 2);  // the challenge ACK: the old numbers
  w.new_isns(900'000, 5'000'000);
  w.segments.back().packet.ack = 1000 + 2;    // ack: the old rcv_nxt
  w.add(C, "R", 0, 0);
  w.segments.back().packet.seq = 1000 + 2;    // an RST at that ACK
  w.add(C, "S", 0, 0);                        // the SYN again: the listener's now
  w.add(S, "S.", 0, 1);
  w.add(C, ".", 1, 1);
  const auto all = infer_wire_states(w.segments);
  ASSERT_EQ(all.size(), 2u);
  const auto& c = all[0];
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK, St::CLOSED);
  EXPECT_NE(c.acceptor.steps.back().reason.find("RST at rcv_nxt"), std::string::npos) << describe(c);
  const auto& next = all[1];
  EXPECT_EQ(names(next.acceptor.states()), names({St::LISTEN, St::SYN_RECV, St::ESTABLISHED})) << describe(next);
  EXPECT_EQ(next.acceptor.steps.front().segment, 10u) << describe(next);  // the second SYN
}

TEST(WireStates, FinalAckDeliveredBeforeTheTupleIsReusedClosesTheOldEnd) {
  // TW3: the old server got its final ACK (its last segment was its FIN, so nothing it
  // sent since shows it took it); the client's new SYN is the listener's.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);
  w.new_isns(900'000, 5'000'000);
  w.add(C, "S", 0, 0);
  w.add(S, "S.", 0, 1);
  const auto all = infer_wire_states(w.segments);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].acceptor.final_state(), St::CLOSED) << describe(all[0]);
  EXPECT_EQ(all[1].acceptor.steps.front().segment, 7u) << describe(all[1]);
}

TEST(WireStates, CraftedSynAfterTheCloseIsTheListenersNewChild) {
  // CL2 with a SYN crafted at the server's rcv_nxt as the final ACK passes: the server's
  // connection is over, its listener answers with a new child's SYN-ACK, the client's
  // TIME_WAIT answers that with an ACK, and the child answers the ACK with an RST at its
  // ack (no change, RFC 9293 3.10.7.4) that ends the client's TIME_WAIT.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);         // row 7: the final ACK
  w.inject(S, "S", 2, 0);      // row 8: opens nothing for the role tracker (connection 0)
  w.add(S, "S.", 85750, 3);    // row 9: the child's own ISN
  w.add(C, ".", 2, 2);
  w.add(S, "R", 2, 0);         // row 11
  ASSERT_EQ(w.segments[7].classified.connection, 0u);
  const auto c = w.infer();
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK, St::CLOSED,
                St::SYN_RECV);
  EXPECT_EQ(c.acceptor.steps.back().segment, 8u) << describe(c);
  EXPECT_EQ(c.acceptor.steps.back().evidence, Evidence::Received);
  EXPECT_NE(c.acceptor.steps.back().reason.find("crafted"), std::string::npos) << describe(c);
  EXPECT_STATES(c.opener, St::CLOSED, St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2, St::TIME_WAIT,
                St::CLOSED);
  EXPECT_EQ(c.opener.steps.back().segment, 11u) << describe(c);
}

TEST(WireStates, TheNewChildIsResetBackToListen) {
  // The same with a stack that answers the bad ACK with RST+ACK and retransmits its
  // SYN-ACK later: the client, with no socket now, answers with an RST at the child's rcv_nxt.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);
  w.inject(S, "S", 2, 0);
  w.add(S, "S.", 85750, 3);
  w.add(C, ".", 2, 2);
  w.add(S, "R.", 2, 2);
  w.wait(2700);
  w.add(S, "S.", 85750, 3);
  w.add(C, "R", 3, 0);
  const auto c = w.infer();
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::LAST_ACK, St::CLOSED,
                St::SYN_RECV, St::LISTEN);
  EXPECT_EQ(c.acceptor.steps.back().segment, 13u) << describe(c);
}

TEST(WireStates, CraftedSynToAnEndStillInItsConnectionChangesNothing) {
  // The server is in CLOSE_WAIT: the SYN meets its socket (a challenge ACK), no child.
  Script w;
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.inject(S, "S", 2, 0);
  w.add(S, ".", 1, 2);
  const auto c = w.infer();
  EXPECT_STATES(c.acceptor, St::LISTEN, St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT);
}

}  // namespace
}  // namespace tcpfault
