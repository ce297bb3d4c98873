#include "netns/sysctl/sysctl_probe.h"

#include <gtest/gtest.h>

#include <string>

#include "netns/sysctl/sysctl.h"
#include "netns/tests/test_support.h"

namespace tcpfault::netns {
namespace {

using testing::read_host_file;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(SysctlProbe, ValidValueIsReadBackAsTheKernelStoresIt) {
  TCPFAULT_REQUIRE_ROOT();
  const std::string host_before = read_host_file("/proc/sys/net/ipv4/ip_local_port_range");
  const SysctlProbe p = probe_sysctl("net/ipv4/ip_local_port_range", "10000   65000");
  EXPECT_EQ(p.verdict, SysctlVerdict::valid) << p.message;
  EXPECT_EQ(p.key, "net.ipv4.ip_local_port_range");
  EXPECT_EQ(p.value, "10000\t65000");
  EXPECT_EQ(p.host_value, host_before);
  EXPECT_FALSE(p.default_value.empty());
  EXPECT_EQ(read_host_file("/proc/sys/net/ipv4/ip_local_port_range"), host_before);
}

TEST(SysctlProbe, OutOfRangeGivesTheAcceptedRange) {
  TCPFAULT_REQUIRE_ROOT();
  const SysctlProbe p = probe_sysctl("net.ipv4.tcp_tw_reuse", "3");
  EXPECT_EQ(p.verdict, SysctlVerdict::refused);
  ASSERT_EQ(p.accepted.size(), 1u);
  EXPECT_EQ(p.accepted[0].lo, 0);
  EXPECT_EQ(p.accepted[0].hi, 2);
  EXPECT_TRUE(contains(p.message, "out of range (3)")) << p.message;
  EXPECT_TRUE(contains(p.message, "this kernel accepts 0..2")) << p.message;
}

TEST(SysctlProbe, RangeOfEachFieldOfAPair) {
  TCPFAULT_REQUIRE_ROOT();
  const SysctlProbe p = probe_sysctl("net.ipv4.ip_local_port_range", "1024 70000");
  EXPECT_EQ(p.verdict, SysctlVerdict::refused);
  ASSERT_EQ(p.accepted.size(), 2u);
  EXPECT_EQ(p.accepted[1].hi, 65535);
  EXPECT_TRUE(contains(p.message, "out of range (field 2 70000)")) << p.message;
  EXPECT_TRUE(contains(p.message, "field 2 in ")) << p.message;

  const SysctlProbe crossed = probe_sysctl("net.ipv4.ip_local_port_range", "50000 40000");
  EXPECT_EQ(crossed.verdict, SysctlVerdict::refused);
  EXPECT_TRUE(contains(crossed.message, "not the combination")) << crossed.message;
}

TEST(SysctlProbe, MalformedValueSaysWhatTheKeyTakes) {
  TCPFAULT_REQUIRE_ROOT();
  const SysctlProbe p = probe_sysctl("net.ipv4.tcp_fin_timeout", "thirty");
  EXPECT_EQ(p.verdict, SysctlVerdict::refused);
  EXPECT_TRUE(contains(p.message, "malformed: it takes one integer")) << p.message;
}

TEST(SysctlProbe, RemovedUnknownAndGlobalKeys) {
  TCPFAULT_REQUIRE_ROOT();
  const SysctlProbe recycle = probe_sysctl("net.ipv4.tcp_tw_recycle", "1");
  EXPECT_EQ(recycle.verdict, SysctlVerdict::removed);
  EXPECT_TRUE(contains(recycle.message, "removed in Linux 4.12")) << recycle.message;

  const SysctlProbe unknown = probe_sysctl("net.ipv4.tcp_fin_timeout_ms", "1");
  EXPECT_EQ(unknown.verdict, SysctlVerdict::unknown);
  EXPECT_TRUE(contains(unknown.message, "unknown key net.ipv4.tcp_fin_timeout_ms")) << unknown.message;

  const std::string host_backlog = read_host_file("/proc/sys/net/core/netdev_max_backlog");
  const SysctlProbe global = probe_sysctl("net.core.netdev_max_backlog", "3000");
  EXPECT_EQ(global.verdict, SysctlVerdict::not_per_netns);
  EXPECT_EQ(global.host_value, host_backlog);
  EXPECT_TRUE(contains(global.message, "global to the machine")) << global.message;
  EXPECT_FALSE(global.value_malformed);
  EXPECT_TRUE(probe_sysctl("net.core.netdev_max_backlog", "3000 kb").value_malformed);
  EXPECT_EQ(read_host_file("/proc/sys/net/core/netdev_max_backlog"), host_backlog);

  const SysctlProbe vm = probe_sysctl("vm.swappiness", "10");
  EXPECT_EQ(vm.verdict, SysctlVerdict::not_per_netns);
  EXPECT_TRUE(contains(vm.message, "not a network key")) << vm.message;

  EXPECT_EQ(probe_sysctl("net..ipv4", "1").verdict, SysctlVerdict::malformed_key);
  EXPECT_EQ(probe_sysctl("net.ipv4.conf.eth0.rp_filter", "1").verdict, SysctlVerdict::other_interface);
}

TEST(SysctlProbe, WithoutAValueOnlyTheKeyIsExamined) {
  TCPFAULT_REQUIRE_ROOT();
  const SysctlProbe p = probe_sysctl("net.core.somaxconn");
  EXPECT_EQ(p.verdict, SysctlVerdict::valid) << p.message;  // per namespace on Linux 4.x and later
  EXPECT_TRUE(p.value.empty());
  EXPECT_FALSE(p.default_value.empty());
}

TEST(SysctlRange, IntegerFields) {
  EXPECT_EQ(integer_fields("32768\t60999"), (std::vector<std::int64_t>{32768, 60999}));
  EXPECT_EQ(integer_fields("-1"), (std::vector<std::int64_t>{-1}));
  EXPECT_FALSE(integer_fields("cubic"));
  EXPECT_FALSE(integer_fields("12x"));
  EXPECT_FALSE(integer_fields(""));
}

TEST(SysctlConfLenient, KeepsReadingPastMalformedLines) {
  const SysctlConf conf = read_sysctl_conf(
      "net.ipv4.tcp_fin_timeout = 30\n"
      "net.ipv4.tcp_tw_reuse\n"
      "-net.ipv4.tcp_tw_recycle = 1\n"
      "= 4\n");
  ASSERT_EQ(conf.settings.size(), 2u);
  EXPECT_EQ(conf.settings[1].key, "net.ipv4.tcp_tw_recycle");
  EXPECT_TRUE(conf.settings[1].ignore_errors);
  ASSERT_EQ(conf.errors.size(), 2u);
  EXPECT_EQ(conf.errors[0].line, 2);
  EXPECT_TRUE(contains(conf.errors[0].message, "line 2: expected 'key = value'")) << conf.errors[0].message;
  EXPECT_EQ(conf.errors[1].line, 4);
}

}  // namespace
}  // namespace tcpfault::netns
