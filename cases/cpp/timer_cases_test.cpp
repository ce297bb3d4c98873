// TM1 and TM4 of the catalogue (docs/cases.md) on the C++ API, IPv4 and IPv6, each with
// a control run that must fail the case's core assertion. Twins of cases/test_timers.py.
#include <cerrno>

#include "cases/cpp/case_support.h"
#include "harness/scenario/timer_settings.h"

namespace tcpfault::cases {
namespace {

class Timers : public FamilyCase {};

const std::string kPayload(1000, 'x');

// TM1 with the kernel's defaults: one data segment lost three times is sent again on the
// schedule the harness computes from the connection's own RTO (a tail loss probe, then
// the timer, doubling); the fourth copy is delivered intact. A broken stack would not
// back off, or retransmit too early or too late. (The Python twin documents the probe.)
TEST_P(Timers, TM1_DataRetransmission) {
  Scenario s(options("TM1"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  auto server = listener.accept();
  Schedule schedule = retransmission_schedule(s, client.ref()).first(4);
  s.faults().add(drop(Match().role(DATA).sent_by(Host::Client)).count(3));

  s.expect_ok(client.send(kPayload));
  std::string received;
  s.expect_ok(server.recv_exactly(received, kPayload.size()));
  EXPECT_EQ(received, kPayload);
  s.expect_schedule(Match().role(DATA).sent_by(Host::Client), schedule);
  s.expect_segments(Match().role(DATA | RETRANSMISSION).sent_by(Host::Client), 3);
}

// Control: a schedule without the probe (timer retransmissions only) must fail against
// the kernel's default, and say which interval is off.
TEST_P(Timers, TM1_Control_TimerOnlyScheduleFails) {
  Scenario s(options("TM1-control"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  auto server = listener.accept();
  Schedule timer_only = retransmission_schedule(RtoRetries{.rto = s.tcp_info(client.ref())->rto()}).first(4);
  s.faults().add(drop(Match().role(DATA).sent_by(Host::Client)).count(3));
  s.expect_ok(client.send(kPayload));
  std::string received;
  s.expect_ok(server.recv_exactly(received, kPayload.size()));
  std::string message = failure_of([&] { s.expect_schedule(Match().role(DATA).sent_by(Host::Client), timer_only); });
  EXPECT_NE(message.find("expected: 4 x DATA from client"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     4 x DATA from client; off: retransmission 2"), std::string::npos) << message;
}

// TM4 peer rebooted (RFC 9293 3.10.7.1): the server's socket is destroyed and its RST
// lost, so the client is not told; its next data is answered with an RST and its recv
// fails with ECONNRESET. A broken stack would accept the data or ignore the RST.
TEST_P(Timers, TM4_PeerRebooted) {
  Scenario s(options("TM4"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  auto server = listener.accept();
  s.destroy_silently(server.ref());
  s.expect_state(client, ESTABLISHED);

  s.expect_ok(client.send("are you there?"));
  std::string ignored;
  s.expect_error(client.recv(ignored), ECONNRESET);
  s.expect_transitions(client, {ESTABLISHED, CLOSED});
  s.expect_segments(Match().with_flags(tcp_flag::RST).sent_by(Host::Server), 2);  // the lost one, the answer
}

// Control: with the destroyed socket's RST let through (another rule acts on it first),
// destroy_silently must say so.
TEST_P(Timers, TM4_Control_RstLetThroughFails) {
  Scenario s(options("TM4-control"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  auto server = listener.accept();
  s.faults().add(delay(Match().with_flags(tcp_flag::RST).sent_by(Host::Server), 0ms));
  std::string message = failure_of([&] { s.destroy_silently(server.ref()); });
  EXPECT_NE(message.find("is lost in the middlebox"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     an RST "), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Families, Timers, ::testing::Values(Family::V4, Family::V6), family_name);

}  // namespace
}  // namespace tcpfault::cases
