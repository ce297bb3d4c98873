#include "harness/observe/sock_diag.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <future>

#include "harness/testing/observe_lab.h"
#include "netns/error.h"

namespace tcpfault {
namespace {

using namespace observe_lab;

TEST(TcpStateNames, RoundTripAndForeignSpellings) {
  for (int i = 1; i <= 12; ++i) {
    auto s = static_cast<TcpState>(i);
    EXPECT_EQ(state_from_name(to_string(s)), s) << to_string(s);
  }
  EXPECT_EQ(to_string(TcpState::CLOSED), "CLOSED");
  EXPECT_EQ(state_from_name("TCP_CLOSE"), TcpState::CLOSED);
  EXPECT_EQ(state_from_name("UNCONN"), TcpState::CLOSED);
  EXPECT_EQ(state_from_name("FIN-WAIT-1"), TcpState::FIN_WAIT1);
  EXPECT_EQ(state_from_name("TIME-WAIT"), TcpState::TIME_WAIT);
  EXPECT_EQ(state_from_name("estab"), TcpState::ESTABLISHED);
  EXPECT_EQ(state_from_name("TCP_NEW_SYN_RECV"), TcpState::NEW_SYN_RECV);
  EXPECT_EQ(state_from_name("SYN-RECEIVED"), TcpState::SYN_RECV);
  EXPECT_EQ(state_from_name("BOGUS"), std::nullopt);
}

struct Ends {
  SockAddr server, client;  // port 0: picked by the kernel
};

Ends ends_for(Family f) {
  if (f == Family::V4) return {{Address::parse("198.18.250.1"), 0}, {Address::parse("198.18.250.2"), 0}};
  return {{Address::parse("2001:2:0:fa::1"), 0}, {Address::parse("2001:2:0:fa::2"), 0}};
}

class SockDiagTest : public ::testing::TestWithParam<Family> {
 protected:
  SockDiagTest()
      : ns_(make_namespace("sockdiag", {"198.18.250.1", "198.18.250.2", "2001:2:0:fa::1",
                                        "2001:2:0:fa::2"})),
        diag_(ns_),
        ends_(ends_for(GetParam())) {}

  struct Connection {
    UniqueFd client, server;
    FourTuple client_tuple, server_tuple;
  };

  Connection connect_through(int listener) {
    Connection c;
    c.client = tcp_connect(ns_, ends_.client, local_of(listener));
    c.server = accept_one(listener);
    c.client_tuple = tuple_of(c.client.get());
    c.server_tuple = tuple_of(c.server.get());
    return c;
  }

  bool found_as(const FourTuple& t, TcpState state, bool timewait) {
    auto s = diag_.find(t);
    return s && s->state == state && s->timewait_sock == timewait;
  }

  netns::Namespace ns_;
  SockDiag diag_;
  Ends ends_;
};

TEST_P(SockDiagTest, SeesTheListenerAndBothEstablishedEnds) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  const SockAddr listening = local_of(listener.get());
  Connection c = connect_through(listener.get());

  bool listed = false;
  for (const auto& s : diag_.list(GetParam()))
    if (s.tuple.local == listening && s.state == TcpState::LISTEN) {
      listed = true;
      EXPECT_TRUE(s.full_sock());
      EXPECT_NE(s.inode, 0u);
      EXPECT_EQ(s.tuple.remote.port, 0);
    }
  EXPECT_TRUE(listed) << "no LISTEN socket on " << listening.str();

  for (const FourTuple& t : {c.client_tuple, c.server_tuple}) {
    auto s = diag_.find(t);
    ASSERT_TRUE(s) << t.str();
    EXPECT_EQ(s->state, TcpState::ESTABLISHED) << t.str();
    EXPECT_TRUE(s->full_sock());
    EXPECT_NE(s->inode, 0u);
    EXPECT_NE(s->cookie, 0u);
    EXPECT_EQ(s->tuple, t);
  }
}

TEST_P(SockDiagTest, ActiveCloserEndsInATimewaitMinisocket) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  Connection c = connect_through(listener.get());

  c.client.reset();
  EXPECT_EQ(recv_result(c.server.get()), 0) << "the server should see the client's FIN";
  c.server.reset();

  EXPECT_TRUE(eventually([&] { return found_as(c.client_tuple, TcpState::TIME_WAIT, true); }));
  auto tw = diag_.find(c.client_tuple);
  ASSERT_TRUE(tw);
  EXPECT_EQ(tw->timer, 3) << "timewait timer";
  EXPECT_EQ(tw->inode, 0u);
  EXPECT_GT(tw->timer_expires_ms, 0u);
  EXPECT_TRUE(eventually([&] { return !diag_.find(c.server_tuple); }))
      << "the passive closer should be gone after LAST_ACK";
}

TEST_P(SockDiagTest, OrphanedFinWait2IsAMinisocketButAHalfClosedOneIsFull) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  Connection half = connect_through(listener.get());
  Connection orphan = connect_through(listener.get());

  ASSERT_EQ(::shutdown(half.client.get(), SHUT_WR), 0);
  orphan.client.reset();

  EXPECT_TRUE(eventually([&] { return found_as(half.client_tuple, TcpState::FIN_WAIT2, false); }));
  EXPECT_NE(diag_.find(half.client_tuple)->inode, 0u);
  EXPECT_TRUE(eventually([&] { return found_as(orphan.client_tuple, TcpState::FIN_WAIT2, true); }));
  EXPECT_EQ(diag_.find(orphan.client_tuple)->inode, 0u);
  EXPECT_TRUE(found_as(orphan.server_tuple, TcpState::CLOSE_WAIT, false));
}

// TCP_DEFER_ACCEPT makes the listener drop the bare handshake ACK and keep the
// request socket, so the client is ESTABLISHED while the server still has SYN_RECV.
TEST_P(SockDiagTest, SeesARequestSocketHeldByDeferAccept) {
  UniqueFd listener = tcp_listen(ns_, ends_.server, /*defer_accept_s=*/30);
  UniqueFd client = tcp_connect(ns_, ends_.client, local_of(listener.get()));
  const FourTuple client_tuple = tuple_of(client.get());

  EXPECT_TRUE(found_as(client_tuple, TcpState::ESTABLISHED, false));
  auto req = diag_.find(client_tuple.reversed());
  ASSERT_TRUE(req) << "no request socket for " << client_tuple.reversed().str();
  EXPECT_TRUE(req->request_sock);
  EXPECT_FALSE(req->timewait_sock);
  EXPECT_EQ(req->state, TcpState::NEW_SYN_RECV);
  EXPECT_EQ(req->timer, 1) << "SYN-ACK retransmit timer";
  EXPECT_EQ(req->inode, 0u);
}

TEST_P(SockDiagTest, DestroyResetsAnEstablishedSocket) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  Connection c = connect_through(listener.get());

  try {
    diag_.destroy(c.client_tuple);
  } catch (const SystemError& e) {
    if (e.code() == EOPNOTSUPP) GTEST_SKIP() << e.what();
    throw;
  }
  EXPECT_EQ(recv_result(c.server.get()), -ECONNRESET);
  EXPECT_EQ(recv_result(c.client.get()), -ECONNABORTED);
  EXPECT_FALSE(diag_.find(c.client_tuple));
}

// Clearing TIME_WAIT and pending handshakes between cases: minisockets can go too.
TEST_P(SockDiagTest, DestroyRemovesTimewaitAndRequestSockets) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  Connection c = connect_through(listener.get());
  c.client.reset();
  ASSERT_EQ(recv_result(c.server.get()), 0);
  c.server.reset();
  ASSERT_TRUE(eventually([&] { return found_as(c.client_tuple, TcpState::TIME_WAIT, true); }));

  UniqueFd deferring = tcp_listen(ns_, ends_.server, /*defer_accept_s=*/30);
  UniqueFd client = tcp_connect(ns_, ends_.client, local_of(deferring.get()));
  const FourTuple request = tuple_of(client.get()).reversed();
  ASSERT_TRUE(diag_.find(request) && diag_.find(request)->request_sock);

  try {
    diag_.destroy(c.client_tuple);
    diag_.destroy(request);
  } catch (const SystemError& e) {
    if (e.code() == EOPNOTSUPP) GTEST_SKIP() << e.what();
    throw;
  }
  EXPECT_FALSE(diag_.find(c.client_tuple));
  EXPECT_FALSE(diag_.find(request));
}

TEST_P(SockDiagTest, DestroyOfAnUnknownTupleSaysNoSuchSocket) {
  SockAddr nowhere = ends_.server;
  nowhere.port = 9;
  try {
    diag_.destroy({ends_.client, nowhere});
    FAIL() << "destroy of a socket that does not exist succeeded";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.code(), ENOENT) << e.what();
  }
}

TEST_P(SockDiagTest, UsableFromAnotherThread) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  const SockAddr listening = local_of(listener.get());
  auto listed = std::async(std::launch::async, [&] { return diag_.find({listening, {Address::any(GetParam()), 0}}); });
  auto s = listed.get();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state, TcpState::LISTEN);
}

// find() asks the kernel's hash lookup, find_all() walks a dump: they must agree, the
// listener's own tuple included, and a peer the listener never met is no socket at all
// (the lookup falls back to the listener of the local address, which is not it).
TEST_P(SockDiagTest, FindByLookupAgreesWithTheDump) {
  UniqueFd listener = tcp_listen(ns_, ends_.server);
  const SockAddr listening = local_of(listener.get());
  Connection c = connect_through(listener.get());
  Connection closed = connect_through(listener.get());
  closed.client.reset();
  EXPECT_EQ(recv_result(closed.server.get()), 0);
  closed.server.reset();
  EXPECT_TRUE(eventually([&] { return found_as(closed.client_tuple, TcpState::TIME_WAIT, true); }));

  SockAddr stranger = ends_.client;
  stranger.port = 9;
  for (const FourTuple& t : {FourTuple{listening, {Address::any(GetParam()), 0}}, c.client_tuple, c.server_tuple,
                             closed.client_tuple, FourTuple{listening, stranger}}) {
    auto one = diag_.find(t);
    auto all = diag_.find_all(t);
    ASSERT_EQ(one.has_value(), !all.empty()) << t.str();
    if (!one) continue;
    EXPECT_EQ(one->tuple, t);
    EXPECT_EQ(one->state, all.front().state) << t.str();
    EXPECT_EQ(one->timewait_sock, all.front().timewait_sock) << t.str();
    EXPECT_EQ(one->cookie, all.front().cookie) << t.str();
  }
  EXPECT_FALSE(diag_.find({listening, stranger}));
}

INSTANTIATE_TEST_SUITE_P(Families, SockDiagTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

// A dual-stack listener accepts IPv4 as v4-mapped IPv6; it is reported as on the wire.
TEST(SockDiagDualStack, ReportsV4MappedSocketsWithIPv4Addresses) {
  auto ns = make_namespace("sockdiag-dual", {"198.18.250.1", "198.18.250.2"});
  SockDiag diag(ns);
  UniqueFd listener = tcp_listen(ns, {Address::any(Family::V6), 0});
  const std::uint16_t port = local_of(listener.get()).port;
  UniqueFd client = tcp_connect(ns, {Address::parse("198.18.250.2"), 0},
                                {Address::parse("198.18.250.1"), port});
  UniqueFd server = accept_one(listener.get());
  const FourTuple server_side = tuple_of(client.get()).reversed();

  auto s = diag.find(server_side);
  ASSERT_TRUE(s) << server_side.str();
  EXPECT_EQ(s->state, TcpState::ESTABLISHED);
  EXPECT_EQ(s->tuple.local.addr.family, Family::V4);
  bool in_v4_list = false;
  for (const auto& x : diag.list(Family::V4)) in_v4_list |= x.tuple == server_side;
  EXPECT_TRUE(in_v4_list);
  for (const auto& x : diag.list(Family::V6)) EXPECT_NE(x.tuple, server_side);
}

}  // namespace
}  // namespace tcpfault
