#include "netns/sysctl/sysctl.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <string>

#include "netns/error.h"
#include "netns/sysctl/sysctl_key.h"
#include "netns/namespace.h"
#include "netns/tests/test_support.h"

namespace tcpfault::netns {
namespace {

using testing::read_host_file;

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class SysctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TCPFAULT_REQUIRE_ROOT();
    ns_ = std::make_unique<Namespace>(Namespace::create("sysctl-test"));
  }
  const Namespace& ns() const { return *ns_; }
  std::unique_ptr<Namespace> ns_;
};

TEST_F(SysctlTest, WriteIsSeenInsideAndNotOnTheHost) {
  const std::string host_before = read_host_file("/proc/sys/net/ipv4/tcp_fin_timeout");
  const std::string wanted = host_before == "17" ? "18" : "17";
  write_sysctl(ns(), "net.ipv4.tcp_fin_timeout", wanted);
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_fin_timeout"), wanted);
  EXPECT_EQ(read_sysctl(ns(), "net/ipv4/tcp_fin_timeout"), wanted);
  EXPECT_EQ(read_host_file("/proc/sys/net/ipv4/tcp_fin_timeout"), host_before);

  const Namespace other = Namespace::create("sysctl-other");
  EXPECT_NE(read_sysctl(other, "net.ipv4.tcp_fin_timeout"), wanted);
}

TEST_F(SysctlTest, SlashSpellingWritesTheSameKey) {
  write_sysctl(ns(), "net/ipv4/tcp_syn_retries", "2");
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_syn_retries"), "2");
}

TEST_F(SysctlTest, ReadKeepsTabsAndDropsTheNewline) {
  write_sysctl(ns(), "net.ipv4.tcp_rmem", "4096 87380 1048576");
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_rmem"), "4096\t87380\t1048576");
}

TEST_F(SysctlTest, UnknownKeySaysSo) {
  EXPECT_EQ(error_of([&] { read_sysctl(ns(), "net.ipv4.tcp_no_such_knob"); }),
            "unknown sysctl net.ipv4.tcp_no_such_knob: no such key in this kernel");
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_no_such_knob", "1"); }),
            "unknown sysctl net.ipv4.tcp_no_such_knob: no such key in this kernel");
}

TEST_F(SysctlTest, RemovedKeyNamesTheVersionThatRemovedIt) {
  utsname u{};
  ::uname(&u);
  const std::string expected = "sysctl net.ipv4.tcp_tw_recycle: removed in Linux 4.12 (this kernel is " +
                               std::string(u.release) + "); drop the setting";
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_tw_recycle", "1"); }), expected);
  EXPECT_EQ(error_of([&] { read_sysctl(ns(), "net.ipv4.tcp_tw_recycle"); }), expected);
}

TEST_F(SysctlTest, GlobalKeysAreRefusedAndTheHostKeepsItsValue) {
  for (const char* key : {"net.core.rmem_max", "net.core.wmem_max", "net.core.netdev_max_backlog",
                          "net.ipv4.tcp_mem"}) {
    SysctlKey k = parse_sysctl_key(key);
    const std::string host_before = read_host_file(k.path());
    const std::string msg = error_of([&] { write_sysctl(ns(), key, "12345"); });
    EXPECT_EQ(msg.rfind("sysctl " + std::string(key) +
                            " is global to the host: writing it in namespace sysctl-test would "
                            "change it for the whole machine, so it is refused",
                        0),
              0u)
        << msg;
    EXPECT_EQ(read_host_file(k.path()), host_before) << key;
  }
  EXPECT_NE(error_of([&] { write_sysctl(ns(), "net.core.rmem_max", "1"); })
                .find("per-namespace TCP receive buffers are net.ipv4.tcp_rmem"),
            std::string::npos);
}

TEST_F(SysctlTest, ReadingAGlobalKeyGivesTheValueInEffectEverywhere) {
  EXPECT_EQ(read_sysctl(ns(), "net.core.netdev_max_backlog"),
            read_host_file("/proc/sys/net/core/netdev_max_backlog"));
}

TEST_F(SysctlTest, KeysOutsideNetAreRefused) {
  const std::string host_before = read_host_file("/proc/sys/kernel/hostname");
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "kernel.hostname", "oops"); }),
            "sysctl kernel.hostname is not under net.: only network keys have a value per "
            "namespace, so tcpfault does not write others (it would be the host's own setting)");
  EXPECT_EQ(read_host_file("/proc/sys/kernel/hostname"), host_before);
}

TEST_F(SysctlTest, SeveralAreWrittenInOrderInOneCall) {
  write_sysctls(ns(), {{"net.ipv4.tcp_syn_retries", "3"}, {"net.ipv4.tcp_fin_timeout", "21"},
                       {"net.ipv4.tcp_syn_retries", "4"}});
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_syn_retries"), "4");
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_fin_timeout"), "21");
}

TEST_F(SysctlTest, SeveralAreAllCheckedBeforeTheFirstIsWritten) {
  const std::string before = read_sysctl(ns(), "net.ipv4.tcp_syn_retries");
  const std::string wanted = before == "3" ? "4" : "3";
  const std::string msg = error_of(
      [&] { write_sysctls(ns(), {{"net.ipv4.tcp_syn_retries", wanted}, {"net.core.rmem_max", "12345"}}); });
  EXPECT_EQ(msg.rfind("sysctl net.core.rmem_max is global to the host", 0), 0u) << msg;
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_syn_retries"), before);
}

TEST_F(SysctlTest, SeveralStopAtTheFirstRefusalAndNameIt) {
  const std::string msg = error_of([&] {
    write_sysctls(ns(), {{"net.ipv4.tcp_fin_timeout", "22"}, {"net.ipv4.tcp_syn_retries", "300"},
                         {"net.ipv4.tcp_keepalive_probes", "7"}});
  });
  EXPECT_EQ(msg.rfind("sysctl net.ipv4.tcp_syn_retries = '300' refused by the kernel", 0), 0u) << msg;
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_fin_timeout"), "22");
  EXPECT_NE(read_sysctl(ns(), "net.ipv4.tcp_keepalive_probes"), "7");
}

TEST_F(SysctlTest, KernelRefusalNamesKeyValueAndCurrentValue) {
  const std::string current = read_sysctl(ns(), "net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_fin_timeout", "abc"); }),
            "sysctl net.ipv4.tcp_fin_timeout = 'abc' refused by the kernel in namespace "
            "sysctl-test: Invalid argument (the value is out of range or malformed; current "
            "value is '" + current + "', an integer)");
  // Out of range: tcp_syn_retries is at most 127.
  const std::string retries = read_sysctl(ns(), "net.ipv4.tcp_syn_retries");
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_syn_retries", "300"); }),
            "sysctl net.ipv4.tcp_syn_retries = '300' refused by the kernel in namespace "
            "sysctl-test: Invalid argument (the value is out of range or malformed; current "
            "value is '" + retries + "', an integer)");
  const std::string range = error_of([&] { write_sysctl(ns(), "net.ipv4.ip_local_port_range", "9 x"); });
  EXPECT_NE(range.find("2 integers separated by spaces"), std::string::npos) << range;
}

TEST_F(SysctlTest, UnknownCongestionControlListsTheAvailableOnes) {
  const std::string msg =
      error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_congestion_control", "nosuchcc"); });
  EXPECT_NE(msg.find("no such congestion control; available: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("modprobe tcp_nosuchcc"), std::string::npos) << msg;
}

TEST_F(SysctlTest, MissingInterfaceIsNamedWithTheOnesThatExist) {
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.conf.eth9.rp_filter", "0"); }),
            "sysctl net.ipv4.conf.eth9.rp_filter: namespace sysctl-test has no interface eth9 "
            "(it has: lo)");
}

TEST_F(SysctlTest, ValueWithANewlineIsRefused) {
  EXPECT_EQ(error_of([&] { write_sysctl(ns(), "net.ipv4.tcp_fin_timeout", "5\n6"); }),
            "sysctl net.ipv4.tcp_fin_timeout: the value contains a newline; give one line");
}

TEST_F(SysctlTest, ApplyConfWritesEachSettingAndSkipsDashLineErrors) {
  apply_sysctl_conf(ns(),
                    "# test profile\n"
                    "net.ipv4.tcp_fin_timeout = 9\n"
                    "-net.ipv4.tcp_tw_recycle = 1\n"
                    "-net.core.rmem_max = 1\n"
                    "net/ipv4/tcp_keepalive_time=33\n");
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_fin_timeout"), "9");
  EXPECT_EQ(read_sysctl(ns(), "net.ipv4.tcp_keepalive_time"), "33");
}

TEST_F(SysctlTest, ApplyConfReportsTheFailingLine) {
  EXPECT_EQ(error_of([&] {
              apply_sysctl_conf(ns(), "net.ipv4.tcp_fin_timeout = 9\n\nnet.ipv4.tcp_nope = 1\n");
            }),
            "line 3: unknown sysctl net.ipv4.tcp_nope: no such key in this kernel");
}

}  // namespace
}  // namespace tcpfault::netns
