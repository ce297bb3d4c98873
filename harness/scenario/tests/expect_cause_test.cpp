// Expectations that can no longer be met fail at once and name what ended the socket,
// on live topologies; and those that can still be met wait as before.
#include <gtest/gtest.h>

#include <chrono>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"

namespace tcpfault {
namespace {

using enum TcpState;
using namespace std::chrono_literals;


// The first line of a failure, and how long the expectation took to give it.
struct Failure {
  std::string first_line;
  std::chrono::milliseconds took{0};
};

template <class F>
Failure failure_of(F&& expectation) {
  const auto start = Clock::now();
  try {
    expectation();
  } catch (const ExpectationFailed& e) {
    const std::string message = e.what();
    return {message.substr(0, message.find('\n')),
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
  }
  ADD_FAILURE() << "the expectation was met";
  return {};
}

class ExpectCauseTest : public ConnectionTest {
 protected:
  // The client aborts (SO_LINGER {on, 0}): its RST resets the server.
  void reset_by_client() {
    s->expect_ok(client->set_linger(true, 0));
    s->expect_ok(client->close());
    s->expect_state(*server, CLOSED);
  }
};

TEST_P(ExpectCauseTest, AStateAResetSocketCannotReachFailsAtOnceNamingTheRst) {
  open();
  reset_by_client();
  auto f = failure_of([&] { s->expect_state(*server, CLOSE_WAIT, 3000ms); });
  EXPECT_LT(f.took, 1000ms);
  EXPECT_NE(f.first_line.find("in CLOSE_WAIT within 3000 ms: the socket is gone, reset by the RST from the client at +"),
            std::string::npos)
      << f.first_line;
  EXPECT_NE(f.first_line.find("(ESTABLISHED -> CLOSED at +"), std::string::npos) << f.first_line;
}

TEST_P(ExpectCauseTest, ResetWhileWaitingFailsAsSoonAsItHappens) {
  open();
  // The RST comes while the expectation waits: crafted by the middlebox at the server's rcv_nxt.
  s->faults().add(inject_on(Match().role(DATA).sent_by(Host::Client),
                            Inject{.segment = Craft{.toward = Host::Server, .flags = tcp_flag::RST},
                                   .drop_trigger = true})
                      .once());
  s->expect_ok(client->send("doomed"));
  auto f = failure_of([&] { s->expect_state(*server, CLOSE_WAIT, 3000ms); });
  EXPECT_LT(f.took, 1000ms);
  EXPECT_NE(f.first_line.find("reset by the RST from the middlebox at +"), std::string::npos) << f.first_line;
  EXPECT_NE(f.first_line.find("(injected: crafted by rule #1)"), std::string::npos) << f.first_line;
}

TEST_P(ExpectCauseTest, TransitionsOfAResetSocketFailAtOnce) {
  open();
  reset_by_client();
  auto f = failure_of([&] { s->expect_transitions(*server, {CLOSE_WAIT, LAST_ACK}, 3000ms); });
  EXPECT_LT(f.took, 1000ms);
  EXPECT_NE(f.first_line.find("passes CLOSE_WAIT -> LAST_ACK within 3000 ms: the socket is gone, reset by the RST "
                              "from the client"),
            std::string::npos)
      << f.first_line;
  // The aborting end names its own RST.
  f = failure_of([&] { s->expect_transitions(*client, {FIN_WAIT1, FIN_WAIT2}, 3000ms); });
  EXPECT_LT(f.took, 1000ms);
  EXPECT_NE(f.first_line.find("the socket is gone, aborted: it sent an RST at +"), std::string::npos) << f.first_line;
}

TEST_P(ExpectCauseTest, ARefusedConnectNamesTheRstAndTheErrno) {
  auto refused = s->client().connect(s->server_at(9));  // nobody listens there
  s->expect_error(refused.connect_result(), ECONNREFUSED);
  auto f = failure_of([&] { s->expect_state(refused, ESTABLISHED, 3000ms); });
  EXPECT_LT(f.took, 1000ms);
  EXPECT_NE(f.first_line.find("reset by the RST from the server at +"), std::string::npos) << f.first_line;
  EXPECT_NE(f.first_line.find("(SYN_SENT -> CLOSED at +"), std::string::npos) << f.first_line;
  EXPECT_NE(f.first_line.find("; connect(" + s->server_at(9).str() + ") failed with ECONNREFUSED at +"),
            std::string::npos)
      << f.first_line;
}

// Control: without evidence that the socket ended, an expectation waits its deadline.
TEST_P(ExpectCauseTest, ASocketNotThereYetIsWaitedFor) {
  open();
  SocketRef never{Host::Server, {s->server_at(kPort), s->client_at(1)}};
  auto f = failure_of([&] { s->expect_state(never, ESTABLISHED, 300ms); });
  EXPECT_GE(f.took, 300ms);
  EXPECT_EQ(f.first_line.find("the socket is gone"), std::string::npos) << f.first_line;
}

// Control: a state that is still to come is still waited for.
TEST_P(ExpectCauseTest, AnOrdinaryCloseStillPasses) {
  open();
  s->faults().add(delay(Match().role(FIN).sent_by(Host::Client), 200ms).once());
  s->expect_ok(client->close());
  s->expect_state(*server, CLOSE_WAIT, 3000ms);  // after the delay
  s->expect_ok(s->close_after_acking_fin(*server));
  s->expect_transitions(*server, {CLOSE_WAIT, LAST_ACK, CLOSED});
  s->expect_state(*client, TIME_WAIT);
}

INSTANTIATE_TEST_SUITE_P(Families, ExpectCauseTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace tcpfault
