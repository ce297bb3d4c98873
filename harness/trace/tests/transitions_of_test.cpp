// transitions_of: one socket's recorded steps, found by its 4-tuple and, for its first
// step (recorded before connect() chose a port), by the kernel's socket identity.
#include <gtest/gtest.h>

#include <vector>

#include "harness/scenario/expect.h"

namespace tcpfault {
namespace {

using St = TcpState;

TEST(TransitionsOf, FollowsTheSocketBackToItsPortlessStartOnly) {
  const SockAddr client{Address::parse("198.18.1.1"), 40000}, server{Address::parse("198.18.2.1"), 8080};
  const SockAddr portless{client.addr, 0};
  const std::uint64_t id = 0x1000;
  std::vector<Event> events;
  auto step = [&](std::int64_t t, const SockAddr& local, St from, St to) {
    events.push_back(TransitionEvent{t, Host::Client, local, server, id, from, to, "tracepoint"});
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

}  // namespace
}  // namespace tcpfault
