// The fault matcher: which segments a Match selects and which occurrence a rule acts on.
#include "harness/intercept/rule_book.h"

#include <gtest/gtest.h>

namespace tcpfault {
namespace {

struct Seg {
  Host from;
  Packet packet;
  Classified classified;
  SegmentView view() const { return {from, packet, classified}; }
};

Seg seg(Host from, std::uint8_t flags, Roles roles, std::size_t payload = 0) {
  Seg s{from, {}, {}};
  s.packet.flags = flags;
  s.packet.payload_len = payload;
  s.packet.sport = from == Host::Client ? 40000 : 8080;
  s.packet.dport = from == Host::Client ? 8080 : 40000;
  s.classified.roles = roles;
  return s;
}

const Seg kFinalAck = seg(Host::Client, tcp_flag::ACK, PURE_ACK | FINAL_ACK);
const Seg kServerFin = seg(Host::Server, tcp_flag::FIN | tcp_flag::ACK, FIN);
const Seg kServerFinAgain = seg(Host::Server, tcp_flag::FIN | tcp_flag::ACK, FIN | RETRANSMISSION);
const Seg kData = seg(Host::Client, tcp_flag::ACK | tcp_flag::PSH, DATA, 100);

TEST(Match, EmptyMatchesEverything) {
  for (const Seg* s : {&kFinalAck, &kServerFin, &kData}) EXPECT_TRUE(Match().matches(s->view()));
}

TEST(Match, SenderRolesFlagsAndPayload) {
  EXPECT_TRUE(Match().role(FINAL_ACK).sent_by(Host::Client).matches(kFinalAck.view()));
  EXPECT_FALSE(Match().role(FINAL_ACK).sent_by(Host::Server).matches(kFinalAck.view()));
  EXPECT_FALSE(Match().role(FIN).matches(kFinalAck.view()));
  // role() requires every role; any_role_of() one of them.
  EXPECT_FALSE(Match().role(FIN | RETRANSMISSION).matches(kServerFin.view()));
  EXPECT_TRUE(Match().role(FIN | RETRANSMISSION).matches(kServerFinAgain.view()));
  EXPECT_TRUE(Match().any_role_of(FIN | RETRANSMISSION).matches(kServerFin.view()));
  EXPECT_FALSE(Match().role(FIN).not_role(RETRANSMISSION).matches(kServerFinAgain.view()));
  EXPECT_TRUE(Match().with_flags(tcp_flag::FIN).matches(kServerFin.view()));
  EXPECT_FALSE(Match().without_flags(tcp_flag::ACK).matches(kServerFin.view()));
  EXPECT_TRUE(Match().payload(100).matches(kData.view()));
  EXPECT_FALSE(Match().payload_between(1, 99).matches(kData.view()));
  EXPECT_TRUE(Match().on_port(8080).matches(kData.view()));
  EXPECT_FALSE(Match().on_port(9).matches(kData.view()));
}

// The same segment whatever its connection's ISNs: drop-k follows a segment's own
// retransmissions by it.
TEST(Match, RelativeSequenceNumberCountsFromTheSendersIsn) {
  Seg data = kData;
  data.packet.seq = 1101;
  const SegmentView known{data.from, data.packet, data.classified, RelativeTo{1000, 5000}};
  EXPECT_TRUE(Match().at_relative_seq(101).matches(known));
  EXPECT_FALSE(Match().at_relative_seq(1).matches(known));
  EXPECT_FALSE(Match().at_relative_seq(1101).matches(known));
  data.packet.seq = 1;  // past 2^32 from an ISN 100 below it
  const SegmentView wrapped{data.from, data.packet, data.classified, RelativeTo{0xFFFFFF9Cu, 0}};
  EXPECT_TRUE(Match().at_relative_seq(101).matches(wrapped));
  // A segment of no connection the middlebox knows has no relative number.
  EXPECT_FALSE(Match().at_relative_seq(101).matches(data.view()));
  EXPECT_TRUE(Match().matches(data.view()));
}

TEST(Match, DescribesItselfReadably) {
  EXPECT_EQ(Match().role(FINAL_ACK).sent_by(Host::Client).describe(), "FINAL_ACK from client");
  EXPECT_EQ(Match().describe(), "any segment");
  EXPECT_EQ(Match().with_flags(tcp_flag::RST).describe(), "flags [R]");
  EXPECT_EQ(Match().role(DATA | RETRANSMISSION).at_relative_seq(101).sent_by(Host::Client).describe(),
            "DATA|RETRANSMISSION seq 101 from client");
}

TEST(RuleBook, ActsOnTheNthOccurrenceForCountTimes) {
  RuleBook book;
  int id = book.add(drop(Match().role(FIN).sent_by(Host::Server)).occurrence(2).count(2));
  std::vector<bool> acted;
  for (int i = 0; i < 5; ++i) acted.push_back(book.decide(kServerFin.view()) != nullptr);
  EXPECT_EQ(acted, (std::vector<bool>{false, true, true, false, false}));
  EXPECT_EQ(book.counts(id).matched, 5);
  EXPECT_EQ(book.counts(id).applied, 2);
}

TEST(RuleBook, FirstDueRuleWinsAndOthersStillCount) {
  RuleBook book;
  int first = book.add(drop(Match().role(FIN)).once());
  int second = book.add(delay(Match().role(FIN), std::chrono::milliseconds(5)));
  const auto* a = book.decide(kServerFin.view());
  const auto* b = book.decide(kServerFin.view());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id, first);
  EXPECT_EQ(b->id, second);
  EXPECT_EQ(book.counts(second).matched, 2);
  EXPECT_EQ(book.counts(second).applied, 1);
  EXPECT_EQ(book.decide(kFinalAck.view()), nullptr);
}

TEST(RuleBook, RejectsRulesThatMeanNothing) {
  RuleBook book;
  auto message = [&](FaultRule r) {
    try {
      book.add(std::move(r));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message(drop(Match()).occurrence(0)).find("occurrence must be 1 or more"), std::string::npos);
  EXPECT_NE(message(drop(Match()).count(0)).find("count must be positive"), std::string::npos);
  EXPECT_NE(message(delay(Match(), std::chrono::milliseconds(-5))).find("delay must not be negative"),
            std::string::npos);
  EXPECT_NE(message(duplicate(Match(), 0)).find("at least 1 copy"), std::string::npos);
  EXPECT_NE(message(hold(Match(), Hold{})).find("a hold needs a condition"), std::string::npos);
  EXPECT_TRUE(book.empty());
  EXPECT_THROW(book.remove(7), Error);
}

TEST(FaultRule, DescribesItself) {
  EXPECT_EQ(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once().describe(),
            "drop FINAL_ACK from client (once)");
  EXPECT_EQ(delay(Match().role(SYN_ACK), std::chrono::milliseconds(300)).describe(),
            "delay 300 ms SYN_ACK");
  EXPECT_EQ(drop(Match().role(DATA)).occurrence(3).count(2).describe(),
            "drop DATA (from the 3rd occurrence, 2 times)");
}

}  // namespace
}  // namespace tcpfault
