// transitions_of: one socket's recorded steps, found by its 4-tuple and, for a first step
// recorded before the socket had all of it (before connect() chose a port; an accepted
// socket's step before its peer's address was copied in), by the kernel's socket identity.
#include <gtest/gtest.h>

#include <vector>

#include "harness/trace/trace_queries.h"

namespace tcpfault {
namespace {

using St = TcpState;

TEST(TransitionsOf, FollowsTheSocketBackToItsPortlessStartOnly) {
  const SockAddr client{Address::parse("198.18.1.1"), 40000}, server{Address::parse("198.18.2.1"), 8080};
  const SockAddr portless{client.addr, 0};
  const std::uint64_t id = 0x1000;
  std::vector<Event> events;
  // emplace_back builds the variant in place: moving a temporary Event holding a
  // TransitionEvent makes GCC 12 at -O3 warn that the SegmentEvent it does not hold may be
  // read uninitialised (a false -Wmaybe-uninitialized inside std::variant's move).
  auto step = [&](std::int64_t t, const SockAddr& local, St from, St to) {
    events.emplace_back(TransitionEvent{t, Host::Client, local, server, id, from, to, "tracepoint"});
  };
  step(1, portless, St::CLOSED, St::SYN_SENT);
  step(2, client, St::SYN_SENT, St::ESTABLISHED);
  step(3, client, St::ESTABLISHED, St::FIN_WAIT1);
  step(4, client, St::FIN_WAIT1, St::FIN_WAIT2);
  step(5, client, St::FIN_WAIT2, St::TIME_WAIT);  // the full socket is freed here
  // connect()s that failed before choosing a port (EADDRNOTAVAIL), in the freed socket's
  // memory: the kernel reuses the address, they are not this socket's.
  step(6, portless, St::CLOSED, St::SYN_SENT);
  step(7, portless, St::SYN_SENT, St::CLOSED);
  step(8, portless, St::CLOSED, St::SYN_SENT);
  step(9, portless, St::SYN_SENT, St::CLOSED);
  const auto mine = transitions_of(events, SocketRef{Host::Client, FourTuple{client, server}});
  std::vector<St> to;
  for (const auto& t : mine) to.push_back(t.to);
  EXPECT_EQ(to, (std::vector<St>{St::SYN_SENT, St::ESTABLISHED, St::FIN_WAIT1, St::FIN_WAIT2, St::TIME_WAIT}));
}

TEST(TransitionsOf, FollowsAnAcceptedSocketBackToItsStepBeforeItKnewItsPeer) {
  const SockAddr client{Address::parse("198.18.1.1"), 40000}, server{Address::parse("198.18.2.1"), 8080};
  const SockAddr nobody{Address::parse("0.0.0.0"), 0};
  const std::uint64_t listener = 0x1000, child = 0x2000, later = 0x3000;
  std::vector<Event> events;
  auto step = [&](std::int64_t t, std::uint64_t id, const SockAddr& remote, St from, St to) {
    events.emplace_back(TransitionEvent{t, Host::Server, server, remote, id, from, to, "tracepoint"});
  };
  step(1, listener, nobody, St::CLOSED, St::LISTEN);
  step(2, child, nobody, St::LISTEN, St::SYN_RECV);  // the clone, before its addresses
  step(3, child, client, St::SYN_RECV, St::ESTABLISHED);
  step(4, child, client, St::ESTABLISHED, St::CLOSE_WAIT);
  // Another socket on the port whose next step does not go on from its addressless one.
  step(5, later, nobody, St::LISTEN, St::SYN_RECV);
  step(6, later, client, St::ESTABLISHED, St::FIN_WAIT1);
  const auto mine = transitions_of(events, SocketRef{Host::Server, FourTuple{server, client}});
  std::vector<St> to;
  for (const auto& t : mine) to.push_back(t.to);
  EXPECT_EQ(to, (std::vector<St>{St::SYN_RECV, St::ESTABLISHED, St::CLOSE_WAIT, St::FIN_WAIT1}));
}

}  // namespace
}  // namespace tcpfault
