// The middlebox's queue rules, installed over netlink: what iptables reads back, that
// forwarded TCP reaches the queue (and nothing else does), and that with nobody bound
// to the queue traffic passes (--queue-bypass); each on both families.
#include "harness/intercept/queue_rules.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "harness/intercept/nfqueue.h"
#include "harness/testing/child_process.h"
#include "netns/tests/test_support.h"
#include "netns/topology.h"

namespace tcpfault {
namespace {

using netns::Topology;
using netns::testing::Clock;
using namespace std::chrono_literals;
constexpr std::uint16_t kQueue = 7;
constexpr auto kTimeout = 3s;

TEST(QueueRulesText, IsOneForwardRuleSendingTcpToTheQueueWithBypass) {
  EXPECT_EQ(queue_rules_text(kQueue),
            "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -j NFQUEUE --queue-num 7 --queue-bypass\nCOMMIT\n");
}

// What `program` (iptables-save, ip6tables-save) prints inside `ns`.
std::string saved_rules(const netns::Namespace& ns, const char* program) {
  auto child = testing_support::start_child([&](int report) {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(report, 1);
    const char* argv[] = {program, nullptr};
    ::execvp(program, const_cast<char**>(argv));
    ::_exit(127);
  });
  std::string out = testing_support::read_report(child.from_child);
  ::close(child.from_child);
  const int status = testing_support::wait_child(child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << program << " failed: " << status;
  return out;
}

// The lines of iptables-save's output that are rules ("-A ...").
std::vector<std::string> rule_lines(const std::string& saved) {
  std::vector<std::string> rules;
  std::istringstream in(saved);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("-A ", 0) == 0) rules.push_back(line);
  return rules;
}

TEST(QueueRules, IptablesReadsBackTheRuleOfItsTextOnBothFamilies) {
  TCPFAULT_REQUIRE_ROOT();
  auto t = Topology::build();
  install_queue_rules(t->middlebox(), kQueue);
  const std::vector<std::string> expected = {"-A FORWARD -p tcp -j NFQUEUE --queue-num 7 --queue-bypass"};
  EXPECT_EQ(rule_lines(saved_rules(t->middlebox(), "iptables-save")), expected);
  EXPECT_EQ(rule_lines(saved_rules(t->middlebox(), "ip6tables-save")), expected);
  // The endpoints' namespaces have none.
  EXPECT_TRUE(rule_lines(saved_rules(t->client(), "iptables-save")).empty());
}

TEST(QueueRules, InstallingTwiceAppendsASecondRuleAsIptablesNoflushWould) {
  TCPFAULT_REQUIRE_ROOT();
  auto t = Topology::build();
  install_queue_rules(t->middlebox(), kQueue);
  install_queue_rules(t->middlebox(), kQueue + 1);
  EXPECT_EQ(rule_lines(saved_rules(t->middlebox(), "ip6tables-save")).size(), 2u);
}

class QueueRulesTraffic : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    TCPFAULT_REQUIRE_ROOT();
    t = Topology::build();
  }

  // A non-blocking connect from the client to a listener on the server.
  struct Attempt {
    UniqueFd listener, client;
  };
  Attempt connect_once() {
    const Family f = GetParam();
    Attempt a;
    a.listener = t->server().run([&] {
      UniqueFd fd = netns::testing::tcp_socket(f);
      netns::testing::bind_to(fd.get(), {t->server_addr(f), 0});
      if (::listen(fd.get(), 4) != 0) throw std::runtime_error("listen failed");
      return fd;
    });
    const SockAddr server = netns::testing::local_of(a.listener.get());
    a.client = t->client().run([&] {
      UniqueFd fd = netns::testing::tcp_socket(f);
      socklen_t len = 0;
      sockaddr_storage ss = server.to_sockaddr(len);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
        throw std::runtime_error("connect " + server.str() + ": " + strerror(errno));
      return fd;
    });
    return a;
  }

  // The first packet the queue gets before the deadline, or nothing; every packet read is accepted.
  std::optional<std::vector<std::uint8_t>> first_queued(NfQueue& q, Clock::time_point deadline) {
    std::optional<std::vector<std::uint8_t>> got;
    while (!got && Clock::now() < deadline) {
      pollfd p{q.fd(), POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0))) <= 0) continue;
      q.receive([&](const NfQueue::Message& m) {
        if (!got) got.emplace(m.packet.begin(), m.packet.end());
        q.accept(m.id);
      });
      q.flush();
    }
    return got;
  }

  std::unique_ptr<Topology> t;
};

// The IP version, the transport protocol and the source address of a raw packet.
struct Header {
  int version = 0;
  int protocol = -1;
  bool from(const Address& a, const std::vector<std::uint8_t>& p) const {
    const std::size_t at = version == 4 ? 12 : 8;
    return p.size() >= at + a.size() && std::memcmp(p.data() + at, a.bytes.data(), a.size()) == 0;
  }
};
Header header_of(const std::vector<std::uint8_t>& p) {
  if (p.empty()) return {};
  const int version = p[0] >> 4;
  if (version == 4 && p.size() >= 20) return {4, p[9]};
  if (version == 6 && p.size() >= 40) return {6, p[6]};
  return {version, -1};
}

TEST_P(QueueRulesTraffic, ForwardedTcpReachesTheQueue) {
  NfQueue q(t->middlebox(), kQueue);
  install_queue_rules(t->middlebox(), kQueue);
  Attempt a = connect_once();
  auto packet = first_queued(q, Clock::now() + kTimeout);
  ASSERT_TRUE(packet) << "no packet reached NFQUEUE " << kQueue;
  const Header h = header_of(*packet);
  EXPECT_EQ(h.version, GetParam() == Family::V4 ? 4 : 6);
  EXPECT_EQ(h.protocol, IPPROTO_TCP);
  EXPECT_TRUE(h.from(t->client_addr(GetParam()), *packet));
}

TEST_P(QueueRulesTraffic, OtherProtocolsAreForwardedWithoutTheQueue) {
  // Bound, but no verdict is ever given: a queued datagram would never arrive.
  NfQueue q(t->middlebox(), kQueue);
  install_queue_rules(t->middlebox(), kQueue);
  const Family f = GetParam();
  UniqueFd server = t->server().run([&] {
    UniqueFd fd(::socket(to_af(f), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    netns::testing::bind_to(fd.get(), {t->server_addr(f), 0});
    return fd;
  });
  const SockAddr to = netns::testing::local_of(server.get());
  t->client().run([&] {
    UniqueFd fd(::socket(to_af(f), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    socklen_t len = 0;
    sockaddr_storage ss = to.to_sockaddr(len);
    ASSERT_EQ(::sendto(fd.get(), "udp", 3, 0, reinterpret_cast<sockaddr*>(&ss), len), 3) << strerror(errno);
  });
  EXPECT_EQ(netns::testing::recv_some(server.get(), Clock::now() + kTimeout, "a UDP datagram at the server"), "udp");
  std::size_t queued = q.receive([&](const NfQueue::Message& m) { q.accept(m.id); });
  q.flush();
  EXPECT_EQ(queued, 0u);
}

TEST_P(QueueRulesTraffic, TrafficPassesWhileNobodyListensOnTheQueue) {
  install_queue_rules(t->middlebox(), kQueue);
  // --queue-bypass: with no program bound the rule lets TCP through.
  EXPECT_NO_THROW(netns::testing::tcp_roundtrip(*t, GetParam(), kTimeout));
  // The same rule queues once somebody listens: it was there all along.
  NfQueue q(t->middlebox(), kQueue);
  Attempt a = connect_once();
  auto packet = first_queued(q, Clock::now() + kTimeout);
  ASSERT_TRUE(packet) << "the rule did not queue after the queue was bound";
  EXPECT_EQ(header_of(*packet).protocol, IPPROTO_TCP);
}

INSTANTIATE_TEST_SUITE_P(Families, QueueRulesTraffic, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return info.param == Family::V4 ? "V4" : "V6"; });

}  // namespace
}  // namespace tcpfault
