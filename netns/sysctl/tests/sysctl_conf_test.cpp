#include <gtest/gtest.h>

#include <string>

#include "netns/error.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault::netns {
namespace {

std::string parse_error(std::string_view text) {
  try {
    parse_sysctl_conf(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SysctlConf, ParsesEveryAcceptedForm) {
  const auto settings = parse_sysctl_conf(
      "# a comment\n"
      "; another comment\n"
      "\n"
      "   \t\n"
      "net.ipv4.tcp_fin_timeout = 5\n"
      "net.ipv4.tcp_syn_retries=2\r\n"
      "  -net.ipv4.tcp_tw_recycle = 1  \n"
      "net/ipv4/tcp_rmem = 4096\t87380  6291456\n"
      "net/ipv4/conf/eth0.100/rp_filter = 0\n"
      "net.ipv4.conf.eth0/100.rp_filter = 2");
  ASSERT_EQ(settings.size(), 6u);
  EXPECT_EQ(settings[0].key, "net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(settings[0].value, "5");
  EXPECT_EQ(settings[0].line, 5);
  EXPECT_FALSE(settings[0].ignore_errors);
  EXPECT_EQ(settings[1].key, "net.ipv4.tcp_syn_retries");
  EXPECT_EQ(settings[1].value, "2");
  EXPECT_EQ(settings[2].key, "net.ipv4.tcp_tw_recycle");
  EXPECT_TRUE(settings[2].ignore_errors);
  EXPECT_EQ(settings[2].line, 7);
  EXPECT_EQ(settings[3].key, "net.ipv4.tcp_rmem");
  EXPECT_EQ(settings[3].value, "4096\t87380  6291456");
  EXPECT_EQ(settings[4].key, "net.ipv4.conf.eth0/100.rp_filter");
  EXPECT_EQ(settings[5].key, "net.ipv4.conf.eth0/100.rp_filter");
  EXPECT_EQ(settings[5].value, "2");
}

TEST(SysctlConf, EmptyTextHasNoSettings) {
  EXPECT_TRUE(parse_sysctl_conf("").empty());
  EXPECT_TRUE(parse_sysctl_conf("# only a comment\n\n").empty());
}

TEST(SysctlConf, ValueMayContainAnEqualsSign) {
  const auto s = parse_sysctl_conf("net.core.somaxconn = a=b");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].value, "a=b");
}

TEST(SysctlConf, MalformedLinesNameTheLineAndTheProblem) {
  EXPECT_EQ(parse_error("net.ipv4.tcp_fin_timeout = 5\nnet.ipv4.tcp_syn_retries 2"),
            "line 2: expected 'key = value' but found no '=' in \"net.ipv4.tcp_syn_retries 2\"");
  EXPECT_EQ(parse_error("\n\n = 5"), "line 3: empty key before '='");
  EXPECT_EQ(parse_error("net.ipv4.tcp_fin_timeout ="), "line 1: no value after '=' for key net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(parse_error("net.ipv4 .tcp_fin_timeout = 5"),
            "line 1: key \"net.ipv4 .tcp_fin_timeout\" contains whitespace");
  EXPECT_EQ(parse_error("net.ipv4.conf.*.rp_filter = 0"),
            "line 1: wildcard key net.ipv4.conf.*.rp_filter is not supported; name each key");
  EXPECT_EQ(parse_error("net..ipv4.tcp_fin_timeout = 5"),
            "line 1: malformed sysctl key 'net..ipv4.tcp_fin_timeout': empty component "
            "(a doubled, leading or trailing separator)");
  EXPECT_EQ(parse_error("net/ipv4/../../kernel/hostname = x"),
            "line 1: malformed sysctl key 'net/ipv4/../../kernel/hostname': component '..' "
            "would leave the sysctl tree");
  EXPECT_EQ(parse_error("-= 1"), "line 1: empty key before '='");
}

TEST(SysctlKey, BothSpellingsMeanTheSameFile) {
  const SysctlKey dotted = parse_sysctl_key("net.ipv4.conf.eth0/100.rp_filter");
  const SysctlKey slashed = parse_sysctl_key("net/ipv4/conf/eth0.100/rp_filter");
  const SysctlKey proc = parse_sysctl_key("/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
  EXPECT_EQ(dotted.parts, slashed.parts);
  EXPECT_EQ(dotted.parts, proc.parts);
  EXPECT_EQ(dotted.path(), "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
  EXPECT_EQ(slashed.dotted(), "net.ipv4.conf.eth0/100.rp_filter");
  EXPECT_TRUE(dotted.is_net());
  EXPECT_FALSE(parse_sysctl_key("kernel.hostname").is_net());
}

TEST(SysctlKey, RejectsKeysThatLeaveTheTree) {
  EXPECT_THROW(parse_sysctl_key(""), Error);
  EXPECT_THROW(parse_sysctl_key("net."), Error);
  EXPECT_THROW(parse_sysctl_key("net.ipv4.conf.//.rp_filter"), Error);  // "//" means ".."
  EXPECT_THROW(parse_sysctl_key("net/./ipv4"), Error);
}

}  // namespace
}  // namespace tcpfault::netns
