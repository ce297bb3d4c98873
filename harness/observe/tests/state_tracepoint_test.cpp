#include "harness/observe/state_tracepoint.h"

#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <vector>

#include "harness/testing/observe_lab.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using namespace observe_lab;
using Step = std::pair<TcpState, TcpState>;
using S = TcpState;

// Keeps every transition; tests wait on it with a deadline.
class Recorder {
 public:
  void add(const Transition& t) {
    {
      std::lock_guard lock(mutex_);
      all_.push_back(t);
    }
    changed_.notify_all();
  }

  // Waits until `pred(all)` holds; returns whether it did before the deadline.
  bool wait_for(const std::function<bool(const std::vector<Transition>&)>& pred) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return pred(all_); });
  }

  std::vector<Transition> snapshot() {
    std::lock_guard lock(mutex_);
    return all_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Transition> all_;
};

// The kernel socket that was seen ESTABLISHED with exactly this 4-tuple, or 0.
std::uint64_t socket_of(const std::vector<Transition>& all, const FourTuple& t) {
  for (const auto& e : all)
    if (e.to == S::ESTABLISHED && e.local == t.local && e.remote == t.remote) return e.socket;
  return 0;
}

// The socket's steps. A socket address can be reused once freed, so only steps whose
// addresses fit the connection count: the full tuple, or (before the port is chosen /
// while cloned from the listener) the port 0 or unspecified side.
std::vector<Step> steps_of(const std::vector<Transition>& all, std::uint64_t socket,
                           const FourTuple& t) {
  auto fits = [](const SockAddr& seen, const SockAddr& want) {
    return (seen.addr == want.addr || seen.addr.is_unspecified()) &&
           (seen.port == want.port || seen.port == 0);
  };
  std::vector<Step> out;
  if (socket == 0) return out;
  for (const auto& e : all)
    if (e.socket == socket && fits(e.local, t.local) && fits(e.remote, t.remote))
      out.emplace_back(e.from, e.to);
  return out;
}

std::string describe(const std::vector<Transition>& all) {
  std::ostringstream s;
  for (const auto& e : all)
    s << "  " << std::hex << e.socket << std::dec << " " << e.local.str() << " > " << e.remote.str()
      << " " << to_string(e.from) << " -> " << to_string(e.to) << "\n";
  return s.str();
}

bool ends_with_close(const std::vector<Step>& steps) {
  return !steps.empty() && steps.back().second == S::CLOSED;
}

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Ends {
  SockAddr server, client;
};

Ends ends_for(Family f) {
  if (f == Family::V4)
    return {{Address::parse("198.18.250.11"), 0}, {Address::parse("198.18.250.12"), 0}};
  return {{Address::parse("2001:2:0:fa::11"), 0}, {Address::parse("2001:2:0:fa::12"), 0}};
}

class StateTracepointTest : public ::testing::TestWithParam<Family> {};

TEST_P(StateTracepointTest, DeliversBothEndsExactSequences) {
  auto ns = make_namespace("tracepoint", {"198.18.250.11", "198.18.250.12", "2001:2:0:fa::11",
                                          "2001:2:0:fa::12"});
  const Ends ends = ends_for(GetParam());
  Recorder recorder;
  StateTracepoint tracepoint([&](const Transition& t) { recorder.add(t); });

  UniqueFd listener = tcp_listen(ns, ends.server);
  const std::int64_t before_connect = monotonic_ns();
  UniqueFd client = tcp_connect(ns, ends.client, local_of(listener.get()));
  const std::int64_t after_connect = monotonic_ns();
  UniqueFd server = accept_one(listener.get());
  const FourTuple client_tuple = tuple_of(client.get());
  const FourTuple server_tuple = tuple_of(server.get());

  // connect() has returned, so both of the client's steps so far were recorded: after
  // drain() they are in the sink, with no waiting.
  tracepoint.drain();
  {
    auto all = recorder.snapshot();
    auto steps = steps_of(all, socket_of(all, client_tuple), client_tuple);
    EXPECT_EQ(steps, (std::vector<Step>{{S::CLOSED, S::SYN_SENT}, {S::SYN_SENT, S::ESTABLISHED}}))
        << describe(all);
    // Stamped with CLOCK_MONOTONIC, like the rest of the trace.
    for (const auto& e : all)
      if (e.socket == socket_of(all, client_tuple)) {
        EXPECT_GE(e.mono_ns, before_connect);
        EXPECT_LE(e.mono_ns, after_connect);
      }
  }

  client.reset();  // the client closes first
  ASSERT_EQ(recv_result(server.get()), 0);
  server.reset();

  auto both_closed = [&](const std::vector<Transition>& all) {
    return ends_with_close(steps_of(all, socket_of(all, client_tuple), client_tuple)) &&
           ends_with_close(steps_of(all, socket_of(all, server_tuple), server_tuple));
  };
  ASSERT_TRUE(recorder.wait_for(both_closed)) << describe(recorder.snapshot());
  tracepoint.drain();
  auto all = recorder.snapshot();

  EXPECT_EQ(steps_of(all, socket_of(all, client_tuple), client_tuple),
            (std::vector<Step>{{S::CLOSED, S::SYN_SENT},
                               {S::SYN_SENT, S::ESTABLISHED},
                               {S::ESTABLISHED, S::FIN_WAIT1},
                               {S::FIN_WAIT1, S::FIN_WAIT2},
                               {S::FIN_WAIT2, S::CLOSED}}))
      << describe(all);
  EXPECT_EQ(steps_of(all, socket_of(all, server_tuple), server_tuple),
            (std::vector<Step>{{S::LISTEN, S::SYN_RECV},
                               {S::SYN_RECV, S::ESTABLISHED},
                               {S::ESTABLISHED, S::CLOSE_WAIT},
                               {S::CLOSE_WAIT, S::LAST_ACK},
                               {S::LAST_ACK, S::CLOSED}}))
      << describe(all);

  std::int64_t previous = 0;
  for (const auto& e : all) {
    if (e.socket != socket_of(all, client_tuple)) continue;
    EXPECT_GE(e.mono_ns, previous);
    previous = e.mono_ns;
    EXPECT_EQ(e.local.addr, client_tuple.local.addr);
    EXPECT_EQ(e.remote, client_tuple.remote);
    // connect() chose the port (IP_BIND_ADDRESS_NO_PORT): not known when SYN_SENT began.
    EXPECT_EQ(e.local.port, e.to == S::SYN_SENT ? 0 : client_tuple.local.port);
  }
  EXPECT_EQ(tracepoint.lost(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, StateTracepointTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

TEST(StateTracepointListener, ListenAndCloseOfAListener) {
  auto ns = make_namespace("tracepoint-listen", {"198.18.250.13"});
  Recorder recorder;
  StateTracepoint tracepoint([&](const Transition& t) { recorder.add(t); });
  UniqueFd listener = tcp_listen(ns, {Address::parse("198.18.250.13"), 0});
  const SockAddr at = local_of(listener.get());
  listener.reset();
  tracepoint.drain();  // listen() and close() ran on this thread: no waiting needed

  std::vector<Step> steps;
  for (const auto& e : recorder.snapshot())
    if (e.local == at) steps.emplace_back(e.from, e.to);
  EXPECT_EQ(steps, (std::vector<Step>{{S::CLOSED, S::LISTEN}, {S::LISTEN, S::CLOSED}}));
}

TEST(StateTracepointSink, WhatTheSinkThrowsReachesDrain) {
  auto ns = make_namespace("tracepoint-throw", {"198.18.250.14"});
  std::atomic<bool> armed{false};
  StateTracepoint tracepoint([&](const Transition& t) {
    if (armed && t.local.addr == Address::parse("198.18.250.14")) throw Error("sink refused");
  });
  armed = true;
  UniqueFd listener = tcp_listen(ns, {Address::parse("198.18.250.14"), 0});
  EXPECT_THROW(tracepoint.drain(), Error);
  EXPECT_NO_THROW(tracepoint.drain()) << "the failure is reported once";
}

std::string mount_table() {
  std::ifstream in("/proc/self/mountinfo");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(StateTracepointFormat, PrivateTracefsMountDescribesTheSameTracepoint) {
  const TracepointDescription direct = describe_state_tracepoint();
  const std::string mounts_before = mount_table();
  const TracepointDescription isolated = describe_state_tracepoint(/*private_mount=*/true);
  EXPECT_EQ(mount_table(), mounts_before) << "the host's mounts changed";
  EXPECT_NE(isolated.id, 0u);
  EXPECT_EQ(isolated.id, direct.id);
  EXPECT_EQ(isolated.format, direct.format);
  EXPECT_NE(isolated.format.find("field:const void * skaddr;"), std::string::npos);
}

}  // namespace
}  // namespace tcpfault
