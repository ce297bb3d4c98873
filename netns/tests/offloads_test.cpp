#include "netns/offloads.h"

#include <gtest/gtest.h>

#include "netns/error.h"
#include "netns/tests/test_support.h"
#include "netns/topology.h"

namespace tcpfault::netns {
namespace {

TEST(Offloads, SegmentationOffloadsAreOffOnEveryVethEnd) {
  TCPFAULT_REQUIRE_ROOT();
  auto t = Topology::build();
  const std::pair<Host, Host> ends[] = {{Host::Client, Host::Middlebox},
                                        {Host::Middlebox, Host::Client},
                                        {Host::Middlebox, Host::Server},
                                        {Host::Server, Host::Middlebox}};
  for (auto [h, facing] : ends) {
    const std::string ifname = interface_name(h, facing);
    const Offloads o = read_offloads(t->ns(h), ifname);
    EXPECT_FALSE(o.tso) << ifname;
    EXPECT_FALSE(o.gso) << ifname;
    EXPECT_FALSE(o.gro) << ifname;
  }
}

TEST(Offloads, MissingInterfaceIsAClearError) {
  TCPFAULT_REQUIRE_ROOT();
  const Namespace ns = Namespace::create("offloads-test");
  try {
    read_offloads(ns, "nope0");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ethtool get tso on nope0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tcpfault::netns
