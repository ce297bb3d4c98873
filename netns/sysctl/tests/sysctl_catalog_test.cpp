// The catalog's keys added later: each is one this kernel (6.18) has, so a kernel
// without it predates it, and its built-in value is the default of a fresh namespace
// where that default did not change with the key (tcp_syn_linear_timeouts did: 0 -> 4).
#include "netns/sysctl/sysctl_catalog.h"

#include <gtest/gtest.h>

#include "netns/namespace.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {
namespace {

TEST(SysctlCatalog, KeysAddedLaterNameVersionValueAndBehaviour) {
  for (const char* key : {"net.ipv4.tcp_syn_linear_timeouts", "net.ipv4.tcp_rto_min_us",
                          "net.ipv4.tcp_tw_reuse_delay", "net.ipv4.tcp_rto_max_ms"}) {
    const AddedKey* added = added_later(parse_sysctl_key(key));
    ASSERT_NE(added, nullptr) << key;
    EXPECT_EQ(added->key, key);
    EXPECT_FALSE(added->added_in.empty() || added->built_in.empty() || added->behaviour.empty()) << key;
  }
  EXPECT_EQ(added_later(parse_sysctl_key("net/ipv4/tcp_rto_max_ms"))->built_in, "120000");
  EXPECT_EQ(added_later(parse_sysctl_key("net.ipv4.tcp_fin_timeout")), nullptr);
}

TEST(SysctlCatalog, BuiltInValuesAreTheDefaultsWhereTheKeyKeptThem) {
  Namespace ns = Namespace::create("catalog");
  for (const char* key : {"net.ipv4.tcp_rto_min_us", "net.ipv4.tcp_tw_reuse_delay", "net.ipv4.tcp_rto_max_ms"}) {
    ASSERT_TRUE(has_sysctl(ns, key)) << key;
    EXPECT_EQ(read_sysctl(ns, key), added_later(parse_sysctl_key(key))->built_in) << key;
  }
  EXPECT_FALSE(has_sysctl(ns, "net.ipv4.tcp_no_such_key"));
  EXPECT_FALSE(has_sysctl(ns, "not a key"));
}

}  // namespace
}  // namespace tcpfault::netns
