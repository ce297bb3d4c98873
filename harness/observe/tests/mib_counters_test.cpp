#include "harness/observe/mib_counters.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "harness/testing/observe_lab.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using namespace observe_lab;

TEST(MibCounterParsing, PairsHeaderAndValueLines) {
  Counters c;
  parse_paired_lines(
      "Tcp: RtoAlgorithm MaxConn ActiveOpens\nTcp: 1 -1 7\n"
      "TcpExt: SyncookiesSent TCPTimeWaitOverflow\nTcpExt: 2 3\n",
      c);
  EXPECT_EQ(c.at("Tcp.MaxConn"), -1);
  EXPECT_EQ(c.at("Tcp.ActiveOpens"), 7);
  EXPECT_EQ(c.at("TcpExt.SyncookiesSent"), 2);
  EXPECT_EQ(c.at("TcpExt.TCPTimeWaitOverflow"), 3);
  EXPECT_THROW(parse_paired_lines("Tcp: A B\nTcp: 1\n", c), Error);
}

TEST(MibCounterParsing, Snmp6NamesGetTheirPrefixAsGroup) {
  Counters c;
  parse_snmp6("Ip6InReceives                   \t123\nIcmp6InType133   4\n"
              "Udp6InDatagrams 5\nUdpLite6InDatagrams 6\n",
              c);
  EXPECT_EQ(c.at("Ip6.InReceives"), 123);
  EXPECT_EQ(c.at("Icmp6.InType133"), 4);
  EXPECT_EQ(c.at("Udp6.InDatagrams"), 5);
  EXPECT_EQ(c.at("UdpLite6.InDatagrams"), 6);
}

TEST(MibCounterParsing, DeltaCountsMissingKeysFromZero) {
  Counters before{{"Tcp.ActiveOpens", 2}};
  Counters after{{"Tcp.ActiveOpens", 5}, {"TcpExt.ListenOverflows", 1}};
  Counters d = counter_delta(before, after);
  EXPECT_EQ(d.at("Tcp.ActiveOpens"), 3);
  EXPECT_EQ(d.at("TcpExt.ListenOverflows"), 1);
}

TEST(MibCounters, AFreshNamespaceStartsFromZero) {
  auto ns = netns::Namespace::create("mib-fresh");
  Counters c = read_counters(ns);
  for (const char* key : {"Tcp.ActiveOpens", "Tcp.PassiveOpens", "Ip.InReceives",
                          "TcpExt.ListenOverflows", "TcpExt.TCPTimeWaitOverflow",
                          "Ip6.InReceives"}) {
    ASSERT_TRUE(c.contains(key)) << key;
    EXPECT_EQ(c.at(key), 0) << key;
  }
}

// Opens n connections in `ns` and closes them.
void open_connections(const netns::Namespace& ns, int n) {
  UniqueFd listener = tcp_listen(ns, {Address::parse("198.18.250.21"), 0});
  const SockAddr to = local_of(listener.get());
  std::vector<UniqueFd> keep;
  for (int i = 0; i < n; ++i) {
    keep.push_back(tcp_connect(ns, {Address::parse("198.18.250.22"), 0}, to));
    keep.push_back(accept_one(listener.get()));
  }
}

TEST(MibCounters, DeltaCountsTheNamespacesOwnConnectionsOnly) {
  auto ns = make_namespace("mib-delta", {"198.18.250.21", "198.18.250.22"});
  auto other = make_namespace("mib-other", {"198.18.250.21", "198.18.250.22"});
  const Counters host_before = read_counters(netns::Namespace::of_current_thread("host"));
  const Counters before = read_counters(ns);
  const Counters other_before = read_counters(other);

  constexpr int kConnections = 3;
  open_connections(ns, kConnections);

  // Read on another thread: /proc/self/net would show the main thread's namespace.
  const Counters after = std::async(std::launch::async, [&] { return read_counters(ns); }).get();
  const Counters d = counter_delta(before, after);
  EXPECT_EQ(d.at("Tcp.ActiveOpens"), kConnections);
  EXPECT_EQ(d.at("Tcp.PassiveOpens"), kConnections);
  EXPECT_GT(d.at("Ip.InReceives"), 0);

  const Counters other_d = counter_delta(other_before, read_counters(other));
  EXPECT_EQ(other_d.at("Tcp.ActiveOpens"), 0);
  EXPECT_EQ(other_d.at("Ip.InReceives"), 0);
  // The namespace started at zero whatever the host had counted.
  EXPECT_EQ(after.at("Tcp.ActiveOpens"), kConnections);
  EXPECT_TRUE(host_before.contains("Tcp.ActiveOpens"));
}

}  // namespace
}  // namespace tcpfault
