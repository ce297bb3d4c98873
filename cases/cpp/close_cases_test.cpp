// CL1, CL2, CL3 and CL5 of the catalogue (docs/cases.md), on IPv4 and IPv6, each
// with a control run that must fail the case's core assertion.
#include <sys/socket.h>

#include "cases/cpp/case_support.h"

namespace tcpfault::cases {
namespace {

class Close : public FamilyCase {};

struct Pair {
  Listener listener;
  Connection client, server;
};

// Client connects to the server's listener; both ends established.
Pair open_connection(Scenario& s) {
  auto listener = s.server().listen(s.server_at(kPort));
  auto client = s.client().connect(s.server_at(kPort));
  s.expect_ok(client.connect_result());
  auto server = listener.accept();
  return {std::move(listener), std::move(client), std::move(server)};
}

// CL1 four-way close (RFC 9293 3.6, figure 12). The active closer passes FIN_WAIT1 ->
// FIN_WAIT2 -> TIME_WAIT, the passive closer CLOSE_WAIT -> LAST_ACK -> CLOSED.
// A broken stack would skip TIME_WAIT or leave the passive side in LAST_ACK.
TEST_P(Close, CL1_FourWayClose) {
  Scenario s(options("CL1"));
  auto [listener, client, server] = open_connection(s);

  s.expect_ok(client.close());
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_ok(s.close_after_acking_fin(server));

  s.expect_transitions(client, {FIN_WAIT1, FIN_WAIT2, TIME_WAIT});
  s.expect_transitions(server, {CLOSE_WAIT, LAST_ACK, CLOSED});
  s.expect_state(client, TIME_WAIT);
  s.expect_segments(Match().role(FIN).sent_by(Host::Client), 1);
  s.expect_segments(Match().role(FIN).sent_by(Host::Server), 1);
  s.expect_segments(Match().role(FINAL_ACK).sent_by(Host::Client), 1);
  s.expect_no_segment(Match().with_flags(tcp_flag::RST));
}

// Control: an abortive close (SO_LINGER {on, 0}) never passes FIN_WAIT1 -> FIN_WAIT2
// -> TIME_WAIT; CL1's assertion must say so.
TEST_P(Close, CL1_Control_AbortiveCloseFailsTheCase) {
  Scenario s(options("CL1-control"));
  auto [listener, client, server] = open_connection(s);
  s.expect_ok(client.set_linger(true, 0));
  s.expect_ok(client.close());
  std::string message = failure_of([&] {
    s.expect_transitions(client, {FIN_WAIT1, FIN_WAIT2, TIME_WAIT}, 1000ms);
  });
  EXPECT_NE(message.find("expected: FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     SYN_SENT -> ESTABLISHED -> CLOSED"), std::string::npos) << message;
}

// CL2 the final ACK is lost (RFC 9293 3.6: TIME_WAIT exists to re-acknowledge a
// retransmitted FIN). The passive closer stays in LAST_ACK, retransmits its FIN after
// its RTO; the active closer, in TIME_WAIT, ACKs it again; no RST anywhere. A stack
// without TIME_WAIT answers the second FIN with an RST (see the control below).
TEST_P(Close, CL2_FinalAckLost) {
  Scenario s(options("CL2"));
  auto [listener, client, server] = open_connection(s);
  s.faults().add(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once());

  s.expect_ok(client.close());
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_ok(s.close_after_acking_fin(server));

  s.expect_transitions(server, {CLOSE_WAIT, LAST_ACK, CLOSED}, 5000ms);
  s.expect_state(client, TIME_WAIT);
  s.expect_segments(Match().role(FIN).sent_by(Host::Server), 2);
  s.expect_segments(Match().role(FIN | RETRANSMISSION).sent_by(Host::Server), 1);
  s.expect_segments(Match().role(FINAL_ACK).sent_by(Host::Client), 2);
  s.expect_no_segment(Match().with_flags(tcp_flag::RST));
}

// CL2's control: with tcp_max_tw_buckets = 0 the active closer keeps no TIME_WAIT
// socket, so the retransmitted FIN finds nothing and is answered with an RST.
TEST_P(Close, CL2_NoTimeWaitBucketsAnswersTheSecondFinWithRst) {
  Scenario s(options("CL2-no-tw-buckets"));
  s.set_sysctl(Host::Client, "net.ipv4.tcp_max_tw_buckets", "0");
  auto [listener, client, server] = open_connection(s);
  s.faults().add(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once());

  // A half-close keeps the client a full socket: an orphan in FIN_WAIT2 with no
  // timewait bucket is destroyed as soon as its FIN is acknowledged, before the
  // server's FIN could be answered by anything but an RST.
  s.expect_ok(client.shutdown(SHUT_WR));
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_ok(s.close_after_acking_fin(server));

  s.expect_segments(Match().role(FIN | RETRANSMISSION).sent_by(Host::Server), 1, 5000ms);
  s.expect_segments(Match().with_flags(tcp_flag::RST).sent_by(Host::Client), 1);
  s.expect_transitions(server, {LAST_ACK, CLOSED});
  s.expect_state(client, CLOSED);
  s.expect_counter(Host::Client, "TcpExt.TCPTimeWaitOverflow", 1);
}

// Verdict power: without the fault there is no retransmitted FIN, and CL2's
// assertion fails saying it expected two FINs and saw one.
TEST_P(Close, CL2_Control_NoFaultFailsTheCase) {
  Scenario s(options("CL2-control"));
  auto [listener, client, server] = open_connection(s);
  s.expect_ok(client.close());
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_ok(s.close_after_acking_fin(server));
  s.expect_transitions(server, {LAST_ACK, CLOSED});

  std::string message = failure_of([&] {
    s.expect_segments(Match().role(FIN).sent_by(Host::Server), 2, 1500ms);
  });
  EXPECT_NE(message.find("expectation failed: 2 x FIN from server"), std::string::npos) << message;
  EXPECT_NE(message.find("expected: exactly 2"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     1"), std::string::npos) << message;
  EXPECT_NE(message.find("ladder of CL2-control"), std::string::npos) << message;
  std::cout << "CL2 control failure message, as a user sees it:\n" << message << "\n";
}

// CL3 the first FIN is lost (RFC 9293 3.10.7.4: FIN occupies sequence space and is
// retransmitted). The active closer retransmits it and stays in FIN_WAIT1 until it is
// acknowledged. A broken stack would move to FIN_WAIT2 without an ACK of its FIN, or
// never retransmit.
TEST_P(Close, CL3_FirstFinLost) {
  Scenario s(options("CL3"));
  auto [listener, client, server] = open_connection(s);
  s.faults().add(drop(Match().role(FIN).sent_by(Host::Client)).once());

  s.expect_ok(client.close());
  Match retransmitted_fin = Match().role(FIN | RETRANSMISSION).sent_by(Host::Client);
  s.expect_segments(retransmitted_fin, 1, 5000ms);
  s.expect_stays_until(client.ref(), FIN_WAIT1, retransmitted_fin);
  s.expect_transitions(client, {FIN_WAIT1, FIN_WAIT2});
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_segments(Match().role(FIN).sent_by(Host::Client), 2);
}

// Control: with the FIN delivered the first time there is no retransmission.
TEST_P(Close, CL3_Control_NoFaultFailsTheCase) {
  Scenario s(options("CL3-control"));
  auto [listener, client, server] = open_connection(s);
  s.expect_ok(client.close());
  s.expect_transitions(client, {FIN_WAIT1, FIN_WAIT2});
  std::string message = failure_of([&] {
    s.expect_segments(Match().role(FIN | RETRANSMISSION).sent_by(Host::Client), 1, 1000ms);
  });
  EXPECT_NE(message.find("expected: exactly 1"), std::string::npos) << message;
  EXPECT_NE(message.find("seen:     0"), std::string::npos) << message;
}

// CL5 simultaneous close (RFC 9293 3.6, figure 13). The middlebox holds the client's
// FIN until the server's FIN is seen, so the FINs cross: both ends pass FIN_WAIT1 ->
// CLOSING -> TIME_WAIT. A broken stack would treat the peer's FIN as an ACK of its own.
TEST_P(Close, CL5_SimultaneousClose) {
  Scenario s(options("CL5"));
  auto [listener, client, server] = open_connection(s);
  s.faults().add(hold(Match().role(FIN).sent_by(Host::Client),
                      Hold{.until = Match().role(FIN).sent_by(Host::Server)}).once());

  s.expect_ok(client.close());
  s.expect_segments(Match().role(FIN).sent_by(Host::Client), 1);
  s.expect_ok(server.close());

  s.expect_transitions(client, {FIN_WAIT1, CLOSING, TIME_WAIT});
  s.expect_transitions(server, {FIN_WAIT1, CLOSING, TIME_WAIT});
  s.expect_state(client, TIME_WAIT);
  s.expect_state(server, TIME_WAIT);
  s.expect_no_segment(Match().with_flags(tcp_flag::RST));
}

// Control: without the hold the server sees the FIN first and closes passively.
TEST_P(Close, CL5_Control_SequentialCloseFailsTheCase) {
  Scenario s(options("CL5-control"));
  auto [listener, client, server] = open_connection(s);
  s.expect_ok(client.close());
  s.expect_state(server, CLOSE_WAIT);  // sock_diag: at once, so the close follows promptly
  s.expect_ok(s.close_after_acking_fin(server));
  std::string message = failure_of([&] {
    s.expect_transitions(server, {FIN_WAIT1, CLOSING, TIME_WAIT}, 1000ms);
  });
  EXPECT_NE(message.find("expected: FIN_WAIT1 -> CLOSING -> TIME_WAIT"), std::string::npos) << message;
  EXPECT_NE(message.find("CLOSE_WAIT -> LAST_ACK"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Families, Close, ::testing::Values(Family::V4, Family::V6), family_name);

}  // namespace
}  // namespace tcpfault::cases
