// Each fault action on a live topology: what the endpoints see and what the trace says.
#include <netinet/tcp.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"

namespace tcpfault {
namespace {

using enum TcpState;
using namespace std::chrono_literals;


class FaultEngineTest : public ConnectionTest {
 protected:
  void SetUp() override {
    ConnectionTest::SetUp();
    listener.emplace(s->server().listen(s->server_at(kPort)));
  }
};

TEST_P(FaultEngineTest, DropLosesTheSegmentAndTheSenderRetransmits) {
  open();
  s->faults().add(drop(Match().role(DATA).sent_by(Host::Client)).once());
  s->expect_ok(client->send("hello"));
  std::string got;
  s->expect_ok(server->recv_exactly(got, 5));
  EXPECT_EQ(got, "hello");
  s->expect_segments(Match().role(DATA | RETRANSMISSION).sent_by(Host::Client), 1);
  auto dropped = segments(Match().role(DATA).sent_by(Host::Client));
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0]->fate, "dropped by rule #1");
  EXPECT_EQ(dropped[1]->fate, "passed");
}

TEST_P(FaultEngineTest, DelayHoldsTheSegmentForItsTime) {
  s->faults().add(delay(Match().role(SYN_ACK), 200ms));
  open();
  auto synack = segments(Match().role(SYN_ACK));
  ASSERT_EQ(synack.size(), 1u);
  EXPECT_GE(synack[0]->released_ns - synack[0]->t_ns, 200'000'000);
  EXPECT_NE(synack[0]->fate.find("let go after"), std::string::npos) << synack[0]->fate;
  // The handshake ACK can only follow the released SYN-ACK.
  auto ack = segments(Match().role(HANDSHAKE_ACK));
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_GE(ack[0]->t_ns, synack[0]->released_ns);
}

TEST_P(FaultEngineTest, HoldReordersUntilLaterSegmentsPassed) {
  // Autocorking would merge the small writes into fewer segments.
  s->set_sysctl(Host::Client, "net.ipv4.tcp_autocorking", "0");
  open();
  int one = 1;
  s->expect_ok(client->set_option(IPPROTO_TCP, TCP_NODELAY, one, "TCP_NODELAY"));
  s->faults().add(hold(Match().role(DATA).sent_by(Host::Client), Hold{.after_segments = 2}).once());
  for (const char* part : {"aaaa", "bbbb", "cccc"}) s->expect_ok(client->send(part));
  std::string got;
  s->expect_ok(server->recv_exactly(got, 12));
  EXPECT_EQ(got, "aaaabbbbcccc");
  // The held segment goes on right after the second later segment from the client
  // passed (that may be a quick retransmission of the held bytes: the kernel's RACK
  // sees the reordering too).
  auto from_client = segments(Match().sent_by(Host::Client));
  auto held = std::find_if(from_client.begin(), from_client.end(),
                           [](const SegmentEvent* e) { return e->fate.find("held") == 0; });
  ASSERT_NE(held, from_client.end());
  ASSERT_GE(from_client.end() - held, 3);
  EXPECT_NE((*held)->fate.find("condition met"), std::string::npos) << (*held)->fate;
  EXPECT_GE((*held)->released_ns, held[2]->t_ns);
  if (held + 3 < from_client.end()) {
    EXPECT_LT((*held)->released_ns, held[3]->t_ns);
  }
}

TEST_P(FaultEngineTest, DuplicateSendsACopyThatIsDeliveredOnce) {
  open();
  s->faults().add(duplicate(Match().role(DATA).sent_by(Host::Client)).once());
  s->expect_ok(client->send("once"));
  std::string got;
  s->expect_ok(server->recv_exactly(got, 4));
  EXPECT_EQ(got, "once");
  // The copy follows the original: wait for it rather than race it.
  s->expect_segments(Match().sent_by(Host::Middlebox), 1);
  auto copies = segments(Match().sent_by(Host::Middlebox));
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0]->packet.payload_len, 4u);
  EXPECT_EQ(copies[0]->to, Host::Server);
  // Its original's roles and COPY: the middlebox sent it again, not the client's stack.
  EXPECT_EQ(roles_string(copies[0]->classified.roles), "DATA|COPY");
  // Nothing more arrives: the copy was recognised as a duplicate.
  s->expect_ok(client->close());
  got.clear();
  s->expect_ok(server->recv(got));
  EXPECT_EQ(got, "");
}

TEST_P(FaultEngineTest, ACopiedFinalAckIsStillTheFinalAck) {
  open();
  s->faults().add(duplicate(Match().role(FINAL_ACK).sent_by(Host::Client)).once());
  s->faults().add(duplicate(Match().role(FIN).sent_by(Host::Server)).once());
  s->expect_ok(client->close());
  s->expect_state(*server, CLOSE_WAIT);
  s->expect_ok(s->close_after_acking_fin(*server));
  s->expect_transitions(*server, {LAST_ACK, CLOSED});
  // The client got the server's FIN twice and answered each; the middlebox copied the
  // first answer. One final ACK, its copy, and the stack's own second one.
  s->expect_segments(Match().role(FINAL_ACK), 3);
  auto acks = segments(Match().role(FINAL_ACK));
  ASSERT_EQ(acks.size(), 3u);
  std::vector<std::string> seen;
  for (auto* a : acks) seen.push_back(netns::to_string(a->from) + " " + roles_string(a->classified.roles));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"client PURE_ACK|FINAL_ACK", "client PURE_ACK|FINAL_ACK|RETRANSMISSION",
                                            "middlebox PURE_ACK|FINAL_ACK|COPY"}));
  auto fin_copy = segments(Match().role(FIN | COPY).sent_by(Host::Middlebox));
  ASSERT_EQ(fin_copy.size(), 1u);
  EXPECT_EQ(fin_copy[0]->classified.fin_number, 2);
}

TEST_P(FaultEngineTest, ModifyRewritesTheSegmentOnTheWire) {
  // Without options in the SYN the server must not use timestamps in its SYN-ACK.
  s->faults().add(modify(Match().role(SYN), Modify{.strip_options = true}));
  open();
  auto syn = segments(Match().role(SYN));
  ASSERT_EQ(syn.size(), 1u);
  EXPECT_TRUE(syn[0]->packet.options.timestamp.has_value());  // the trace keeps the original
  EXPECT_NE(syn[0]->fate.find("rewritten by rule #1"), std::string::npos);
  auto synack = segments(Match().role(SYN_ACK));
  ASSERT_EQ(synack.size(), 1u);
  EXPECT_FALSE(synack[0]->packet.options.timestamp.has_value());
  EXPECT_FALSE(synack[0]->packet.options.wscale.has_value());
}

TEST_P(FaultEngineTest, CraftedRstAtRcvNxtResetsTheConnection) {
  open();
  s->expect_ok(client->send("ping"));
  std::string got;
  s->expect_ok(server->recv_exactly(got, 4));
  s->faults().inject(client->tuple().local, client->tuple().remote,
                     Craft{.toward = Host::Server, .flags = tcp_flag::RST});
  got.clear();
  s->expect_error(server->recv(got, 100, 2000ms), ECONNRESET);
  s->expect_transitions(*server, {ESTABLISHED, CLOSED});
  auto crafted = segments(Match().sent_by(Host::Middlebox).with_flags(tcp_flag::RST));
  ASSERT_EQ(crafted.size(), 1u);
  auto conn = s->faults().connection(client->tuple().local, client->tuple().remote);
  ASSERT_TRUE(conn.has_value());
  // rcv_nxt is what went through to the server: all the client sent (the server read it).
  // Not the server's last ACK: its delayed ACK of "ping" may not have left before the RST.
  EXPECT_EQ(crafted[0]->packet.seq, conn->from_opener.snd_nxt);
}

TEST_P(FaultEngineTest, CraftedRstFarOutOfWindowIsIgnored) {
  open();
  s->faults().inject(client->tuple().local, client->tuple().remote,
                     Craft{.toward = Host::Server, .flags = tcp_flag::RST, .seq_offset = 1 << 30});
  s->expect_ok(client->send("still here"));
  std::string got;
  s->expect_ok(server->recv_exactly(got, 10));
  EXPECT_EQ(got, "still here");
  s->expect_state(*server, ESTABLISHED);
}

TEST_P(FaultEngineTest, InjectOnTriggerReplacesTheSegment) {
  open();
  s->faults().add(inject_on(Match().role(DATA).sent_by(Host::Client),
                            Inject{.segment = Craft{.toward = Host::Server, .flags = tcp_flag::RST},
                                   .drop_trigger = true})
                      .once());
  s->expect_ok(client->send("doomed"));
  std::string got;
  s->expect_error(server->recv(got, 100, 2000ms), ECONNRESET);
  EXPECT_EQ(s->faults().stats().overruns, 0u);
  EXPECT_EQ(s->faults().stats().unparsed, 0u);
}

TEST_P(FaultEngineTest, BusyQueueNumberIsOneClearError) {
  try {
    NfQueue second(s->topology().middlebox(), 0);
    FAIL() << "a second bind of queue 0 succeeded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("NFQUEUE queue 0 is busy"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, FaultEngineTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
