// The wire-inferred states against the kernel's own transitions (the state tracepoint)
// on live closes: every state the kernel's socket passed through, in order, must be the
// one the wire shows for that end, and the other way round.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/scenario.h"
#include "harness/tests/scenario_test.h"
#include "harness/wire_states.h"

namespace tcpfault {
namespace {

using enum TcpState;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 8080;

// The kernel's transitions for the socket of `host` with this 4-tuple, in time order:
// the tracepoint's, and the TIME_WAIT step the observer completes from sock_diag.
std::vector<TransitionEvent> kernel_steps(const Trace& trace, Host host, const FourTuple& t) {
  trace.refresh();
  std::vector<TransitionEvent> out;
  for (const auto& e : trace.other_events())
    if (const auto* tr = std::get_if<TransitionEvent>(&e))
      if (tr->host == host && tr->local == t.local && tr->remote == t.remote)
        out.push_back(*tr);
  return out;
}

std::string kernel_text(const std::vector<TransitionEvent>& steps, std::int64_t origin) {
  std::string out;
  for (const auto& s : steps)
    out += "  " + to_string(s.from) + " -> " + to_string(s.to) + " at +" +
           std::to_string((s.t_ns - origin) / 1000) + " us (" + s.source + ")\n";
  return out;
}

class WireStatesLive : public ScenarioTest {
 protected:
  void SetUp() override {
    ScenarioTest::SetUp();
    listener.emplace(s->server().listen(s->server_at(kPort)));
    client.emplace(s->client().connect(s->server_at(kPort)));
    s->expect_ok(client->connect_result());
    server.emplace(listener->accept());
  }

  // Each end's inferred states against the kernel's, for one connection.
  void compare() {
    const auto inferred = infer_wire_states(s->trace());
    ASSERT_EQ(inferred.size(), 1u);
    const auto& c = inferred.front();
    const auto origin = s->trace().start_ns();
    for (const auto* conn : {&*client, &*server}) {
      const InferredEnd& e = conn->host() == Host::Client ? c.opener : c.acceptor;
      ASSERT_EQ(e.addr, conn->tuple().local);
      const auto kernel = kernel_steps(s->trace(), conn->host(), conn->tuple());
      std::vector<TcpState> from_kernel;
      for (const auto& k : kernel) from_kernel.push_back(k.to);
      std::vector<TcpState> from_wire;
      for (const auto& st : e.steps) from_wire.push_back(st.to);
      std::string wire_text, kernel_seq, wire_seq;
      for (auto st : from_kernel) kernel_seq += to_string(st) + " ";
      for (auto st : from_wire) wire_seq += to_string(st) + " ";
      EXPECT_EQ(wire_seq, kernel_seq) << to_string(conn->host() == Host::Client ? WireEnd::Opener : WireEnd::Acceptor)
                                      << ": the wire and the kernel disagree\nkernel:\n"
                                      << kernel_text(kernel, origin) << "wire:\n"
                                      << describe(c, origin);
    }
  }

  std::optional<Listener> listener;
  std::optional<Connection> client, server;
};

TEST_P(WireStatesLive, FourWayClose) {
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got));  // the EOF
  s->expect_ok(server->close());
  s->expect_transitions(*server, {LAST_ACK, CLOSED});
  s->expect_state(client->ref(), TIME_WAIT);
  compare();
}

TEST_P(WireStatesLive, FinalAckLost) {
  s->faults().add(drop(Match().role(FINAL_ACK).sent_by(Host::Client)).once());
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got));
  s->expect_ok(server->close());
  s->expect_segments(Match().role(FIN | RETRANSMISSION).sent_by(Host::Server), 1, 5000ms);
  s->expect_transitions(*server, {LAST_ACK, CLOSED}, 5000ms);
  compare();
}

TEST_P(WireStatesLive, FirstFinLost) {
  s->faults().add(drop(Match().role(FIN).sent_by(Host::Client)).once());
  s->expect_ok(client->close());
  std::string got;
  s->expect_ok(server->recv(got, 65536, 5000ms));  // the EOF, from the retransmitted FIN
  s->expect_ok(server->close());
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
