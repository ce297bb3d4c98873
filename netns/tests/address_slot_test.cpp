#include "netns/address_slot.h"

#include <gtest/gtest.h>

#include <optional>

namespace tcpfault::netns {
namespace {

// A high slot: live topologies take the lowest free ones, so nothing else wants it.
constexpr int kQuietSlot = 250;

TEST(AddressSlot, AClaimedSlotCannotBeClaimedTwiceAndIsFreedByClosing) {
  std::optional<AddressSlot> first = AddressSlot::try_acquire(kQuietSlot);
  if (!first) GTEST_SKIP() << "slot " << kQuietSlot << " is in use by another process";
  EXPECT_EQ(first->number(), kQuietSlot);
  EXPECT_FALSE(AddressSlot::try_acquire(kQuietSlot).has_value());

  first->release_lock().reset();  // what the kernel does when the process dies
  std::optional<AddressSlot> again = AddressSlot::try_acquire(kQuietSlot);
  EXPECT_TRUE(again.has_value());
}

TEST(AddressSlot, AcquireHandsOutDistinctSlots) {
  AddressSlot a = AddressSlot::acquire();
  AddressSlot b = AddressSlot::acquire();
  EXPECT_NE(a.number(), b.number());
}

TEST(AddressSlot, SocketNameIsTheDocumentedOne) {
  EXPECT_EQ(AddressSlot::socket_name(7), "tcpfault/slot/7");
}

}  // namespace
}  // namespace tcpfault::netns
