// The middlebox's estimate of each end's rcv_nxt, on scripted segments.
#include "harness/intercept/rcv_nxt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "harness/testing/scripted_connection.h"

namespace tcpfault {
namespace {

constexpr std::uint32_t kClientIsn = 1000, kServerIsn = 5000;

// A connection whose segments either go on to their receiver or are lost on the way.
class Path {
 public:
  explicit Path(std::uint32_t client_isn = kClientIsn, std::uint32_t server_isn = kServerIsn)
      : conn_(Family::V4, client_isn, server_isn) {}

  // Sent and let through.
  void passes(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::size_t len = 0) {
    const Packet p = conn_.packet(from, flags, seq, ack, len, 502);
    estimate_.sent(p);
    estimate_.delivered(p);
  }
  // Sent, and dropped by the middlebox.
  void lost(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::size_t len = 0) {
    estimate_.sent(conn_.packet(from, flags, seq, ack, len, 502));
  }
  // What the server expects next from the client, relative to the client's ISN.
  std::optional<std::uint32_t> server_rcv_nxt() const {
    auto next = estimate_.next(conn_.client, conn_.server);
    if (!next) return std::nullopt;
    return *next - conn_.isn[C];
  }

  void handshake() {
    passes(C, "S", 0, 0);
    passes(S, "S.", 0, 1);
    passes(C, ".", 1, 1);
  }

 private:
  ScriptedConnection conn_;
  RcvNxtEstimate estimate_;
};

TEST(RcvNxtEstimate, NothingSeenNothingKnown) {
  Path path;
  EXPECT_EQ(path.server_rcv_nxt(), std::nullopt);
}

TEST(RcvNxtEstimate, ContiguousDataMovesItOnBeforeTheReceiverAcknowledges) {
  Path path;
  path.handshake();
  EXPECT_EQ(path.server_rcv_nxt(), 1u);
  path.passes(C, "P.", 1, 1, 100);
  path.passes(C, "P.", 101, 1, 100);
  EXPECT_EQ(path.server_rcv_nxt(), 201u);  // no ACK of the server yet
}

// What passed after a hole waits at the receiver: once the retransmission fills the hole,
// the receiver is past all of it, before its ACK says so (an RST crafted right after the
// retransmission goes behind it, to where the receiver then is).
TEST(RcvNxtEstimate, DataAfterAHoleCountsOnceTheHoleIsFilled) {
  Path path;
  path.handshake();
  path.lost(C, "P.", 1, 1, 100);
  path.passes(C, "P.", 201, 1, 100);  // out of order, and a second hole before it
  path.passes(C, "P.", 101, 1, 50);
  EXPECT_EQ(path.server_rcv_nxt(), 1u);
  path.passes(C, "P.", 1, 1, 100);  // the first hole filled: 151 has not come
  EXPECT_EQ(path.server_rcv_nxt(), 151u);
  path.passes(C, "P.", 151, 1, 50);  // the second: on to the end of what waited
  EXPECT_EQ(path.server_rcv_nxt(), 301u);
  path.lost(S, ".", 1, 301);  // the server's ACK says the same, lost or not
  EXPECT_EQ(path.server_rcv_nxt(), 301u);
}

// The receiver's ACK is the ground truth: whatever filled a hole, an ACK that reaches a
// range kept aside carries the estimate over it.
TEST(RcvNxtEstimate, AnAckThatReachesDataKeptAsideGoesOverIt) {
  Path path;
  path.handshake();
  path.lost(C, "P.", 1, 1, 100);
  path.lost(C, "P.", 101, 1, 100);
  path.passes(C, "P.", 201, 1, 100);
  path.passes(S, ".", 1, 101);
  EXPECT_EQ(path.server_rcv_nxt(), 101u);
  path.passes(S, ".", 1, 201);
  EXPECT_EQ(path.server_rcv_nxt(), 301u);
}

// After a hole was filled, the data that passes next goes on from what the receiver
// acknowledged, not from the end of the retransmission.
TEST(RcvNxtEstimate, DataAfterAFilledHoleGoesOnFromTheReceiversAck) {
  Path path;
  path.handshake();
  path.lost(C, "P.", 1, 1, 100);
  path.passes(C, "P.", 101, 1, 100);
  path.passes(C, "P.", 201, 1, 100);
  path.passes(S, ".", 1, 1);  // duplicate ACKs
  path.passes(C, "P.", 1, 1, 100);
  path.passes(S, ".", 1, 301);
  path.passes(C, "P.", 301, 1, 100);  // not acknowledged yet
  EXPECT_EQ(path.server_rcv_nxt(), 401u);
  path.passes(C, "F.", 401, 1);
  EXPECT_EQ(path.server_rcv_nxt(), 402u);
}

TEST(RcvNxtEstimate, AnOlderAckTakesNothingBack) {
  Path path;
  path.handshake();
  path.passes(C, "P.", 1, 1, 100);
  path.passes(S, ".", 1, 101);
  path.passes(S, ".", 1, 51);  // reordered on its way
  EXPECT_EQ(path.server_rcv_nxt(), 101u);
}

TEST(RcvNxtEstimate, ASynStartsTheDirectionOver) {
  Path path;
  path.handshake();
  path.passes(C, "P.", 1, 1, 100);
  path.passes(C, "S", 1000, 0);  // a new incarnation of the 4-tuple
  EXPECT_EQ(path.server_rcv_nxt(), 1001u);
}

// A SYN-ACK says which SYN its sender took: a SYN the middlebox crafted with another ISN
// (so never delivered through here) is answered by a new socket.
TEST(RcvNxtEstimate, ASynAckStartsOverTheDirectionItAcknowledges) {
  Path path;
  path.handshake();
  path.passes(C, "P.", 1, 1, 100);
  path.passes(S, "S.", 3000, 50);
  EXPECT_EQ(path.server_rcv_nxt(), 50u);
}

TEST(RcvNxtEstimate, AnRstAcknowledgesNothing) {
  Path path;
  path.handshake();
  path.passes(C, "P.", 1, 1, 100);
  path.passes(S, "R.", 1, 900);
  EXPECT_EQ(path.server_rcv_nxt(), 101u);
}

TEST(RcvNxtEstimate, SequenceNumbersWrapAround) {
  Path path(0xFFFFFF9Cu, 0xFFFFFFFFu);  // 100 below 2^32
  path.handshake();
  path.lost(C, "P.", 1, 1, 150);  // crosses 2^32
  path.passes(C, "P.", 151, 1, 50);
  EXPECT_EQ(path.server_rcv_nxt(), 1u);
  path.passes(C, "P.", 1, 1, 150);
  path.lost(S, ".", 1, 201);
  EXPECT_EQ(path.server_rcv_nxt(), 201u);
  path.passes(C, "P.", 201, 1, 10);
  EXPECT_EQ(path.server_rcv_nxt(), 211u);
}

}  // namespace
}  // namespace tcpfault
