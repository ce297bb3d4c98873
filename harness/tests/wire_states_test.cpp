// The wire-inferred state machine on synthetic traces: each script is the middlebox's
// view, one row per segment with its fate, classified by the real role tracker.
#include "harness/wire_states.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "harness/roles.h"

namespace tcpfault {
namespace {

enum Side { C, S };  // the client (the opener unless a test says otherwise) and the server
using St = TcpState;

std::uint8_t flags_of(std::string_view letters) {
  auto flags = flags_from_letters(letters);
  if (!flags) ADD_FAILURE() << "unknown flag letter in " << letters;
  return flags.value_or(0);
}

// Builds a trace: seq relative to the sender's ISN, ack to the receiver's; each row is
// seen 1 ms after the previous one.
class Script {
 public:
  explicit Script(Family family = Family::V4)
      : client_{Address::parse(family == Family::V4 ? "198.18.1.1" : "2001:2:0:1::1"), 40000},
        server_{Address::parse(family == Family::V4 ? "198.18.2.1" : "2001:2:0:2::1"), 8080} {}

  // fate: "passed", "dropped by rule #1", "held by rule #1" (never let go) ...
  // released_ms: for a held segment, when it was let go (ms after it was seen).
  std::uint64_t add(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack,
                    std::size_t len = 0, std::string fate = "passed", std::int64_t released_ms = 0,
                    std::uint16_t win = 502) {
    const Side to = from == C ? S : C;
    Packet p;
    p.family = client_.addr.family;
    p.src = (from == C ? client_ : server_).addr;
    p.dst = (to == C ? client_ : server_).addr;
    p.sport = (from == C ? client_ : server_).port;
    p.dport = (to == C ? client_ : server_).port;
    p.flags = flags_of(flags);
    p.seq = isn_[from] + seq;
    p.ack = (p.flags & tcp_flag::ACK) ? isn_[to] + ack : 0;
    p.window = win;
    p.payload_len = len;
    return add_packet(from, p, std::move(fate), released_ms);
  }

  // A segment the middlebox crafts toward `to`, as an injection rule would.
  std::uint64_t inject(Side to, std::string_view flags, std::uint32_t seq, std::uint32_t ack) {
    const Side from = to == C ? S : C;
    Packet p;
    p.family = client_.addr.family;
    p.src = (from == C ? client_ : server_).addr;
    p.dst = (to == C ? client_ : server_).addr;
    p.sport = (from == C ? client_ : server_).port;
    p.dport = (to == C ? client_ : server_).port;
    p.flags = flags_of(flags);
    p.seq = isn_[from] + seq;
    p.ack = (p.flags & tcp_flag::ACK) ? isn_[to] + ack : 0;
    SegmentEvent e;
    e.t_ns = now();
    e.id = segments.size() + 1;
    e.from = Host::Middlebox;
    e.to = to == C ? Host::Client : Host::Server;
    e.classified = tracker_.classify(p, /*injected=*/true);
    e.packet = p;
    e.fate = "injected: crafted by rule #1";
    segments.push_back(e);
    return e.id;
  }

  void handshake() {
    add(C, "S", 0, 0);
    add(S, "S.", 0, 1);
    add(C, ".", 1, 1);
  }

  std::int64_t ms(int n) const { return n * 1'000'000LL; }
  InferredConnection infer() {
    auto all = infer_wire_states(segments);
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? InferredConnection{} : all.front();
  }

  std::vector<SegmentEvent> segments;

 private:
  std::int64_t now() const { return ms(static_cast<int>(segments.size()) + 1); }
  std::uint64_t add_packet(Side from, const Packet& p, std::string fate, std::int64_t released_ms) {
    SegmentEvent e;
    e.t_ns = now();
    e.id = segments.size() + 1;
    e.from = from == C ? Host::Client : Host::Server;
    e.to = from == C ? Host::Server : Host::Client;
    e.classified = tracker_.classify(p);
    e.packet = p;
    e.fate = std::move(fate);
    if (released_ms) e.released_ns = e.t_ns + ms(static_cast<int>(released_ms));
    segments.push_back(e);
    return e.id;
  }

  RoleTracker tracker_;
  SockAddr client_, server_;
  std::uint32_t isn_[2] = {1000, 4294967000u};  // the server's wraps past 2^32
};

std::string names(const std::vector<St>& states) {
  std::string out;
  for (auto s : states) out += (out.empty() ? "" : " ") + to_string(s);
  return out;
}
#define EXPECT_STATES(end, ...) EXPECT_EQ(names((end).states()), names(std::vector<St>{__VA_ARGS__})) << describe(c)

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

}  // namespace
}  // namespace tcpfault
