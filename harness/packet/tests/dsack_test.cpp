// D-SACK recognition (RFC 2883 4.1): the first SACK block below the cumulative ACK, or
// inside the second block.
#include "harness/packet/dsack.h"

#include <gtest/gtest.h>

namespace tcpfault {
namespace {

Packet ack_with(std::uint32_t ack, std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks) {
  SegmentSpec spec;
  spec.src = {Address::parse("198.18.2.1"), 8080};
  spec.dst = {Address::parse("198.18.1.1"), 40000};
  spec.seq = 1;
  spec.ack = ack;
  spec.flags = tcp_flag::ACK;
  spec.window = 500;
  spec.options.sack_blocks = std::move(blocks);
  return build_packet(spec);
}

TEST(Dsack, BelowTheCumulativeAck) {
  EXPECT_TRUE(reports_dsack(ack_with(5000, {{3000, 4000}})));
  EXPECT_TRUE(reports_dsack(ack_with(5000, {{3000, 4000}, {6000, 7000}})));
}

TEST(Dsack, InsideTheSecondBlock) {
  EXPECT_TRUE(reports_dsack(ack_with(1000, {{6000, 7000}, {5000, 8000}})));
  EXPECT_TRUE(reports_dsack(ack_with(1000, {{5000, 8000}, {5000, 8000}})));
}

TEST(Dsack, OrdinarySackIsNot) {
  EXPECT_FALSE(reports_dsack(ack_with(1000, {})));
  EXPECT_FALSE(reports_dsack(ack_with(1000, {{2000, 3000}})));
  EXPECT_FALSE(reports_dsack(ack_with(1000, {{6000, 7000}, {2000, 3000}})));
  EXPECT_FALSE(reports_dsack(ack_with(1000, {{4000, 8000}, {5000, 7000}})));  // wider than the second
}

TEST(Dsack, SequenceWrap) {
  // The ACK wrapped past 2^32; the block just below it is still below.
  EXPECT_TRUE(reports_dsack(ack_with(100, {{0xFFFFFF00u, 0xFFFFFFF0u}})));
  EXPECT_FALSE(reports_dsack(ack_with(0xFFFFFF00u, {{50, 150}})));
}

}  // namespace
}  // namespace tcpfault
