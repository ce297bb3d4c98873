// rewrite_isn: a connection's ISN chosen by the middlebox, and every later segment of
// it translated both ways so that both ends stay in step.
#include "harness/intercept/seq_shift.h"

#include <netinet/tcp.h>

#include <gtest/gtest.h>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;

Packet with_sack(std::uint32_t ack, std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks) {
  SegmentSpec s;
  s.src = {Address::parse("198.18.2.1"), 8080};
  s.dst = {Address::parse("198.18.1.1"), 40000};
  s.seq = 7;
  s.ack = ack;
  s.flags = tcp_flag::ACK;
  s.window = 500;
  s.options.timestamp = std::make_pair(11u, 22u);
  s.options.sack_blocks = std::move(blocks);
  return build_packet(s);
}

TEST(SeqShift, AcknowledgmentsAndSackBlocksGoBackIntoTheEndsNumbers) {
  Packet p = with_sack(5000, {{6000, 7000}, {8000, 9000}});
  unshift_acks(p, 1000);
  EXPECT_EQ(p.ack, 4000u);
  EXPECT_EQ(p.seq, 7u);  // the sender's own numbers are not touched
  std::vector<std::pair<std::uint32_t, std::uint32_t>> want{{5000, 6000}, {7000, 8000}};
  EXPECT_EQ(p.options.sack_blocks, want);
  EXPECT_TRUE(p.checksum_ok());
  // The bytes say the same as the fields.
  Packet again = Packet::parse(p.bytes);
  EXPECT_EQ(again.ack, 4000u);
  EXPECT_EQ(again.options.sack_blocks, want);
  EXPECT_EQ(again.options.timestamp, std::make_pair(11u, 22u));
}

TEST(SeqShift, WrapsAroundTheSequenceSpace) {
  Packet p = with_sack(10, {{20, 30}});
  unshift_acks(p, 100);
  EXPECT_EQ(p.ack, 10u - 100u);
  EXPECT_EQ(p.options.sack_blocks[0].first, 20u - 100u);
  shift_seq(p, 0xffffffffu);
  EXPECT_EQ(p.seq, 6u);
  EXPECT_TRUE(p.checksum_ok());
}

TEST(SeqShift, RuleMustSelectSyns) {
  RuleBook book;
  EXPECT_THROW(book.add(rewrite_isn(Match().role(DATA), {1, 2})), Error);
  EXPECT_NO_THROW(book.add(rewrite_isn(Match().role(SYN), {1, 2})));
  EXPECT_NO_THROW(book.add(rewrite_isn(Match().any_role_of(SYN | SYN_ACK), {1, 2})));
  EXPECT_NO_THROW(book.add(rewrite_isn(Match().with_flags(tcp_flag::SYN), {1, 2})));
  try {
    book.add(rewrite_isn(Match().any_role_of(SYN | FIN), {1, 2}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewrite_isn acts on the SYN or SYN-ACK"), std::string::npos) << e.what();
  }
}

class RewriteIsnTest : public ScenarioTest {};

TEST_P(RewriteIsnTest, EachConnectionGetsTheNextIsnAndDataFlowsBothWays) {
  constexpr std::uint32_t kFirst = 0xfffff000;  // the second one wraps past 2^32
  constexpr std::uint32_t kStep = 64000;
  s->faults().add(rewrite_isn(Match().role(SYN).sent_by(Host::Client), {kFirst, kStep}));
  auto listener = s->server().listen(s->server_at(8080));
  for (int k = 0; k < 2; ++k) {
    auto client = s->client().connect(s->server_at(8080));
    s->expect_ok(client.connect_result());
    auto server = listener.accept();
    // The server acknowledges the ISN the middlebox chose.
    auto synacks = segments(Match().role(SYN_ACK).sent_by(Host::Server));
    ASSERT_EQ(synacks.size(), static_cast<std::size_t>(k + 1));
    EXPECT_EQ(synacks.back()->packet.ack - 1, kFirst + k * kStep);
    auto syns = segments(Match().role(SYN).sent_by(Host::Client));
    EXPECT_NE(syns.back()->packet.seq, kFirst + k * kStep);  // the trace keeps what the client sent
    EXPECT_EQ(syns.back()->fate.rfind("ISN rewritten by rule #1 to " + std::to_string(kFirst + k * kStep), 0), 0u)
        << syns.back()->fate;

    std::string got;
    s->expect_ok(client.send("from the client"));
    s->expect_ok(server.recv_exactly(got, 15));
    EXPECT_EQ(got, "from the client");
    got.clear();
    s->expect_ok(server.send("from the server"));
    s->expect_ok(client.recv_exactly(got, 15));
    EXPECT_EQ(got, "from the server");
    s->expect_ok(client.close());
    s->expect_state(server, TcpState::CLOSE_WAIT);
    s->expect_ok(s->close_after_acking_fin(server));
    s->expect_state(client, TcpState::TIME_WAIT);
  }
  s->expect_no_segment(Match().with_flags(tcp_flag::RST));
  // Roles stay right although the server's acknowledgments are in shifted numbers.
  s->expect_segments(Match().role(HANDSHAKE_ACK).sent_by(Host::Client), 2);
  s->expect_segments(Match().role(FINAL_ACK), 2);
}

TEST_P(RewriteIsnTest, SackBlocksAndRetransmissionsStayInStep) {
  s->set_sysctl(Host::Client, "net.ipv4.tcp_autocorking", "0");
  s->faults().add(rewrite_isn(Match().role(SYN).sent_by(Host::Client), {123456789, 0}));
  auto listener = s->server().listen(s->server_at(8080));
  auto client = s->client().connect(s->server_at(8080));
  s->expect_ok(client.connect_result());
  auto server = listener.accept();
  int one = 1;
  s->expect_ok(client.set_option(IPPROTO_TCP, TCP_NODELAY, one, "TCP_NODELAY"));
  // Lose the first of five segments: the server's SACK blocks name the other four, in
  // the shifted numbers, and the client must understand them.
  s->faults().add(drop(Match().role(DATA).sent_by(Host::Client)).once());
  for (const char* part : {"aaaa", "bbbb", "cccc", "dddd", "eeee"}) s->expect_ok(client.send(part));
  std::string got;
  s->expect_ok(server.recv_exactly(got, 20));
  EXPECT_EQ(got, "aaaabbbbccccddddeeee");
  bool sacked = false;
  for (const auto* seg : segments(Match().sent_by(Host::Server)))
    sacked = sacked || !seg->packet.options.sack_blocks.empty();
  EXPECT_TRUE(sacked);
  // SACK recovery: the lost segment once more, nothing else resent.
  s->expect_segments(Match().role(DATA | RETRANSMISSION).sent_by(Host::Client), 1);
  s->expect_no_segment(Match().with_flags(tcp_flag::RST));
}

TEST_P(RewriteIsnTest, CraftedSegmentsFollowTheShift) {
  s->faults().add(rewrite_isn(Match().role(SYN).sent_by(Host::Client), {1000, 0}));
  auto listener = s->server().listen(s->server_at(8080));
  auto client = s->client().connect(s->server_at(8080));
  s->expect_ok(client.connect_result());
  auto server = listener.accept();
  // An RST at the server's rcv_nxt, as the client would send it: in the shifted numbers.
  s->faults().inject(client.tuple().local, client.tuple().remote, Craft{.toward = Host::Server});
  s->expect_state(server, TcpState::CLOSED);
  auto rst = segments(Match().role(RST_ROLE).sent_by(Host::Middlebox));
  ASSERT_EQ(rst.size(), 1u);
  EXPECT_EQ(rst[0]->packet.seq, 1001u);
}

INSTANTIATE_TEST_SUITE_P(Families, RewriteIsnTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
