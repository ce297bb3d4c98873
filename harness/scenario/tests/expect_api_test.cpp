// The expectation API's finer tools: the n-th matching segment (Match::nth), segments
// after a point (Since), and waiting for a held segment to go (expect_released).
#include <netinet/tcp.h>

#include <gtest/gtest.h>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"

namespace tcpfault {
namespace {

using enum TcpState;
using namespace std::chrono_literals;


std::string failure_text(const std::function<void()>& expectation) {
  try {
    expectation();
  } catch (const ExpectationFailed& e) {
    return e.what();
  }
  ADD_FAILURE() << "the expectation was met";
  return "";
}

TEST(MatchNth, DescribedWithItsOrdinal) {
  EXPECT_EQ(Match().role(DATA).sent_by(Host::Client).nth(3).describe(), "3rd DATA from client");
  EXPECT_EQ(Match().nth(1).describe(), "1st segment");
  EXPECT_EQ(Match().role(FIN).nth(12).describe(), "12th FIN");
  EXPECT_EQ(ordinal(22), "22nd");
  EXPECT_EQ(ordinal(113), "113th");
}

TEST(MatchNth, CountsFromTheFirstSegment) {
  const Packet p{};
  const Classified data{.roles = DATA}, ack{.roles = PURE_ACK};
  MatchCount second(Match().role(DATA).nth(2));
  EXPECT_FALSE(second(SegmentView{Host::Client, p, data}));
  EXPECT_FALSE(second(SegmentView{Host::Client, p, ack}));  // not counted: it does not match
  EXPECT_FALSE(second.done());
  EXPECT_TRUE(second(SegmentView{Host::Client, p, data}));
  EXPECT_TRUE(second.done());
  EXPECT_FALSE(second(SegmentView{Host::Client, p, data}));
  MatchCount every(Match().role(DATA));
  EXPECT_TRUE(every(SegmentView{Host::Client, p, data}));
  EXPECT_TRUE(every(SegmentView{Host::Client, p, data}));
  EXPECT_FALSE(every.done());
}

TEST(MatchNth, ARulesMatchTakesNone) {
  EXPECT_THROW(drop(Match().role(DATA).nth(2)).validate(), Error);
  Hold h{.until = Match().role(FIN).nth(2)};
  EXPECT_THROW(hold(Match().role(DATA), h).validate(), Error);
  EXPECT_NO_THROW(drop(Match().role(DATA)).occurrence(2).validate());
}

class ExpectApiTest : public ConnectionTest {
 protected:
  void open() {
    ConnectionTest::open();
    int one = 1;  // one send, one segment
    s->expect_ok(client->set_option(IPPROTO_TCP, TCP_NODELAY, one, "TCP_NODELAY"));
  }
  void send_and_receive(const std::string& data) {
    s->expect_ok(client->send(data));
    std::string got;
    s->expect_ok(server->recv_exactly(got, data.size()));
    ASSERT_EQ(got, data);
  }
};

TEST_P(ExpectApiTest, NthSegmentInExpectations) {
  open();
  for (const char* part : {"one", "two", "three"}) send_and_receive(part);
  const Match data = Match().role(DATA).sent_by(Host::Client).not_role(RETRANSMISSION);
  s->expect_segments(Match(data).nth(3), 1);
  auto third = segments(Match(data).nth(3));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0]->packet.payload_len, 5u);
  s->expect_no_segment(Match(data).nth(4));
  s->expect_ok(client->close());
  s->expect_state(*server, CLOSE_WAIT);
  s->expect_no_segment(Match().role(FIN).sent_by(Host::Client).nth(2), 100ms);  // one FIN, not two
  const std::string message = failure_text([&] { s->expect_no_segment(Match(data).nth(2)); });
  EXPECT_EQ(message.rfind("expectation failed: no 2nd DATA not RETRANSMISSION from client\n", 0), 0u) << message;
}

TEST_P(ExpectApiTest, NoSegmentSinceASegmentOrATime) {
  open();
  send_and_receive("first");
  auto first = segments(Match().role(DATA).sent_by(Host::Client));
  ASSERT_EQ(first.size(), 1u);
  const SegmentEvent mark = *first[0];
  s->expect_no_segment(Match().role(DATA).sent_by(Host::Client), 0ms, Since::after(mark));
  s->expect_no_segment(Match().role(DATA), 0ms, Since::at(mono_now_ns()));

  send_and_receive("second");
  const std::string message =
      failure_text([&] { s->expect_no_segment(Match().role(DATA).sent_by(Host::Client), 0ms, Since::after(mark)); });
  EXPECT_EQ(message.rfind("expectation failed: no DATA from client since segment #" + std::to_string(mark.id) + "\n", 0),
            0u)
      << message;
  EXPECT_NE(message.find("seen:     1 (at"), std::string::npos) << message;  // the second only
}

TEST_P(ExpectApiTest, ReleasedReturnsTheHeldSegmentOnceItWent) {
  open();
  const int rule = s->faults().add(hold(Match().role(DATA).sent_by(Host::Client), Hold{.after_segments = 1}).once());
  s->expect_ok(client->send("held"));
  s->expect_ok(client->send("next"));  // passes, and lets the held one go
  const SegmentEvent held = s->expect_released(rule, 3000ms);
  EXPECT_EQ(held.packet.payload_len, 4u);
  EXPECT_GT(held.released_ns, held.t_ns);
  EXPECT_NE(held.fate.find("let go after"), std::string::npos) << held.fate;
  std::string got;
  s->expect_ok(server->recv_exactly(got, 8));
  EXPECT_EQ(got, "heldnext");  // in sequence, though it came second
}

TEST_P(ExpectApiTest, ReleasedFailsWhileTheSegmentIsStillHeld) {
  open();
  const int rule = s->faults().add(
      hold(Match().role(DATA).sent_by(Host::Client), Hold{.until = Match().role(FIN), .max = 10'000ms}).once());
  s->expect_ok(client->send("held"));
  s->expect_segments(Match().role(DATA).sent_by(Host::Client).nth(1), 1);  // it is held now
  std::string message = failure_text([&] { s->expect_released(rule, 200ms); });
  EXPECT_EQ(message.rfind("expectation failed: the segment held by rule #" + std::to_string(rule) + " (hold until FIN seen", 0), 0u)
      << message;
  EXPECT_NE(message.find("seen:     still held since +"), std::string::npos) << message;
  // The second one never came.
  message = failure_text([&] { s->expect_released(rule, 100ms, 2); });
  EXPECT_NE(message.find("the 2nd segment held by rule"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     the rule has kept back 1 segment(s) so far"), std::string::npos) << message;
  // The FIN lets it go.
  s->expect_ok(client->close());
  EXPECT_GT(s->expect_released(rule, 3000ms).released_ns, 0);
}

TEST_P(ExpectApiTest, ReleasedIsForRulesThatHold) {
  open();
  const int rule = s->faults().add(drop(Match().role(SYN)));
  EXPECT_THROW(s->expect_released(rule, 100ms), Error);
  const int delayed = s->faults().add(delay(Match().role(DATA).sent_by(Host::Client), 50ms).once());
  s->expect_ok(client->send("late"));
  EXPECT_GE(s->expect_released(delayed, 3000ms).released_ns - s->expect_released(delayed, 0ms).t_ns, 50'000'000);
}

INSTANTIATE_TEST_SUITE_P(Families, ExpectApiTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
