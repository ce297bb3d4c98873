// Checked bulk transfers on a live topology, and the data path's own guarantees: a byte
// rewritten in flight is caught at its offset, queue overflows are counted, a
// transfer stops with its scenario or when nothing moves, the trace keeps payload only
// up to its cap.
#include <gtest/gtest.h>

#include <fstream>

#include "harness/scenario/scenario.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;
constexpr std::uint16_t kPort = 8080;

struct Open {
  Listener listener;
  Connection client, server;
};

Open open(Scenario& s) {
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  s.expect_ok(client.connect_result());
  auto server = listener.accept();
  return {std::move(listener), std::move(client), std::move(server)};
}

std::string test_name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

class TransferTest : public ::testing::TestWithParam<Family> {
 protected:
  ScenarioOptions options() const {
    ScenarioOptions o;
    o.family = GetParam();
    o.name = test_name();
    return o;
  }
};

TEST_P(TransferTest, AnUndisturbedTransferArrivesIntact) {
  Scenario s(options());
  auto c = open(s);
  auto r = s.transfer(c.client, c.server, {.bytes = 2'000'000, .seed = 3});
  EXPECT_TRUE(r.intact()) << r.describe();
  EXPECT_EQ(r.bytes_sent, 2'000'000u);
  EXPECT_EQ(r.bytes_received, 2'000'000u);
  EXPECT_TRUE(r.eof);
  EXPECT_GT(r.throughput_mb_s(), 0);
  s.expect_intact(r);
  s.expect_no_undecided_drops();
  // Both directions work: the server sends back without a half-close.
  auto back = s.transfer(c.server, c.client, {.bytes = 100'000, .seed = 4, .shutdown = false});
  EXPECT_TRUE(back.intact()) << back.describe();
}

TEST_P(TransferTest, AByteRewrittenInFlightIsCaughtAtItsOffset) {
  Scenario s(options());
  auto c = open(s);
  constexpr std::size_t kAt = 100;  // within the payload of the client's third data segment
  // Flipping every bit changes the byte whatever it was; the checksum is fixed, so the
  // receiver's kernel takes it.
  s.faults().add(modify(Match().role(DATA).sent_by(Host::Client),
                        Modify{.payload = PayloadPatch{kAt, {0xff}, /*xor_bytes=*/true}})
                     .occurrence(3)
                     .once());
  auto r = s.transfer(c.client, c.server, {.bytes = 200'000, .seed = 5});
  // The segment's stream offset: its sequence number relative to the ISN, less the SYN.
  const SegmentEvent* seg = nullptr;
  auto events = s.trace().events();
  for (const auto& e : events)
    if (auto* x = std::get_if<SegmentEvent>(&e); x && x->fate.rfind("rewritten", 0) == 0) seg = x;
  ASSERT_NE(seg, nullptr) << s.ladder();
  ASSERT_TRUE(seg->relative);
  std::uint64_t offset = seg->packet.seq - seg->relative->src_isn - 1 + kAt;
  ASSERT_TRUE(r.first_bad) << r.describe();
  EXPECT_EQ(r.first_bad->kind, StreamMismatch::Kind::Wrong);
  EXPECT_EQ(r.first_bad->offset, offset);
  EXPECT_EQ(r.first_bad->count, 1u);
  EXPECT_EQ(r.first_bad->seen.front(), BytePattern(5).at(offset) ^ 0xff);
  EXPECT_FALSE(r.intact());
  try {
    s.expect_intact(r);
    FAIL() << "expect_intact passed a corrupted transfer";
  } catch (const ExpectationFailed& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("1 byte wrong at offset " + std::to_string(offset)), std::string::npos) << m;
    EXPECT_NE(m.find("expected: 200000 bytes of the pattern (seed 5) in order, then EOF"), std::string::npos) << m;
  }
}

TEST_P(TransferTest, ATransferStopsWithItsScenario) {
  std::shared_ptr<Transfer> t;
  {
    Scenario s(options());
    auto c = open(s);
    // The server never gets the data: everything the client sends is held (at most 5 s).
    s.faults().add(hold(Match().role(DATA).sent_by(Host::Client), Hold{.after_segments = 1000, .max = 5000ms}));
    t = s.start_transfer(c.client, c.server, {.bytes = 50'000'000, .timeout = 60'000ms});
    EXPECT_FALSE(t->wait_for(100ms));
  }  // the scenario ends here
  ASSERT_TRUE(t->wait_for(0ms));
  const auto& r = t->wait();
  EXPECT_NE(r.stopped.find("ended"), std::string::npos) << r.describe();
  EXPECT_FALSE(r.intact());
}

TEST_P(TransferTest, ATransferEndsAtItsStallTimeoutOnceNothingMovesOrIsLost) {
  Scenario s(options());
  auto c = open(s);
  // Every data segment of the client is lost: after the first send() fills the socket
  // buffer, neither side moves a byte. The client retransmits on a timer that doubles
  // from 200 ms; each loss is the middlebox's, and the wait after it the client's timer:
  // while the losses come less than the 1 s stall timeout apart the transfer is slow, not
  // stuck; the first longer wait ends it.
  s.faults().add(drop(Match().role(DATA).sent_by(Host::Client)));
  auto r = s.transfer(c.client, c.server, {.bytes = 50'000'000, .timeout = 120'000ms, .stall = 1'000ms});
  EXPECT_TRUE(r.stalled) << r.describe();
  EXPECT_FALSE(r.deadline_passed) << r.describe();
  EXPECT_FALSE(r.intact());
  EXPECT_EQ(r.bytes_received, 0u);
  EXPECT_LT(r.seconds(), 60) << r.describe();  // ended long before its deadline
  EXPECT_GT(r.seconds(), 1.5) << r.describe();  // not at 1 s: the client's losses kept coming
  std::int64_t first_ns = 0, last_ns = 0, retransmitted = 0;
  s.trace().visit_segments(0, [&](const SegmentEvent& e) {
    if (e.from != Host::Client || e.packet.payload_len == 0) return;
    first_ns = first_ns ? first_ns : e.arrived_ns();
    last_ns = e.arrived_ns();
    retransmitted += (e.classified.roles & RETRANSMISSION) != 0;
  });
  EXPECT_GE(retransmitted, 3) << r.describe();
  // It ended once the stall timeout had passed since the last loss.
  EXPECT_GE(first_ns + r.duration_ns - last_ns, 1'000'000'000) << r.describe();
  const std::string stall = "nothing moved, and the middlebox lost none of its segments, for 1.0 s";
  EXPECT_NE(r.describe().find("stalled: " + stall), std::string::npos) << r.describe();
  try {
    s.expect_intact(r);
    FAIL() << "expect_intact passed a stalled transfer";
  } catch (const ExpectationFailed& e) {
    EXPECT_NE(std::string(e.what()).find(stall + " (the stall timeout)"), std::string::npos) << e.what();
  }
}

TEST_P(TransferTest, PlainForwardingCarriesDataWithoutTheQueue) {
  auto o = options();
  o.intercept = false;
  Scenario s(o);
  auto c = open(s);
  auto r = s.transfer(c.client, c.server, {.bytes = 1'000'000});
  EXPECT_TRUE(r.intact()) << r.describe();
  EXPECT_EQ(s.trace().segment_count(), 0u);
  EXPECT_FALSE(s.faults().stats().intercepting);
  EXPECT_THROW(s.faults().add(drop(Match())), Error);
}

TEST_P(TransferTest, ATinyQueueOverflowsAndTheDropsAreCountedAndReported) {
  auto o = options();
  o.queue_max_len = 4;
  Scenario s(o);
  auto c = open(s);
  // The first flight is held at the middlebox: 4 packets fill the queue, the kernel
  // drops what comes next without asking the harness.
  s.faults().add(delay(Match().role(DATA).sent_by(Host::Client), 300ms).count(10));
  auto r = s.transfer(c.client, c.server, {.bytes = 300'000, .timeout = 20'000ms});
  EXPECT_TRUE(r.intact()) << r.describe();  // TCP recovers: the loss is the point
  auto st = s.faults().stats();
  EXPECT_GT(st.queue_dropped, 0u);
  EXPECT_EQ(st.undecided_drops(), st.queue_dropped + st.user_dropped);
  bool noted = false;
  for (const auto& e : s.trace().other_events())
    if (auto* n = std::get_if<NoteEvent>(&e); n && n->text.find("queue was full") != std::string::npos) noted = true;
  EXPECT_TRUE(noted) << s.ladder();
  EXPECT_THROW(s.faults().check_no_undecided_drops(), Error);
  try {
    s.expect_no_undecided_drops();
    FAIL() << "the overflow went unreported";
  } catch (const ExpectationFailed& e) {
    EXPECT_NE(std::string(e.what()).find("dropped with the queue full (queue_max_len 4)"), std::string::npos)
        << e.what();
  }
}

TEST_P(TransferTest, HeldSegmentsGetAVerdictAtTheEndAndAreCounted) {
  std::shared_ptr<Trace> trace;
  {
    Scenario s(options());
    trace = s.shared_trace();
    auto c = open(s);
    s.faults().add(delay(Match().role(DATA).sent_by(Host::Client), 60'000ms).once());
    s.expect_ok(c.client.send("held"));
    s.expect_segments(Match().role(DATA).sent_by(Host::Client), 1);
    EXPECT_EQ(s.faults().stats().held_now, 1u);
  }
  bool noted = false;
  for (const auto& e : trace->other_events())
    if (auto* n = std::get_if<NoteEvent>(&e); n && n->text == "1 held segment(s) let through at the end of the scenario")
      noted = true;
  EXPECT_TRUE(noted) << render_ladder(*trace);
  std::string fate;
  trace->visit_segments(0, [&](const SegmentEvent& e) {
    if (e.packet.payload_len) fate = e.fate;
  });
  EXPECT_NE(fate.find("let through at the end of the scenario"), std::string::npos) << fate;
}

TEST_P(TransferTest, TheTraceKeepsPayloadUpToItsCap) {
  auto o = options();
  o.trace_payload_cap = 20'000;
  Scenario s(o);
  auto c = open(s);
  auto r = s.transfer(c.client, c.server, {.bytes = 200'000});
  EXPECT_TRUE(r.intact()) << r.describe();
  EXPECT_LE(s.trace().payload_kept(), 20'000u);
  std::size_t kept = 0, cut = 0;
  s.trace().visit_segments(0, [&](const SegmentEvent& e) {
    if (e.packet.payload_len == 0) return;
    (e.payload_kept() ? kept : cut)++;
    if (!e.payload_kept()) {
      EXPECT_EQ(e.packet.bytes.size(), e.packet.ip_header_len + e.packet.tcp_header_len);
    }
  });
  EXPECT_GT(kept, 0u);
  EXPECT_GT(cut, 0u);
  EXPECT_NE(render_json(s.trace()).find("\"payload_kept\": false"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Families, TransferTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return info.param == Family::V4 ? "IPv4" : "IPv6"; });

}  // namespace
}  // namespace tcpfault
