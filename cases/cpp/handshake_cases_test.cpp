// HS1 and HS5 of the catalogue (docs/cases.md), on IPv4 and IPv6, each with a
// control run that must fail the case's core assertion.
#include <cerrno>

#include "cases/cpp/case_support.h"

namespace tcpfault::cases {
namespace {

class Handshake : public FamilyCase {};

// HS1 three-way handshake (RFC 9293 3.5). Holding the handshake ACK 300 ms shows the
// server's request socket in SYN_RECV while the client is already ESTABLISHED; after
// the ACK is let go both ends are ESTABLISHED. A broken stack would create the full
// socket (or accept) before the handshake completes.
TEST_P(Handshake, HS1_ThreeWayHandshake) {
  Scenario s(options("HS1"));
  auto listener = s.server().listen(s.server_at(kPort));
  s.faults().add(delay(Match().role(HANDSHAKE_ACK).sent_by(Host::Client), 300ms).once());

  auto client = s.client().connect(s.server_at(kPort));
  s.expect_ok(client.connect_result());
  s.expect_state(client, ESTABLISHED);
  s.expect_state(client.peer(), SYN_RECV, 250ms);

  auto server = listener.accept(2000ms);
  s.expect_state(server, ESTABLISHED);
  s.expect_transitions(client, {SYN_SENT, ESTABLISHED});
  s.expect_transitions(server, {SYN_RECV, ESTABLISHED});
  s.expect_segments(Match().role(SYN).sent_by(Host::Client), 1);
  s.expect_segments(Match().role(SYN_ACK).sent_by(Host::Server), 1);
  s.expect_segments(Match().role(HANDSHAKE_ACK).sent_by(Host::Client), 1);
}

// Control: with no hold the request socket is gone at once; HS1's SYN_RECV
// observation must fail.
TEST_P(Handshake, HS1_Control_NoHoldFailsTheCase) {
  Scenario s(options("HS1-control"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  s.expect_ok(client.connect_result());
  auto server = listener.accept();
  std::string message = failure_of([&] { s.expect_state(client.peer(), SYN_RECV, 200ms); });
  EXPECT_NE(message.find("expected: SYN_RECV"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     ESTABLISHED"), std::string::npos) << message;
}

// HS5 connect to a port nobody listens on (RFC 9293 3.10.7.1: a closed port answers a
// SYN with RST-ACK). The client gets ECONNREFUSED and is CLOSED. A broken stack would
// stay silent (the client would time out) or leave the socket in SYN_SENT.
TEST_P(Handshake, HS5_ConnectToClosedPort) {
  Scenario s(options("HS5"));
  auto client = s.client().connect(s.server_at(kPort));
  s.expect_error(client.connect_result(), ECONNREFUSED);
  s.expect_segments(Match().with_flags(tcp_flag::RST | tcp_flag::ACK).sent_by(Host::Server), 1);
  s.expect_transitions(client, {SYN_SENT, CLOSED});
  s.expect_state(client, CLOSED);
}

// Control: with a listener on the port the connect succeeds, and HS5's errno
// assertion fails saying what it expected.
TEST_P(Handshake, HS5_Control_ListenerFailsTheCase) {
  Scenario s(options("HS5-control"));
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  std::string message = failure_of([&] { s.expect_error(client.connect_result(), ECONNREFUSED); });
  EXPECT_NE(message.find("expected: ECONNREFUSED"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     connect("), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Families, Handshake, ::testing::Values(Family::V4, Family::V6), family_name);

}  // namespace
}  // namespace tcpfault::cases
