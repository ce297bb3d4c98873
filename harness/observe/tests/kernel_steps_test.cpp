// KernelSteps on hand-made BPF records: one identity per connection life across its
// request socket, full socket and minisocket; no step from a state to itself but the
// orphan's handover; request ends by their cause.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "harness/observe/kernel_steps.h"

namespace tcpfault {
namespace {

using enum TcpState;

constexpr std::uint32_t kNetns = 4026532000u;

state_event record(std::uint8_t kind, std::uint64_t object, std::uint64_t t, int from, int to,
                   std::uint8_t why = 0) {
  state_event e{};
  e.kind = kind;
  e.object = object;
  e.t_ns = t;
  e.from = static_cast<std::uint8_t>(from);
  e.to = static_cast<std::uint8_t>(to);
  e.why = why;
  e.netns = kNetns;
  e.family = 2;
  const std::uint8_t server[4] = {198, 18, 2, 1}, client[4] = {198, 18, 1, 1};
  std::memcpy(e.local, server, 4);
  std::memcpy(e.remote, client, 4);
  e.local_port = 8080;
  e.remote_port = 40000;
  return e;
}

class KernelStepsTest : public ::testing::Test {
 protected:
  KernelSteps steps{[this](const Transition& t) { got.push_back(t); }};
  std::vector<Transition> got;

  void add(std::uint8_t kind, std::uint64_t object, std::uint64_t t, TcpState from, TcpState to,
           std::uint8_t why = 0) {
    steps.add(record(kind, object, t, static_cast<int>(from), static_cast<int>(to), why));
  }
};

TEST_F(KernelStepsTest, RequestSocketBecomesTheFullSocket) {
  add(SE_REQ_NEW, 0x100, 10, LISTEN, SYN_RECV);
  add(SE_STATE, 0x200, 20, LISTEN, SYN_RECV);  // the child, on the handshake's ACK
  add(SE_STATE, 0x200, 21, SYN_RECV, ESTABLISHED);
  add(SE_REQ_END, 0x100, 30, SYN_RECV, CLOSED);  // freed after accept(): not an end
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, LISTEN);
  EXPECT_EQ(got[0].to, SYN_RECV);
  EXPECT_EQ(got[0].mono_ns, 10);
  EXPECT_EQ(got[0].netns, kNetns);
  EXPECT_NE(got[0].source.find("request socket"), std::string::npos);
  EXPECT_EQ(got[1].to, ESTABLISHED);
  EXPECT_EQ(got[1].socket, 0x100u) << "the child goes on with the request's identity";
  EXPECT_EQ(steps.followed(), 1u);  // the child, until it closes
  add(SE_STATE, 0x200, 40, ESTABLISHED, CLOSED);
  EXPECT_EQ(got.back().socket, 0x100u);
  EXPECT_EQ(steps.followed(), 0u);
}

TEST_F(KernelStepsTest, RequestEndsByRstBackToListenElseClosed) {
  add(SE_REQ_NEW, 0x100, 10, LISTEN, SYN_RECV);
  add(SE_REQ_END, 0x100, 20, SYN_RECV, CLOSED, SE_END_RST);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].from, SYN_RECV);
  EXPECT_EQ(got[1].to, LISTEN);
  EXPECT_NE(got[1].source.find("an RST from the peer"), std::string::npos) << got[1].source;
  add(SE_REQ_NEW, 0x300, 30, LISTEN, SYN_RECV);
  add(SE_REQ_END, 0x300, 40, SYN_RECV, CLOSED, SE_END_TIMER);
  EXPECT_EQ(got.back().to, CLOSED);
  EXPECT_NE(got.back().source.find("SYN-ACK timer"), std::string::npos) << got.back().source;
  EXPECT_EQ(steps.followed(), 0u);
}

TEST_F(KernelStepsTest, HandoverToTimeWaitThenRst) {
  add(SE_STATE, 0x200, 10, ESTABLISHED, FIN_WAIT1);
  add(SE_STATE, 0x200, 11, FIN_WAIT1, FIN_WAIT2);
  add(SE_TW_NEW, 0x900, 20, CLOSED, TIME_WAIT);
  add(SE_STATE, 0x200, 21, FIN_WAIT2, CLOSED);  // the full socket's end: the handover
  add(SE_TW_END, 0x900, 22, TIME_WAIT, CLOSED, SE_END_RST);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].from, FIN_WAIT2);
  EXPECT_EQ(got[2].to, TIME_WAIT);
  EXPECT_EQ(got[2].mono_ns, 20) << "dated when the minisocket was hashed";
  EXPECT_EQ(got[3].from, TIME_WAIT);
  EXPECT_EQ(got[3].to, CLOSED);
  EXPECT_EQ(got[3].mono_ns, 22);
  EXPECT_EQ(got[3].socket, 0x200u) << "the minisocket goes on with the full socket's identity";
  EXPECT_NE(got[3].source.find("timewait minisocket"), std::string::npos);
  EXPECT_EQ(steps.followed(), 0u);
}

TEST_F(KernelStepsTest, OrphanHandoverIsNoNewStateItsTimeWaitIs) {
  add(SE_STATE, 0x200, 11, FIN_WAIT1, FIN_WAIT2);
  add(SE_TW_NEW, 0x900, 20, CLOSED, FIN_WAIT2);
  add(SE_STATE, 0x200, 21, FIN_WAIT2, CLOSED);
  add(SE_TW_SUBSTATE, 0x900, 30, FIN_WAIT2, TIME_WAIT);
  add(SE_TW_END, 0x900, 40, TIME_WAIT, CLOSED, SE_END_TIMER);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].from, FIN_WAIT2);
  EXPECT_EQ(got[1].to, FIN_WAIT2) << "the observer writes this one as a note";
  EXPECT_EQ(got[2].from, FIN_WAIT2);
  EXPECT_EQ(got[2].to, TIME_WAIT);
  EXPECT_EQ(got[2].mono_ns, 30);
  EXPECT_EQ(got[2].socket, 0x200u);
  EXPECT_NE(got[3].source.find("60 s"), std::string::npos) << got[3].source;
}

TEST_F(KernelStepsTest, NoBucketPlainClose) {
  // tcp_max_tw_buckets reached: no minisocket, the socket just closes.
  add(SE_STATE, 0x200, 11, FIN_WAIT1, FIN_WAIT2);
  add(SE_STATE, 0x200, 21, FIN_WAIT2, CLOSED);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].to, CLOSED);
  EXPECT_EQ(got[1].source, "bpf: inet_sock_set_state");
}

TEST_F(KernelStepsTest, FreedAddressStartsANewLife) {
  add(SE_REQ_NEW, 0x100, 10, LISTEN, SYN_RECV);
  add(SE_STATE, 0x200, 20, LISTEN, SYN_RECV);
  add(SE_STATE, 0x200, 30, SYN_RECV, CLOSED);  // reset right away
  add(SE_STATE, 0x200, 40, CLOSED, SYN_SENT);  // its memory, a new socket
  EXPECT_EQ(got.back().socket, 0x200u);
}

}  // namespace
}  // namespace tcpfault
