// Address::parse takes exactly an IPv4 or IPv6 address, nothing around it.
#include "netns/address.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace tcpfault {
namespace {

TEST(Address, ParsesBothFamilies) {
  EXPECT_EQ(Address::parse("198.18.2.1").str(), "198.18.2.1");
  EXPECT_EQ(Address::parse("2001:2:0:2::1").family, Family::V6);
  EXPECT_THROW(Address::parse("198.18.2"), std::invalid_argument);
  EXPECT_THROW(Address::parse(""), std::invalid_argument);
}

// Text from an agent may hold a NUL (JSON's \u0000): what follows it must not be ignored.
TEST(Address, RefusesTextAfterANul) {
  EXPECT_THROW(Address::parse(std::string("198.18.2.1\0junk", 15)), std::invalid_argument);
  EXPECT_THROW(Address::parse(std::string("2001:2::1\0", 10)), std::invalid_argument);
}

}  // namespace
}  // namespace tcpfault
