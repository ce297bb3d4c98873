// The wire-inferred states against the kernel's own transitions (the state tracepoint,
// completed by sock_diag) on live closes, through the comparison the suite-wide check
// uses: on these the two must agree step for step.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/scenario/scenario.h"
#include "harness/testing/scenario_test.h"
#include "harness/wire/wire_state_comparison.h"
#include "harness/wire/wire_states.h"

namespace tcpfault {
namespace {

using enum TcpState;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 8080;

class WireStatesLive : public ScenarioTest {
 protected:
  void SetUp() override {
    ScenarioTest::SetUp();
    listener.emplace(s->server().listen(s->server_at(kPort)));
    client.emplace(s->client().connect(s->server_at(kPort)));
    s->expect_ok(client->connect_result());
    server.emplace(listener->accept());
  }

  // Each end's inferred states against the kernel's, for one connection: every state the
  // kernel's socket passed through, in order, is the one the wire shows, and the other
  // way round (wire_state_comparison.h aligns them).
  void compare() {
    const auto inferred = infer_wire_states(s->trace());
    ASSERT_EQ(inferred.size(), 1u);
    const auto result = compare_wire_states(s->states(), s->trace(), 2000ms);
    ASSERT_EQ(result.connections.size(), 1u);
    const auto& c = result.connections.front();
    EXPECT_EQ(c.opener.local, client->tuple().local);
    EXPECT_EQ(c.acceptor.local, server->tuple().local);
    // Sockets of other topologies on the same addresses may show up (the tracepoint is
    // machine-wide): they are the comparison's business, not this connection's.
    EXPECT_EQ(c.opener.disagreements() + c.acceptor.disagreements(), 0u)
        << "the wire and the kernel disagree:\n"
        << result.describe(s->trace().start_ns()) << "wire:\n"
        << describe(inferred.front(), s->trace().start_ns());
    EXPECT_EQ(result.unexplained(), 0u) << result.describe(s->trace().start_ns());
    EXPECT_GE(c.opener.agreements(), 5u);
    EXPECT_GE(c.acceptor.agreements(), 5u);
  }

  std::optional<Listener> listener;
  std::optional<Connection> client, server;
};

TEST_P(WireStatesLive, FourWayClose) {
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got));  // the EOF
  s->expect_ok(s->close_after_acking_fin(*server));
  s->expect_transitions(*server, {LAST_ACK, CLOSED});
  s->expect_state(client->ref(), TIME_WAIT);
  compare();
}

TEST_P(WireStatesLive, FinalAckLost) {
  s->faults().add(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once());
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got));
  s->expect_ok(s->close_after_acking_fin(*server));
  s->expect_segments(Match().role(FIN | RETRANSMISSION).sent_by(Host::Server), 1, 5000ms);
  s->expect_transitions(*server, {LAST_ACK, CLOSED}, 5000ms);
  compare();
}

TEST_P(WireStatesLive, FirstFinLost) {
  s->faults().add(drop(Match().role(FIN).sent_by(Host::Client)).once());
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got, 65536, 5000ms));  // the EOF, from the retransmitted FIN
  s->expect_ok(s->close_after_acking_fin(*server));
  s->expect_transitions(*server, {LAST_ACK, CLOSED});
  s->expect_state(client->ref(), TIME_WAIT);
  compare();
}

TEST_P(WireStatesLive, SimultaneousClose) {
  s->faults().add(
      hold(Match().role(FIN).sent_by(Host::Client), Hold{.until = Match().role(FIN).sent_by(Host::Server)}).once());
  s->expect_ok(client->close());
  s->expect_segments(Match().role(FIN).sent_by(Host::Client), 1);  // held
  s->expect_ok(server->close());
  s->expect_transitions(*client, {FIN_WAIT1, CLOSING, TIME_WAIT});
  s->expect_transitions(*server, {FIN_WAIT1, CLOSING, TIME_WAIT});
  compare();
}

INSTANTIATE_TEST_SUITE_P(Families, WireStatesLive, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return info.param == Family::V4 ? "IPv4" : "IPv6"; });

}  // namespace
}  // namespace tcpfault
