// SYN floods from the middlebox: the bounds they keep (count, rate, duration, source
// addresses), that nothing of them reaches the client's namespace, and that they stop
// by themselves and with their scenario.
#include "harness/intercept/syn_flood.h"

#include <dirent.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"
#include "harness/trace/trace_output.h"

namespace tcpfault {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 8080;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Polls a condition only polling can observe (counters), with a deadline.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 5000ms) {
  const auto until = Clock::now() + within;
  while (!pred()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

int thread_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// Every frame that arrives on the client's interface, from an AF_PACKET socket made
// inside the client's namespace.
class ClientCapture {
 public:
  explicit ClientCapture(const netns::Namespace& client) {
    client.run([&] {
      fd_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL)));
      if (!fd_.valid()) throw_errno("packet socket in the client namespace");
      sockaddr_ll at{};
      at.sll_family = AF_PACKET;
      at.sll_protocol = htons(ETH_P_ALL);
      at.sll_ifindex = static_cast<int>(::if_nametoindex(netns::interface_name(Host::Client).c_str()));
      if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) throw_errno("bind packet socket");
    });
    int big = 1 << 20;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  }
  // Frames received so far.
  std::vector<std::vector<std::uint8_t>> frames() {
    std::vector<std::vector<std::uint8_t>> out;
    std::vector<std::uint8_t> buf(65536);
    ssize_t n;
    while ((n = ::recv(fd_.get(), buf.data(), buf.size(), 0)) > 0) out.emplace_back(buf.begin(), buf.begin() + n);
    return out;
  }

 private:
  UniqueFd fd_;
};

bool mentions(const std::vector<std::uint8_t>& frame, const Address& a) {
  auto bytes = std::span(a.bytes.data(), a.size());
  return std::search(frame.begin(), frame.end(), bytes.begin(), bytes.end()) != frame.end();
}

class SynFloodTest : public ScenarioTest {
 protected:
  FloodSpec spec(int count, double rate, int sources = 8) {
    return {s->server_at(kPort), count, rate, flood_sources(s->topology(), GetParam(), sources)};
  }
};

TEST_P(SynFloodTest, BadSpecsGetAClearError) {
  auto e = [&](FloodSpec f) { return error_of([&] { s->flood_syns(f); }); };
  EXPECT_EQ(e(spec(0, 100)), "flood count must be 1 to 10000 SYNs, not 0");
  EXPECT_EQ(e(spec(10001, 1000)), "flood count must be 1 to 10000 SYNs, not 10001");
  EXPECT_EQ(e(spec(10, 0)), "flood rate must be more than 0 and at most 2000/s SYNs per second, not 0/s");
  EXPECT_EQ(e(spec(10, -5)), "flood rate must be more than 0 and at most 2000/s SYNs per second, not -5/s");
  EXPECT_EQ(e(spec(10, NAN)), "flood rate must be more than 0 and at most 2000/s SYNs per second, not nan/s");
  EXPECT_EQ(e(spec(10, 1e9)), "flood rate must be more than 0 and at most 2000/s SYNs per second, not 1e+09/s");
  EXPECT_EQ(e(spec(5000, 100)),
            "a flood of 5000 SYNs at 100/s would last 50.0 s; at most 30 s: raise the rate or lower the count");

  FloodSpec to_client = spec(10, 100);
  to_client.target = s->client_at(kPort);
  EXPECT_NE(e(to_client).find("a flood goes to a port on the server's address"), std::string::npos) << e(to_client);

  const Family other = GetParam() == Family::V4 ? Family::V6 : Family::V4;
  for (Address bad : {s->topology().client_addr(GetParam()), s->topology().middlebox_addr(Host::Client, GetParam()),
                      s->topology().server_addr(GetParam()), s->topology().unused_client_addr(other, 1)}) {
    FloodSpec f = spec(10, 100);
    f.sources = {bad};
    std::string m = e(f);
    EXPECT_EQ(m.rfind("flood source " + bad.str() + " is not an unused address of the client subnet; use ", 0), 0u)
        << m;
  }
  FloodSpec twice = spec(10, 100, 2);
  twice.sources.push_back(twice.sources[0]);
  EXPECT_EQ(e(twice), "flood source " + twice.sources[0].str() + " is given twice");
  EXPECT_EQ(error_of([&] { flood_sources(s->topology(), GetParam(), 0); }),
            "a flood takes 1 to 153 sources (the unused addresses of the client subnet), not 0");
  EXPECT_EQ(error_of([&] { flood_sources(s->topology(), GetParam(), 154); }),
            "a flood takes 1 to 153 sources (the unused addresses of the client subnet), not 154");

  // A rejected spec starts nothing.
  EXPECT_EQ(s->faults().stats().flood_syns_sent, 0u);
  EXPECT_EQ(error_of([&] { s->flood(1); }), "no flood #1 in scenario " + s->name());
}

TEST_P(SynFloodTest, SourcesBelongToOneFlood) {
  auto& first = s->flood_syns(spec(1, 100, 4));
  std::string m = error_of([&] { s->flood_syns(spec(1, 100, 2)); });
  EXPECT_EQ(m, "flood source " + first.spec().sources[0].str() +
                   " is already used by flood #1 of this scenario; give each flood its own sources");
}

TEST_P(SynFloodTest, KeepsItsCountAndRateAndNothingReachesTheClient) {
  ClientCapture capture(s->topology().client());
  auto listener = s->server().listen(s->server_at(kPort), 4);
  const int count = 60;
  const double rate = 300;
  auto& flood = s->flood_syns(spec(count, rate));
  ASSERT_TRUE(flood.wait(Clock::now() + 5s));
  EXPECT_FALSE(flood.error());
  // Syncookies (on by default) answer every SYN the request queue has no room for.
  ASSERT_TRUE(eventually([&] { return flood.counts().answered == static_cast<std::uint64_t>(count); }))
      << flood.counts().str();

  FloodCounts c = flood.counts();
  EXPECT_EQ(c.sent, static_cast<std::uint64_t>(count));
  EXPECT_GE(c.syn_acks, static_cast<std::uint64_t>(count));
  EXPECT_EQ(c.rsts, 0u);

  // Paced: the last SYN went out no sooner than (count - 1) / rate after the first.
  auto bulk = s->trace().bulk_segments();
  std::vector<std::int64_t> sent;
  for (const auto& b : bulk)
    if (b.from == Host::Middlebox) sent.push_back(b.t_ns);
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(count));
  EXPECT_GE(double(sent.back() - sent.front()) / 1e9, (count - 1) / rate * 0.99);

  // Not one frame about a flood address reached the client's interface: no reply, no
  // ARP or neighbour solicitation (replies are dropped before neighbour resolution).
  // (Other frames may come: IPv6 neighbour discovery between the two hosts.)
  for (const auto& frame : capture.frames())
    for (const auto& a : flood.spec().sources) EXPECT_FALSE(mentions(frame, a)) << "frame mentions " << a.str();
  // The capture does see what does reach the client: a connection of its own.
  auto client = s->client().connect(s->server_at(kPort));
  s->expect_ok(client.connect_result());
  auto seen = capture.frames();
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(),
                          [&](const auto& f) { return mentions(f, s->topology().server_addr(GetParam())); }));

  // The ladder gets summary lines, not a line per segment; the pcapng gets every one.
  std::string ladder = s->ladder();
  EXPECT_LT(std::count(ladder.begin(), ladder.end(), '\n'), 20) << ladder;
  EXPECT_NE(ladder.find("flood #1 finished"), std::string::npos) << ladder;
  EXPECT_EQ(s->faults().stats().flood_syns_sent, static_cast<std::uint64_t>(count));
  EXPECT_EQ(s->faults().stats().flood_replies_dropped, flood.counts().replies_dropped);
}

TEST_P(SynFloodTest, RstsFromAClosedPortAreDroppedAndCounted) {
  auto& flood = s->flood_syns(spec(20, 1000, 5));
  ASSERT_TRUE(flood.wait(Clock::now() + 5s));
  ASSERT_TRUE(eventually([&] { return flood.counts().rsts == 20; })) << flood.counts().str();
  EXPECT_EQ(flood.counts().syn_acks, 0u);
  EXPECT_EQ(flood.counts().answered, 20u);
}

TEST_P(SynFloodTest, StopEndsItEarly) {
  auto& flood = s->flood_syns(spec(5000, 1000));
  ASSERT_TRUE(eventually([&] { return flood.counts().sent >= 10; }));
  flood.stop();
  ASSERT_TRUE(flood.wait(Clock::now() + 1s));
  auto sent = flood.counts().sent;
  EXPECT_LT(sent, 5000u);
  EXPECT_EQ(flood.counts().sent, sent);  // and nothing after
}

TEST_P(SynFloodTest, EndsWithItsScenario) {
  s.reset();
  const int threads_without_scenario = thread_count();  // the process-wide tracepoint reader stays
  s = std::make_unique<Scenario>(ScenarioOptions{.family = GetParam(), .name = "flood cut short"});
  const int threads_with_scenario = thread_count();
  auto& flood = s->flood_syns(spec(5000, 1000));
  ASSERT_TRUE(eventually([&] { return flood.counts().sent >= 10; }));
  EXPECT_EQ(thread_count(), threads_with_scenario + 1);  // the flood's sender
  auto trace = s->shared_trace();
  const auto t0 = Clock::now();
  s.reset();  // mid-flood
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(thread_count(), threads_without_scenario);
  std::string summary;
  for (const auto& e : trace->events())
    if (auto* n = std::get_if<NoteEvent>(&e); n && n->text.rfind("flood #1 in all: ", 0) == 0) summary = n->text;
  EXPECT_NE(summary, "") << render_ladder(*trace);
  EXPECT_EQ(summary.find("5000 SYNs sent"), std::string::npos) << summary;
}

INSTANTIATE_TEST_SUITE_P(Families, SynFloodTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
