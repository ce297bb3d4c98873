#include "netns/slot_plan.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

namespace tcpfault::netns {
namespace {

std::string addr(int slot, Subnet side, Family f, std::uint16_t host) {
  return slot_address(slot, side, f, host).str();
}

TEST(SlotPlan, SlotZeroIsThePictureInTheDesign) {
  EXPECT_EQ(addr(0, Subnet::ClientSide, Family::V4, kEndpointHost), "198.18.1.1");
  EXPECT_EQ(addr(0, Subnet::ClientSide, Family::V4, kMiddleboxHost), "198.18.1.254");
  EXPECT_EQ(addr(0, Subnet::ServerSide, Family::V4, kMiddleboxHost), "198.18.2.254");
  EXPECT_EQ(addr(0, Subnet::ServerSide, Family::V4, kEndpointHost), "198.18.2.1");
  EXPECT_EQ(addr(0, Subnet::ClientSide, Family::V6, kEndpointHost), "2001:2:0:1::1");
  EXPECT_EQ(addr(0, Subnet::ClientSide, Family::V6, kMiddleboxHost), "2001:2:0:1::fe");
  EXPECT_EQ(addr(0, Subnet::ServerSide, Family::V6, kMiddleboxHost), "2001:2:0:2::fe");
  EXPECT_EQ(addr(0, Subnet::ServerSide, Family::V6, kEndpointHost), "2001:2:0:2::1");
  EXPECT_EQ(prefix_length(Family::V4), 24);
  EXPECT_EQ(prefix_length(Family::V6), 64);
}

TEST(SlotPlan, ThirdOctetWrapsIntoTheSecondHalfOfTheRange) {
  EXPECT_EQ(addr(1, Subnet::ClientSide, Family::V4, 1), "198.18.3.1");
  EXPECT_EQ(addr(127, Subnet::ClientSide, Family::V4, 1), "198.18.255.1");
  EXPECT_EQ(addr(127, Subnet::ServerSide, Family::V4, 1), "198.19.0.1");
  EXPECT_EQ(addr(254, Subnet::ServerSide, Family::V4, 1), "198.19.254.1");
  EXPECT_EQ(addr(127, Subnet::ServerSide, Family::V6, 1), "2001:2:0:100::1");
  EXPECT_EQ(addr(254, Subnet::ServerSide, Family::V6, 0xfe), "2001:2:0:1fe::fe");
}

TEST(SlotPlan, EveryAddressIsUniqueAndInsideTheBenchmarkingRanges) {
  const Address v4_base = Address::parse("198.18.0.0");
  const Address v6_base = Address::parse("2001:2::");
  std::set<Address> seen;
  for (int slot = 0; slot < kSlotCount; ++slot)
    for (Subnet side : {Subnet::ClientSide, Subnet::ServerSide})
      for (std::uint16_t host : {kEndpointHost, kMiddleboxHost}) {
        const Address a4 = slot_address(slot, side, Family::V4, host);
        EXPECT_EQ(a4.bytes[0], v4_base.bytes[0]);
        EXPECT_EQ(a4.bytes[1] & 0xfe, v4_base.bytes[1]) << a4.str() << " is outside 198.18.0.0/15";
        const Address a6 = slot_address(slot, side, Family::V6, host);
        for (int i = 0; i < 6; ++i)
          EXPECT_EQ(a6.bytes[i], v6_base.bytes[i]) << a6.str() << " is outside 2001:2::/48";
        EXPECT_TRUE(seen.insert(a4).second) << a4.str();
        EXPECT_TRUE(seen.insert(a6).second) << a6.str();
      }
}

TEST(SlotPlan, RejectsSlotsAndHostsOutsideThePlan) {
  EXPECT_THROW(slot_address(-1, Subnet::ClientSide, Family::V4, 1), std::out_of_range);
  EXPECT_THROW(slot_address(kSlotCount, Subnet::ClientSide, Family::V4, 1), std::out_of_range);
  EXPECT_THROW(slot_address(0, Subnet::ClientSide, Family::V4, 0), std::out_of_range);
  EXPECT_THROW(slot_address(0, Subnet::ClientSide, Family::V4, 255), std::out_of_range);
  EXPECT_THROW(slot_address(0, Subnet::ClientSide, Family::V6, 0), std::out_of_range);
}

}  // namespace
}  // namespace tcpfault::netns
