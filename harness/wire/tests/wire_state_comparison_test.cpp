// The wire-inferred states against the kernel's record, on synthetic traces: the
// middlebox's segments from a Script (wire_script.h) and the kernel's steps, calls and
// notes written by hand as the observer would record them. Each disagreement must be put
// down to its cause, and what no rule explains must stay "unexplained".
#include "harness/wire/wire_state_comparison.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "harness/testing/wire_script.h"

namespace tcpfault {
namespace {

using Cause = DisagreementCause;
using namespace std::chrono_literals;

constexpr std::uint64_t kClientSocket = 0x1000, kServerSocket = 0x2000, kListener = 0x3000;

// The pieces of one comparison: a script's segments and the kernel's side.
struct Kernel {
  Script w;
  std::vector<TransitionEvent> steps;
  std::vector<CallEvent> calls;
  std::vector<NoteEvent> notes;

  Kernel() { listener(); }

  // A step of the client's (or the server's) socket at `t_us` microseconds.
  void client(St from, St to, std::int64_t t_us, std::string source = "tracepoint", std::uint64_t socket = kClientSocket) {
    steps.push_back({t_us * 1000, Host::Client, w.addr(C), w.addr(S), socket, from, to, std::move(source)});
  }
  void server(St from, St to, std::int64_t t_us, std::string source = "tracepoint", std::uint64_t socket = kServerSocket) {
    steps.push_back({t_us * 1000, Host::Server, w.addr(S), w.addr(C), socket, from, to, std::move(source)});
  }
  void listener() {
    steps.push_back({1, Host::Server, w.addr(S), SockAddr{w.addr(S).addr, 0}, kListener, St::CLOSED, St::LISTEN,
                     "tracepoint"});
  }
  // The kernel's steps of an open: the client's before its SYN (row 1), the server's child
  // when the handshake ACK (row 3) arrives.
  void opened() {
    client(St::CLOSED, St::SYN_SENT, 900);
    client(St::SYN_SENT, St::ESTABLISHED, 2100);
    server(St::LISTEN, St::SYN_RECV, 3100);
    server(St::SYN_RECV, St::ESTABLISHED, 3100);
  }

  WireStateComparison compare() {
    std::stable_sort(steps.begin(), steps.end(), [](auto& a, auto& b) { return a.t_ns < b.t_ns; });
    return compare_wire_states(ComparisonInput{w.segments, steps, calls, notes, 0});
  }
};

// Every disagreeing step of the comparison, "kernel-only FIN_WAIT2 -> CLOSED: timer-gave-up".
std::vector<std::string> disagreements(const WireStateComparison& r) {
  std::vector<std::string> out;
  for (const auto* e : r.ends())
    for (const auto& s : e->steps)
      if (!s.agrees())
        out.push_back(to_string(s.agreement) + " " + to_string(s.from) + " -> " + to_string(s.to) + ": " +
                      (s.cause ? to_string(*s.cause) : "?"));
  return out;
}
using Lines = std::vector<std::string>;

// Everything explained, and each of `steps` among the disagreements, named as above.
void expect_explained_with(const WireStateComparison& r, const Lines& steps) {
  EXPECT_EQ(r.unexplained(), 0u) << r.describe();
  const auto named = disagreements(r);
  for (const auto& step : steps)
    EXPECT_NE(std::find(named.begin(), named.end(), step), named.end()) << step << "\n" << r.describe();
}

const AlignedStep* find_step(const WireStateComparison& r, St from, St to) {
  for (const auto* e : r.ends())
    for (const auto& s : e->steps)
      if (s.from == from && s.to == to && !s.agrees()) return &s;
  return nullptr;
}

TEST(WireStateComparison, FourWayCloseAgreesStepByStep) {
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);  // row 4
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 6100, "tracepoint; timewait minisocket seen by sock_diag");
  k.server(St::LAST_ACK, St::CLOSED, 7100);
  const auto r = k.compare();
  ASSERT_EQ(r.connections.size(), 1u);
  EXPECT_TRUE(r.kernel_only_sockets.empty());  // the listener is not a connection
  EXPECT_EQ(r.agreements(), 10u) << r.describe();
  EXPECT_EQ(r.disagreements(), 0u) << r.describe();
  EXPECT_EQ(r.connections[0].opener.kernel_sockets, 1u);
  EXPECT_EQ(r.connections[0].opener.steps[4].kernel_t_ns, 6'100'000);
  EXPECT_EQ(r.connections[0].opener.steps[4].wire_segment, 6u);
}

TEST(WireStateComparison, StepsThatChangeNoStateAreLeftOut) {
  // shutdown() then close() sets FIN_WAIT1 twice; an orphan's full socket hands over to
  // its FIN_WAIT2 minisocket: neither is a step.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT1, 4500);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::FIN_WAIT2, 5200, "tracepoint; timewait minisocket seen by sock_diag");
  const auto r = k.compare();
  EXPECT_EQ(r.disagreements(), 0u) << r.describe();
  EXPECT_EQ(r.agreements(), 7u) << r.describe();
}

TEST(WireStateComparison, RequestSocketThatNeverBecameFull) {
  // HS4: the handshake ACK is lost; the server's request socket has no state events.
  Kernel k;
  k.w.add(C, "S", 0, 0);
  k.w.add(S, "S.", 0, 1);
  k.w.add(C, ".", 1, 1, 0, "dropped by rule #1");
  k.client(St::CLOSED, St::SYN_SENT, 900);
  k.client(St::SYN_SENT, St::ESTABLISHED, 2100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"wire-only LISTEN -> SYN_RECV: request-socket"}) << r.describe();
  EXPECT_EQ(r.connections[0].acceptor.kernel_sockets, 0u);
  EXPECT_EQ(r.unexplained(), 0u);
}

TEST(WireStateComparison, ConnectThatFailedBeforeItsSyn) {
  // TW3: the port range is used up; connect() fails with EADDRNOTAVAIL, nothing leaves.
  Kernel k;
  TransitionEvent open{1'000'000, Host::Client, SockAddr{k.w.addr(C).addr, 0}, k.w.addr(S), 0x4000,
                       St::CLOSED, St::SYN_SENT, "tracepoint"};
  k.steps.push_back(open);
  open.t_ns = 1'100'000, open.from = St::SYN_SENT, open.to = St::CLOSED;
  k.steps.push_back(open);
  const auto foreign = k.compare();
  ASSERT_EQ(foreign.kernel_only_sockets.size(), 1u);
  // Without the failed call, no call of this scenario made it.
  EXPECT_EQ(disagreements(foreign), (Lines{"kernel-only CLOSED -> SYN_SENT: foreign-socket",
                                           "kernel-only SYN_SENT -> CLOSED: foreign-socket"}));
  k.calls.push_back({1'200'000, 500'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", -1, EADDRNOTAVAIL});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"kernel-only CLOSED -> SYN_SENT: connect-failed-locally",
                                     "kernel-only SYN_SENT -> CLOSED: connect-failed-locally"}));
  EXPECT_NE(r.kernel_only_sockets[0].steps[0].explanation.find("EADDRNOTAVAIL"), std::string::npos);
}

TEST(WireStateComparison, RetransmissionTimerGivingUpSendsNothing) {
  // TM2: the peer is gone; the client's data is never acknowledged.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.w.wait(200);
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.w.wait(400);
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.opened();
  k.client(St::ESTABLISHED, St::CLOSED, 1'500'000);
  k.notes.push_back({0, "sysctl client net.ipv4.tcp_retries2 = 2"});
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSED: timer-gave-up"}) << r.describe();
  const auto& why = find_step(r, St::ESTABLISHED, St::CLOSED)->explanation;
  EXPECT_NE(why.find("3 segment(s)"), std::string::npos) << why;
  EXPECT_NE(why.find("3 dropped"), std::string::npos) << why;
  EXPECT_NE(why.find("tcp_retries2 = 2 on the client"), std::string::npos) << why;
}

TEST(WireStateComparison, AnsweredSegmentsAreNoTimer) {
  // The same step after the peer answered: no timer explains it.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100);
  k.w.add(S, ".", 1, 101);
  k.opened();
  k.client(St::ESTABLISHED, St::CLOSED, 10'000);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSED: unexplained"}) << r.describe();
  EXPECT_EQ(r.unexplained(), 1u);
}

TEST(WireStateComparison, OrphanFinWait2Timeout) {
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::FIN_WAIT2, 5200, "tracepoint; timewait minisocket seen by sock_diag");
  k.client(St::FIN_WAIT2, St::CLOSED, 2'005'000, "sock_diag (timewait minisocket)");
  k.notes.push_back({0, "sysctl client net.ipv4.tcp_fin_timeout = 2"});
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only FIN_WAIT2 -> CLOSED: orphan-fin-wait2-timeout"}) << r.describe();
  EXPECT_NE(find_step(r, St::FIN_WAIT2, St::CLOSED)->explanation.find("tcp_fin_timeout = 2 on the client"),
            std::string::npos);
}

// Rows 1-3 the handshake, 4-7 the client's FIN, its ACK, the server's FIN, the final ACK.
void closed_by_the_client(Script& w) {
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);
}

TEST(WireStateComparison, OrphanMinisocketWhoseTimeWaitCameAndWentBetweenTwoLooks) {
  // DT5: the orphan's minisocket took the peer's FIN (TIME_WAIT), then an RST at rcv_nxt
  // ended it, all before the observer looked again: it saw it gone.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.w.add(S, "R", 2, 0);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::FIN_WAIT2, 5200, "tracepoint; timewait minisocket seen by sock_diag");
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.server(St::LAST_ACK, St::CLOSED, 7100);
  k.client(St::FIN_WAIT2, St::CLOSED, 9000, "sock_diag (timewait minisocket)");
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only FIN_WAIT2 -> TIME_WAIT: minisocket-polled",
                                     "wire-only TIME_WAIT -> CLOSED: minisocket-polled",
                                     "kernel-only FIN_WAIT2 -> CLOSED: minisocket-polled"}))
      << r.describe();
}

TEST(WireStateComparison, NoTimeWaitBucketAndTheHostAnsweringAsAStranger) {
  // CL2 without TIME_WAIT (tcp_max_tw_buckets = 0): the client closes instead; the
  // server's FIN again then meets no socket, and the client's host answers with an RST.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2, 0, "dropped by rule #1");
  k.w.wait(200);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, "R", 2, 0);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 4900);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::CLOSED, 5100);
  k.server(St::LAST_ACK, St::CLOSED, 208'100);
  k.notes.push_back({0, "sysctl client net.ipv4.tcp_max_tw_buckets = 0"});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only FIN_WAIT2 -> TIME_WAIT: time-wait-not-kept",
                                     "kernel-only FIN_WAIT2 -> CLOSED: time-wait-not-kept",
                                     "wire-only TIME_WAIT -> CLOSED: socket-gone"}))
      << r.describe();
  EXPECT_NE(find_step(r, St::FIN_WAIT2, St::TIME_WAIT)->explanation.find("tcp_max_tw_buckets = 0 on the client"),
            std::string::npos);
}

TEST(WireStateComparison, TimeWaitEndedByAnRstHasNoKernelStep) {
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.w.inject(C, "R", 2, 0);  // at the client's rcv_nxt: tcp_rfc1337 = 0 ends TIME_WAIT
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 4900);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 5100, "tracepoint; timewait minisocket seen by sock_diag");
  k.server(St::LAST_ACK, St::CLOSED, 6100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"wire-only TIME_WAIT -> CLOSED: time-wait-end-unrecorded"}) << r.describe();
}

TEST(WireStateComparison, TheExactObserverRecordsTheTimeWaitAnRstEnds) {
  // The same with the BPF observer: its TIME_WAIT -> CLOSED is the wire's.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.w.inject(C, "R", 2, 0);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900, "bpf: inet_sock_set_state");
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100, "bpf: inet_sock_set_state");
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 4900, "bpf: inet_sock_set_state");
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100, "bpf: inet_sock_set_state");
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 5100, "bpf: handed to a timewait minisocket (tcp_time_wait)");
  k.server(St::LAST_ACK, St::CLOSED, 6100, "bpf: inet_sock_set_state");
  k.client(St::TIME_WAIT, St::CLOSED, 6300, "bpf: timewait minisocket ended by an RST from the peer");
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{}) << r.describe();
}

TEST(WireStateComparison, AnExactMinisocketEndIsNeverPutDownToPolling) {
  // Had the BPF observer seen an orphan's minisocket end without its TIME_WAIT, that
  // would be a bug to report, not the fallback's polling.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.w.add(S, "R", 2, 0);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.server(St::LAST_ACK, St::CLOSED, 7100);
  k.client(St::FIN_WAIT2, St::CLOSED, 9000, "bpf: timewait minisocket ended by an RST from the peer");
  const auto r = k.compare();
  for (const auto& line : disagreements(r)) EXPECT_EQ(line.find("minisocket-polled"), std::string::npos) << line;
}

TEST(WireStateComparison, ATimeWaitTakenOverByConnect) {
  // TW3: connect() from the same port takes over the TIME_WAIT (tcp_tw_reuse): the
  // kernel ends the minisocket without a segment; the wire shows no end of it.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 4900);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 5100, "bpf: handed to a timewait minisocket (tcp_time_wait)");
  k.server(St::LAST_ACK, St::CLOSED, 6100);
  k.client(St::TIME_WAIT, St::CLOSED, 1'000'200,
           "bpf: timewait minisocket ended by no segment: a connect() took over its 4-tuple (tcp_tw_reuse), or "
           "its namespace went away");
  k.calls.push_back({1'000'400'000, 500'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", 0, 0});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only TIME_WAIT -> CLOSED: time-wait-taken-over"}) << r.describe();
}

TEST(WireStateComparison, SocketsOfOtherTopologiesAreForeign) {
  Kernel k;
  k.w.handshake();
  k.opened();
  // An earlier topology's orphan in the same address slot, closing in its namespace.
  k.server(St::LAST_ACK, St::CLOSED, 2500, "tracepoint", 0x5000);
  k.steps.back().remote.port = 51000;
  // A program on these addresses whose connection never crossed this middlebox.
  TransitionEvent other{3000'000, Host::Client, SockAddr{k.w.addr(C).addr, 51001}, k.w.addr(S), 0x6000,
                        St::CLOSED, St::SYN_SENT, "tracepoint"};
  k.steps.push_back(other);
  other.t_ns = 3100'000, other.from = St::SYN_SENT, other.to = St::ESTABLISHED;
  k.steps.push_back(other);
  k.calls.push_back({1000, 500, Host::Client, "connect(" + k.w.addr(S).str() + ")", 0, 0});  // names 8080
  const auto r = k.compare();
  ASSERT_EQ(r.kernel_only_sockets.size(), 2u);
  EXPECT_EQ(disagreements(r), (Lines{"kernel-only LAST_ACK -> CLOSED: foreign-socket",
                                     "kernel-only CLOSED -> SYN_SENT: foreign-socket",
                                     "kernel-only SYN_SENT -> ESTABLISHED: foreign-socket"}))
      << r.describe();
  EXPECT_NE(r.kernel_only_sockets[1].steps[0].explanation.find("the only path"), std::string::npos);
}

TEST(WireStateComparison, FinWaitingBehindUnacknowledgedData) {
  // HS4's control: close() with data nobody acknowledged; the FIN stays queued.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.w.wait(300);
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 100'000);
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> FIN_WAIT1: fin-not-sent"}) << r.describe();
  EXPECT_NE(find_step(r, St::ESTABLISHED, St::FIN_WAIT1)->explanation.find("100 unacknowledged"), std::string::npos);
}

TEST(WireStateComparison, AcksAfterTheEndWasResetDoNotEmptyItsSendQueue) {
  // DT5 under explore's rst@server.PURE_ACK.347: the client shuts down with data in flight,
  // an RST crafted at its rcv_nxt ends it, and the server, still taking what was in
  // flight, acknowledges all of it afterwards. When the client closed, its FIN waited.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100);    // row 4
  k.w.add(C, "P.", 101, 1, 100);  // row 5
  k.w.add(S, ".", 1, 101);        // row 6
  k.w.inject(C, "R", 1, 0);       // row 7, at +7 ms
  k.w.add(S, ".", 1, 201);        // row 8: all acknowledged, the client gone
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 5'500);
  k.client(St::FIN_WAIT1, St::CLOSED, 7'100);
  expect_explained_with(k.compare(), {"kernel-only ESTABLISHED -> FIN_WAIT1: fin-not-sent"});
}

TEST(WireStateComparison, AFinBehindDataNotSentYetStillWaitsWhenEverythingSentIsAcknowledged) {
  // DT5 under explore's rst@server.PURE_ACK.702 on lwIP: the client shuts down with data
  // in flight and more not sent yet; the server acknowledges all that was sent, and an
  // RST ends the client 0.3 ms later, before the rest of its queue and its FIN could leave.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100);  // row 4, at +4 ms
  k.w.add(S, ".", 1, 101);      // row 5: all that was sent is acknowledged
  k.w.inject(C, "R", 1, 0);     // row 6, at +6 ms
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 4'500);
  k.client(St::FIN_WAIT1, St::CLOSED, 6'100);
  auto r = k.compare();
  expect_explained_with(r, {"kernel-only ESTABLISHED -> FIN_WAIT1: fin-not-sent",
                            "kernel-only FIN_WAIT1 -> CLOSED: fin-not-sent", "wire-only ESTABLISHED -> CLOSED: fin-not-sent"});
  EXPECT_NE(find_step(r, St::ESTABLISHED, St::FIN_WAIT1)->explanation.find("100 byte(s) unacknowledged"),
            std::string::npos) << r.describe();
  // Everything acknowledged long before the end was gone: a FIN that never left is not explained.
  Kernel late;
  late.w.handshake();
  late.w.add(C, "P.", 1, 1, 100);
  late.w.add(S, ".", 1, 101);
  late.w.wait(300);
  late.w.inject(C, "R", 1, 0);  // at +306 ms
  late.opened();
  late.client(St::ESTABLISHED, St::FIN_WAIT1, 4'500);
  late.client(St::FIN_WAIT1, St::CLOSED, 306'100);
  EXPECT_GT(late.compare().unexplained(), 0u);
}

TEST(WireStateComparison, APeerFinBeforeTheEndsQueuedFinIsOneEndNamedFromTwoStates) {
  // DT5 under explore's swap@server.SYN_ACK.1 on lwIP: the client's FIN waits behind lost
  // data when the server's FIN comes. The kernel goes FIN_WAIT1 -> CLOSING, the wire, with
  // no FIN of the client's seen, ESTABLISHED -> CLOSE_WAIT.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");  // row 4, at +4 ms
  k.w.add(S, "F.", 1, 1);                             // row 5, at +5 ms
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 4'500);
  k.server(St::ESTABLISHED, St::FIN_WAIT1, 4'900);
  k.client(St::FIN_WAIT1, St::CLOSING, 5'100);
  expect_explained_with(k.compare(), {"kernel-only FIN_WAIT1 -> CLOSING: fin-not-sent",
                                      "wire-only ESTABLISHED -> CLOSE_WAIT: fin-not-sent"});
}

TEST(WireStateComparison, AResetAfterACloseWhoseFinWaitsIsOneEndNamedFromTwoStates) {
  // DT5 with its transfer reset (explore's rst@client.PURE_ACK.3 on lwIP): the client
  // closes with data unacknowledged, its FIN queued, and the server's RST ends it. The
  // kernel goes FIN_WAIT1 -> CLOSED, the wire, with no FIN seen, ESTABLISHED -> CLOSED.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.w.wait(300);
  k.w.add(C, "P.", 1, 1, 100);  // row 5, at +305 ms
  k.w.add(S, "R.", 1, 1);       // the server's connection is gone: it acknowledges nothing
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSED, 50'000);
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 100'000);
  k.client(St::FIN_WAIT1, St::CLOSED, 306'100);
  const auto r = k.compare();
  expect_explained_with(r, {"wire-only ESTABLISHED -> CLOSED: fin-not-sent", "kernel-only FIN_WAIT1 -> CLOSED: fin-not-sent"});
  // Without the FIN_WAIT1 before it, nothing pairs the two.
  k.steps.erase(std::find_if(k.steps.begin(), k.steps.end(), [](const auto& t) { return t.to == St::FIN_WAIT1; }));
  EXPECT_GT(k.compare().unexplained(), 0u);
}


TEST(WireStateComparison, SendsAreDatedWhenTheyReachedTheMiddleboxNotWhenItsLoopReadThem) {
  // DT5 under explore's rst@client.DATA.691 on the kernel: the client has closed with data
  // in flight, its FIN queued, and the server's host answers its data with an RST. The
  // verdict loop, busy with a burst, read the client's last segments 1 ms after they
  // arrived, after the RST had passed: the client had sent its FIN before that RST
  // reached it, and went FIN_WAIT1 -> CLOSED on it.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100);     // row 4
  k.w.inject(S, "R", 101, 0);      // row 5: crafted, as if from the client
  k.w.add(C, "P.", 101, 1, 100);   // row 6
  k.w.add(S, "R", 1, 0);           // row 7: the server's host has no socket for it
  const auto data = k.w.add(C, "P.", 201, 1, 100);  // row 8, arrived at +6.3 ms
  const auto fin = k.w.add(C, "FP.", 301, 1, 100);  // row 9, arrived at +6.6 ms
  k.w.segments[data - 1].queued_ns = 6'300'000;
  k.w.segments[fin - 1].queued_ns = 6'600'000;
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 4'500);
  k.server(St::ESTABLISHED, St::CLOSED, 5'100);
  k.client(St::FIN_WAIT1, St::CLOSED, 9'300);  // after the loop read the FIN, as in the capture
  const auto r = k.compare();
  EXPECT_EQ(r.unexplained(), 0u) << r.describe();
  EXPECT_EQ(find_step(r, St::FIN_WAIT1, St::CLOSED), nullptr) << r.describe();
  // Dated when the loop read them, the FIN comes after the RST the client took.
  k.w.segments[data - 1].queued_ns = k.w.segments[fin - 1].queued_ns = 0;
  const auto late = k.compare();
  EXPECT_GT(late.unexplained(), 0u) << late.describe();
}

TEST(WireStateComparison, AKernelTimeWaitEndedByItsTimerIsTimeWaitExpired) {
  // DT5 in a scenario that outlives TIME_WAIT (its second topology runs meanwhile): the
  // BPF observer sees the client's minisocket end 60 s after the close, nothing on the wire.
  Kernel k;
  closed_by_the_client(k.w);
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 6100, "bpf: timewait minisocket, the peer's FIN");
  k.server(St::LAST_ACK, St::CLOSED, 7100, "bpf: inet_sock_set_state");
  k.client(St::TIME_WAIT, St::CLOSED, 60'006'000, "bpf: timewait minisocket ended by its timer (TIME_WAIT's 60 s)");
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only TIME_WAIT -> CLOSED: time-wait-expired"}) << r.describe();
  EXPECT_NE(find_step(r, St::TIME_WAIT, St::CLOSED)->explanation.find("the kernel's TIME_WAIT timer ran out"),
            std::string::npos);
}

TEST(WireStateComparison, WhatNoRuleExplainsStaysUnexplained) {
  // The kernel's server saw a FIN the middlebox never did.
  Kernel k;
  k.w.handshake();
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 5000);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSE_WAIT: unexplained"});
  EXPECT_EQ(r.unexplained(), 1u);
  EXPECT_NE(r.describe().find("unexplained: no rule explains the kernel's ESTABLISHED -> CLOSE_WAIT"),
            std::string::npos)
      << r.describe();
}

TEST(WireStateComparison, SocketsOnAReusedTupleGoToTheirOwnConnections) {
  // The same 4-tuple twice, the kernel giving the second socket the first one's address,
  // and a connect() between them that failed (EADDRINUSE) before a SYN.
  Kernel k;
  k.w.handshake();
  k.w.add(S, "R.", 1, 1);  // row 4: the first connection reset
  k.w.wait(10);
  k.w.new_isns(900'000, 5'000'000);
  k.w.add(C, "S", 0, 0);  // row 5, at 15 ms: the second
  k.w.add(S, "S.", 0, 1);
  k.w.add(C, ".", 1, 1);
  k.opened();
  k.client(St::ESTABLISHED, St::CLOSED, 4100);
  k.server(St::ESTABLISHED, St::CLOSED, 3900);
  k.client(St::CLOSED, St::SYN_SENT, 8000, "tracepoint", kClientSocket + 1);
  k.client(St::SYN_SENT, St::CLOSED, 8100, "tracepoint", kClientSocket + 1);
  k.calls.push_back({8'200'000, 500'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", -1, EADDRINUSE});
  k.client(St::CLOSED, St::SYN_SENT, 14'900);  // the first socket's address again
  k.client(St::SYN_SENT, St::ESTABLISHED, 16'100);
  k.server(St::LISTEN, St::SYN_RECV, 17'100, "tracepoint", kServerSocket + 1);
  k.server(St::SYN_RECV, St::ESTABLISHED, 17'100, "tracepoint", kServerSocket + 1);
  const auto r = k.compare();
  ASSERT_EQ(r.connections.size(), 2u);
  EXPECT_EQ(r.connections[0].opener.agreements(), 3u) << r.describe();
  EXPECT_EQ(r.connections[1].opener.agreements(), 2u) << r.describe();
  EXPECT_EQ(r.connections[1].acceptor.agreements(), 2u) << r.describe();
  ASSERT_EQ(r.kernel_only_sockets.size(), 1u) << r.describe();
  EXPECT_EQ(disagreements(r), (Lines{"kernel-only CLOSED -> SYN_SENT: connect-failed-locally",
                                     "kernel-only SYN_SENT -> CLOSED: connect-failed-locally"}));
}

TEST(WireStateComparison, SettlingWaitsOnlyWhileSomethingIsUnexplained) {
  Kernel k;
  k.w.handshake();
  k.opened();
  Trace explained("explained");
  for (auto s : k.w.segments) explained.add_segment(s);
  for (auto t : k.steps) explained.add(t);
  auto start = Clock::now();
  EXPECT_EQ(compare_wire_states(explained, 10s).disagreements(), 0u);
  EXPECT_LT(Clock::now() - start, 5s);  // no wait at all

  Trace open_question("unexplained");
  for (auto s : k.w.segments) open_question.add_segment(s);
  for (auto t : k.steps) open_question.add(t);
  open_question.add(TransitionEvent{5'000'000, Host::Server, k.w.addr(S), k.w.addr(C), kServerSocket,
                                    St::ESTABLISHED, St::CLOSE_WAIT, "tracepoint"});
  start = Clock::now();
  EXPECT_EQ(compare_wire_states(open_question, 50ms).unexplained(), 1u);
  EXPECT_GE(Clock::now() - start, 50ms);  // waited for a FIN that never came
}

// ---- an agent's side: its state events are its only record ----

// A comparison whose `side` is run by an agent (target "gvisor"): that side's steps are
// the agent's state events (socket id 0, source "agent state event"), the other side's
// the kernel's.
struct AgentSide : Kernel {
  Host side;
  explicit AgentSide(Host agent_side = Host::Server) : side(agent_side) {
    steps.clear();
    if (side == Host::Server)
      steps.push_back({1, Host::Server, w.addr(S), SockAddr{w.addr(S).addr, 0}, 0, St::CLOSED, St::LISTEN,
                       kAgentStateEvent});
    else
      listener();
  }
  void stack(St from, St to, std::int64_t t_us) {
    if (side == Host::Server) server(from, to, t_us, kAgentStateEvent, 0);
    else client(from, to, t_us, kAgentStateEvent, 0);
  }
  // Both ends' steps of an open, each from its own record.
  void opened() {
    open_client();
    open_server();
  }
  void open_client() {
    const std::string src = side == Host::Client ? kAgentStateEvent : "tracepoint";
    const std::uint64_t id = side == Host::Client ? 0 : kClientSocket;
    client(St::CLOSED, St::SYN_SENT, 900, src, id);
    client(St::SYN_SENT, St::ESTABLISHED, 2100, src, id);
  }
  void open_server() {
    const std::string src = side == Host::Server ? kAgentStateEvent : "tracepoint";
    const std::uint64_t id = side == Host::Server ? 0 : kServerSocket;
    server(St::LISTEN, St::SYN_RECV, 1100, src, id);
    server(St::SYN_RECV, St::ESTABLISHED, 3100, src, id);
  }
  // The kernel's side's step.
  void kernel(St from, St to, std::int64_t t_us) {
    if (side == Host::Server) client(from, to, t_us);
    else server(from, to, t_us);
  }
  WireStateComparison compare() {
    std::stable_sort(steps.begin(), steps.end(), [](auto& a, auto& b) { return a.t_ns < b.t_ns; });
    ComparisonInput in{w.segments, steps, calls, notes, 0};
    in.agents[side] = "gvisor";
    return compare_wire_states(in);
  }
};

TEST(WireStateComparisonAgent, TheAgentsSideIsNeverCompletedFromTheKernel) {
  // HS1 on gVisor: sock_diag of the agent's namespace has no socket for its connection,
  // and a fill-in from it ("ESTABLISHED -> CLOSED") is none of the agent's.
  AgentSide k;
  k.w.handshake();
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSED, 9000, "sock_diag (no tracepoint event arrived for this step)", 0x7000);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{}) << r.describe();
  EXPECT_EQ(r.agreements(), 4u) << r.describe();
  EXPECT_EQ(r.connections[0].acceptor.stack, "gvisor");
  EXPECT_EQ(r.connections[0].opener.stack, "kernel");
  EXPECT_TRUE(r.connections[0].acceptor.agent());
}

TEST(WireStateComparisonAgent, AnAgentsSynSentDatedAfterItsSynIsStillItsConnections) {
  // lwIP reports SYN_SENT once tcp_connect() has sent the SYN: the event comes after it.
  AgentSide k(Host::Client);
  k.w.handshake();
  k.client(St::CLOSED, St::SYN_SENT, 1200, kAgentStateEvent, 0);
  k.client(St::SYN_SENT, St::ESTABLISHED, 2100, kAgentStateEvent, 0);
  k.open_server();
  const auto r = k.compare();
  EXPECT_TRUE(r.kernel_only_sockets.empty()) << r.describe();
  EXPECT_EQ(disagreements(r), Lines{}) << r.describe();
}

TEST(WireStateComparisonAgent, AnAgentsEventsMakeItsHostAnAgentsUnlisted) {
  // Without the target (a trace alone), an "agent state event" step says whose side it is.
  AgentSide k;
  k.w.handshake();
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSED, 9000, "sock_diag (no tracepoint event arrived for this step)", 0x7000);
  std::stable_sort(k.steps.begin(), k.steps.end(), [](auto& a, auto& b) { return a.t_ns < b.t_ns; });
  const auto r = compare_wire_states(ComparisonInput{k.w.segments, k.steps, {}, {}, 0});
  EXPECT_EQ(disagreements(r), Lines{}) << r.describe();
  EXPECT_EQ(r.connections[0].acceptor.stack, "agent");
}

TEST(WireStateComparisonAgent, TheReportNamesTheStack) {
  AgentSide k;
  k.w.handshake();
  k.opened();
  k.stack(St::ESTABLISHED, St::CLOSE_WAIT, 5000);  // a FIN the middlebox never saw
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSE_WAIT: unexplained"});
  const std::string text = r.describe();
  EXPECT_NE(text.find("gvisor-only ESTABLISHED -> CLOSE_WAIT  gvisor +5.000 ms (agent state event)"),
            std::string::npos) << text;
  EXPECT_NE(text.find("no rule explains the gvisor stack's ESTABLISHED -> CLOSE_WAIT"), std::string::npos) << text;
}

// The agent's client closes first and ends in TIME_WAIT (rows 4-7).
void client_closes_into_time_wait(AgentSide& k) {
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);  // row 4
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);   // row 7
  k.opened();
  k.stack(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.kernel(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.stack(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.kernel(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.stack(St::FIN_WAIT2, St::TIME_WAIT, 6100);
  k.kernel(St::LAST_ACK, St::CLOSED, 7100);
}

TEST(WireStateComparisonAgent, TimeWaitRunningOut) {
  // TW1 on an agent: its 2 x MSL timer ends TIME_WAIT with no segment.
  AgentSide k(Host::Client);
  client_closes_into_time_wait(k);
  k.stack(St::TIME_WAIT, St::CLOSED, 60'006'100);
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only TIME_WAIT -> CLOSED: time-wait-expired"}) << r.describe();
  const auto& why = find_step(r, St::TIME_WAIT, St::CLOSED)->explanation;
  EXPECT_NE(why.find("60.000 s after it entered TIME_WAIT"), std::string::npos) << why;
}

TEST(WireStateComparisonAgent, TimeWaitEndedRightAfterASegmentIsNoTimer) {
  // Something for the 4-tuple reached it (a FIN again, its ACK lost): not a timer alone.
  AgentSide k(Host::Client);
  client_closes_into_time_wait(k);
  k.w.wait(1000);
  k.w.add(S, "F.", 1, 2);
  k.stack(St::TIME_WAIT, St::CLOSED, 1'008'100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only TIME_WAIT -> CLOSED: unexplained"}) << r.describe();
}

TEST(WireStateComparisonAgent, TimeWaitTakenOverByANewSyn) {
  // TW7 on an agent server: it closed first; a new SYN on the 4-tuple ends its TIME_WAIT.
  AgentSide k;
  k.w.handshake();
  k.w.add(S, "F.", 1, 1);  // row 4
  k.w.add(C, ".", 1, 2);
  k.w.add(C, "F.", 1, 2);
  k.w.add(S, ".", 2, 2);   // row 7
  k.w.wait(100);
  k.w.new_isns(900'000, 5'000'000);
  k.w.add(C, "S", 0, 0);   // row 8, at 108 ms
  k.w.add(S, "S.", 0, 1);
  k.w.add(C, ".", 1, 1);
  k.opened();
  k.stack(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.kernel(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.stack(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.kernel(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.stack(St::FIN_WAIT2, St::TIME_WAIT, 6100);
  k.kernel(St::LAST_ACK, St::CLOSED, 7100);
  k.stack(St::TIME_WAIT, St::CLOSED, 108'100);
  k.client(St::CLOSED, St::SYN_SENT, 107'900, "tracepoint", kClientSocket + 1);
  k.client(St::SYN_SENT, St::ESTABLISHED, 109'100, "tracepoint", kClientSocket + 1);
  k.stack(St::LISTEN, St::SYN_RECV, 108'100);
  k.stack(St::SYN_RECV, St::ESTABLISHED, 110'100);
  const auto r = k.compare();
  ASSERT_EQ(r.connections.size(), 2u);
  EXPECT_EQ(disagreements(r), Lines{"kernel-only TIME_WAIT -> CLOSED: time-wait-taken-over"}) << r.describe();
  EXPECT_NE(find_step(r, St::TIME_WAIT, St::CLOSED)->explanation.find("the gvisor stack's TIME_WAIT connection"),
            std::string::npos);
}

TEST(WireStateComparisonAgent, ARetransmissionTimerGivingUp) {
  // TM2 on an agent client: no Linux sysctl is named.
  AgentSide k(Host::Client);
  k.w.handshake();
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.w.wait(200);
  k.w.add(C, "P.", 1, 1, 100, "dropped by rule #1");
  k.opened();
  k.stack(St::ESTABLISHED, St::CLOSED, 900'000);
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSED: timer-gave-up"}) << r.describe();
  const auto& why = find_step(r, St::ESTABLISHED, St::CLOSED)->explanation;
  EXPECT_NE(why.find("the gvisor stack's retransmission timer gave up"), std::string::npos) << why;
  EXPECT_EQ(why.find("tcp_retries2"), std::string::npos) << why;
}

TEST(WireStateComparisonAgent, AFinWait2Timeout) {
  // The agent's client closed; the peer never sends its FIN: the stack's FIN_WAIT2 timer.
  AgentSide k(Host::Client);
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.opened();
  k.stack(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.kernel(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.stack(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.stack(St::FIN_WAIT2, St::CLOSED, 60'005'100);
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only FIN_WAIT2 -> CLOSED: orphan-fin-wait2-timeout"}) << r.describe();
  EXPECT_NE(find_step(r, St::FIN_WAIT2, St::CLOSED)->explanation.find("FIN_WAIT2 timer"), std::string::npos);
}

TEST(WireStateComparisonAgent, AChildResetInSynRecvIsClosedForTheStackAndListenForTheWire) {
  // HS7: the client answers the SYN-ACK with an RST.
  AgentSide k;
  k.w.add(C, "S", 0, 0);
  k.w.add(S, "S.", 0, 1, 0, "dropped by rule #1");
  k.w.inject(S, "R", 1, 0);  // at the child's rcv_nxt
  k.client(St::CLOSED, St::SYN_SENT, 900);
  k.stack(St::LISTEN, St::SYN_RECV, 1100);
  k.stack(St::SYN_RECV, St::CLOSED, 3100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only SYN_RECV -> LISTEN: syn-recv-child-closed",
                                     "kernel-only SYN_RECV -> CLOSED: syn-recv-child-closed"}))
      << r.describe();
}

TEST(WireStateComparisonAgent, AChildFromASynCookieIsBornEstablished) {
  // LD2 on gVisor: the SYN-ACK carries a cookie; the connection exists from the ACK on.
  AgentSide k;
  k.w.handshake();
  k.open_client();
  k.stack(St::LISTEN, St::ESTABLISHED, 3100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only LISTEN -> SYN_RECV: syn-cookie-child",
                                     "wire-only SYN_RECV -> ESTABLISHED: syn-cookie-child",
                                     "kernel-only LISTEN -> ESTABLISHED: syn-cookie-child"}))
      << r.describe();
  EXPECT_NE(find_step(r, St::LISTEN, St::ESTABLISHED)->explanation.find("SYN cookie"), std::string::npos);
}

TEST(WireStateComparisonAgent, AFinRetransmittedFromLastAckLeavesTheMachine) {
  // CL2 on gVisor: the client's ACK of the server's FIN is lost; the FIN retransmitted
  // from LAST_ACK takes netstack to FIN_WAIT1, the ACK then to FIN_WAIT2, and its
  // FIN_WAIT2 timer closes it, where the wire's machine closes on that ACK.
  AgentSide k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);                            // row 4
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2, 0, "dropped by rule #1");    // row 7
  k.w.wait(200);
  k.w.add(S, "F.", 1, 2);                            // row 8, at 208 ms
  k.w.add(C, ".", 2, 2);                             // row 9, at 209 ms
  k.opened();
  k.kernel(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.stack(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.kernel(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.stack(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.kernel(St::FIN_WAIT2, St::TIME_WAIT, 6100);
  k.stack(St::LAST_ACK, St::FIN_WAIT1, 207'900);
  k.stack(St::FIN_WAIT1, St::FIN_WAIT2, 209'100);
  k.stack(St::FIN_WAIT2, St::CLOSED, 60'209'100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"kernel-only LAST_ACK -> FIN_WAIT1: stack-deviation",
                                     "wire-only LAST_ACK -> CLOSED: stack-deviation",
                                     "kernel-only FIN_WAIT1 -> FIN_WAIT2: stack-deviation",
                                     "kernel-only FIN_WAIT2 -> CLOSED: stack-deviation"}))
      << r.describe();
  EXPECT_EQ(r.unexplained(), 0u);
  const auto& why = find_step(r, St::LAST_ACK, St::FIN_WAIT1)->explanation;
  EXPECT_NE(why.find("a transition RFC 9293's state machine does not have; it sent segment 8"), std::string::npos)
      << why;
  EXPECT_NE(find_step(r, St::LAST_ACK, St::CLOSED)->explanation.find("follows from the gvisor stack's LAST_ACK -> "
                                                                     "FIN_WAIT1"),
            std::string::npos)
      << r.describe();
}

TEST(WireStateComparisonAgent, FinWait1ToTimeWaitInOneStep) {
  // CL4: the server's FIN acknowledges the client's; the agent's client goes straight to
  // TIME_WAIT, the wire's machine (as Linux) through FIN_WAIT2 on that segment.
  AgentSide k(Host::Client);
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, "F.", 1, 2);
  k.w.add(C, ".", 2, 2);
  k.opened();
  k.stack(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.kernel(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.kernel(St::CLOSE_WAIT, St::LAST_ACK, 4900);
  k.stack(St::FIN_WAIT1, St::TIME_WAIT, 5100);
  k.kernel(St::LAST_ACK, St::CLOSED, 6100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only FIN_WAIT1 -> FIN_WAIT2: stack-deviation",
                                     "wire-only FIN_WAIT2 -> TIME_WAIT: stack-deviation",
                                     "kernel-only FIN_WAIT1 -> TIME_WAIT: stack-deviation"}))
      << r.describe();
  const auto& why = find_step(r, St::FIN_WAIT1, St::TIME_WAIT)->explanation;
  EXPECT_NE(why.find("skips FIN_WAIT2"), std::string::npos) << why;
  EXPECT_NE(why.find("RFC 9293 3.10.7.4 permits it"), std::string::npos) << why;
}

TEST(WireStateComparisonAgent, AnInWindowRstThatResetsTheStack) {
  // SEC1 on gVisor: an RST in the window but not at rcv_nxt closes it; the wire's
  // machine (RFC 5961) answers it with a challenge ACK.
  AgentSide k;
  k.w.handshake();
  k.w.inject(S, "R", 101, 0);  // row 4, at 4 ms
  k.opened();
  k.stack(St::ESTABLISHED, St::CLOSED, 4100);
  const auto r = k.compare();
  ASSERT_EQ(disagreements(r), Lines{"kernel-only ESTABLISHED -> CLOSED: stack-deviation"}) << r.describe();
  const auto& why = find_step(r, St::ESTABLISHED, St::CLOSED)->explanation;
  EXPECT_NE(why.find("on the RST of segment 4, in the window but not at rcv_nxt (seq"), std::string::npos) << why;
  EXPECT_NE(why.find("challenge ACK"), std::string::npos) << why;
}

TEST(WireStateComparisonAgent, AnRstAtRcvNxtAgrees) {
  AgentSide k;
  k.w.handshake();
  k.w.inject(S, "R", 1, 0);
  k.opened();
  k.stack(St::ESTABLISHED, St::CLOSED, 4100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{}) << r.describe();
}

TEST(WireStateComparisonAgent, DeviationsAreLookedForOnAgentsSidesOnly) {
  // The kernel's LAST_ACK -> FIN_WAIT1 would be a bug of the observer or the inference
  // (the wire follows Linux): only the kernel's own rules look at it.
  Kernel k;
  k.w.handshake();
  k.w.add(C, "F.", 1, 1);
  k.w.add(S, ".", 1, 2);
  k.w.add(S, "F.", 1, 2);
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.server(St::LAST_ACK, St::FIN_WAIT1, 9000);
  const auto r = k.compare();
  ASSERT_NE(find_step(r, St::LAST_ACK, St::FIN_WAIT1), nullptr) << r.describe();
  for (const auto* e : r.ends())
    for (const auto& s : e->steps) EXPECT_NE(s.cause, Cause::StackDeviation) << r.describe();
}

// ---- a SYN crafted after the connection was over; a close() in SYN_SENT ----

// CL2 with a SYN crafted at the server's rcv_nxt as the final ACK passed (explore's
// syn@client.FINAL_ACK.1): rows 1-7 the connection and its close, 8 the crafted SYN, 9 the
// listener's new child's SYN-ACK, 10 the client's TIME_WAIT answering it with an ACK, 11
// the child's answer to that unacceptable ACK (an RST at its ack). `rst` as the stack sends it.
void crafted_syn_after_close(Script& w, std::string_view rst) {
  w.handshake();
  w.add(C, "F.", 1, 1);
  w.add(S, ".", 1, 2);
  w.add(S, "F.", 1, 2);
  w.add(C, ".", 2, 2);
  w.inject(S, "S", 2, 0);
  w.add(S, "S.", 85750, 3);
  w.add(C, ".", 2, 2);
  w.add(S, rst, 2, 2);
}

TEST(WireStateComparison, ACraftedSynAfterTheCloseMakesAChildThatItsListenersCloseEnds) {
  Kernel k;
  crafted_syn_after_close(k.w, "R");
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 6100, "bpf: timewait minisocket");
  k.server(St::LAST_ACK, St::CLOSED, 7100);
  k.server(St::LISTEN, St::SYN_RECV, 8100, "bpf: request socket, hashed for a SYN", 0x5000);
  k.client(St::TIME_WAIT, St::CLOSED, 11100, "bpf: timewait minisocket ended by an RST from the peer");
  const std::string dropped =
      "bpf: request socket dropped, by its SYN-ACK timer (tcp_synack_retries spent, or its listener gone)";
  k.server(St::SYN_RECV, St::CLOSED, 1'012'000, dropped, 0x5000);
  // Without its listener's close, nothing explains the drop: no SYN-ACK was retransmitted.
  const auto open = k.compare();
  EXPECT_EQ(disagreements(open), Lines{"kernel-only SYN_RECV -> CLOSED: unexplained"}) << open.describe();
  k.steps.push_back({12'000'000, Host::Server, k.w.addr(S), SockAddr{k.w.addr(S).addr, 0}, kListener, St::LISTEN,
                     St::CLOSED, "bpf: inet_sock_set_state"});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only SYN_RECV -> CLOSED: listener-closed"}) << r.describe();
  EXPECT_EQ(r.unexplained(), 0u);
  const auto& why = find_step(r, St::SYN_RECV, St::CLOSED)->explanation;
  EXPECT_NE(why.find("LISTEN -> CLOSED at +12.000 ms"), std::string::npos) << why;
}

TEST(WireStateComparison, ARequestSocketReportedAsDroppedByAnRstIsNoListenersClose) {
  // Its end by an RST would be on the wire: the listener's close does not explain it.
  Kernel k;
  crafted_syn_after_close(k.w, "R");
  k.opened();
  k.server(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.server(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.server(St::LAST_ACK, St::CLOSED, 7100);
  k.server(St::LISTEN, St::SYN_RECV, 8100, "bpf: request socket, hashed for a SYN", 0x5000);
  k.steps.push_back({12'000'000, Host::Server, k.w.addr(S), SockAddr{k.w.addr(S).addr, 0}, kListener, St::LISTEN,
                     St::CLOSED, "bpf: inet_sock_set_state"});
  k.server(St::SYN_RECV, St::CLOSED, 1'012'000, "bpf: request socket dropped, by an RST from the peer", 0x5000);
  const auto r = k.compare();
  EXPECT_EQ(find_step(r, St::SYN_RECV, St::CLOSED)->cause, Cause::Unexplained) << r.describe();
}

TEST(WireStateComparisonAgent, ACraftedSynsChildResetByThePeer) {
  // The same on lwIP: it answers the bad ACK with RST+ACK, retransmits its SYN-ACK 2.7 s
  // later, and the client, with no socket now, resets the child.
  AgentSide k;
  crafted_syn_after_close(k.w, "R.");
  k.w.wait(2700);
  k.w.add(S, "S.", 85750, 3);
  k.w.add(C, "R", 3, 0);  // row 13, at +2713 ms
  k.opened();
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 3900);
  k.stack(St::ESTABLISHED, St::CLOSE_WAIT, 4100);
  k.client(St::FIN_WAIT1, St::FIN_WAIT2, 5100);
  k.stack(St::CLOSE_WAIT, St::LAST_ACK, 5900);
  k.client(St::FIN_WAIT2, St::TIME_WAIT, 6100);
  k.stack(St::LAST_ACK, St::CLOSED, 7100);
  k.stack(St::LISTEN, St::SYN_RECV, 9100);  // reported after its SYN-ACK left
  k.client(St::TIME_WAIT, St::CLOSED, 11100);
  k.stack(St::SYN_RECV, St::CLOSED, 2'713'100);
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), (Lines{"wire-only SYN_RECV -> LISTEN: syn-recv-child-closed",
                                     "kernel-only SYN_RECV -> CLOSED: syn-recv-child-closed"}))
      << r.describe();
}

TEST(WireStateComparisonAgent, AHandshakeCompletedAfterItsListenerClosedIsAborted) {
  // HS1 with its handshake ACK lost, on lwIP: accept() gives up, the test's listener is
  // dropped, and the client's FIN (its ACK acceptable) completes the child, which lwIP
  // makes ESTABLISHED and aborts at once for want of a listener: the wire sees an RST.
  AgentSide k;
  k.w.handshake();
  k.w.segments.back().fate = "dropped by rule #1";
  k.w.wait(2000);
  k.w.add(C, "F.", 1, 1);  // row 4, at +2004 ms
  k.w.add(S, "R.", 1, 1);
  k.open_client();
  k.stack(St::LISTEN, St::SYN_RECV, 1100);
  k.client(St::ESTABLISHED, St::FIN_WAIT1, 2'003'900);
  k.stack(St::SYN_RECV, St::ESTABLISHED, 2'004'900);  // events as lwIP dates them: the RST between
  k.client(St::FIN_WAIT1, St::CLOSED, 2'005'100);
  k.stack(St::ESTABLISHED, St::CLOSED, 2'005'300);
  // Without the listener's close nothing explains the abort.
  const auto open = k.compare();
  EXPECT_EQ(open.unexplained(), 3u) << open.describe();
  k.calls.push_back({2'003'000'000, 100'000, Host::Server, "close(listener), its handle dropped", 0, 0});
  const auto r = k.compare();
  EXPECT_EQ(r.unexplained(), 0u) << r.describe();
  EXPECT_EQ(disagreements(r), (Lines{"kernel-only SYN_RECV -> ESTABLISHED: listener-closed",
                                     "wire-only SYN_RECV -> CLOSED: listener-closed",
                                     "kernel-only ESTABLISHED -> CLOSED: listener-closed"}))
      << r.describe();
  const auto& why = find_step(r, St::SYN_RECV, St::ESTABLISHED)->explanation;
  EXPECT_NE(why.find("close(listener), its handle dropped at +2003.000 ms"), std::string::npos) << why;
}

// The client's SYN, the server's SYN-ACK dropped, then the client's SYNs retransmitted
// every 1002 ms, each answered by the server with an ACK (gVisor in SYN_RECV).
void syn_ack_lost(Script& w) {
  w.add(C, "S", 0, 0);
  w.add(S, "S.", 0, 1, 0, "dropped by rule #1");
  w.wait(1000);
  w.add(C, "S", 0, 0);  // +1003 ms
  w.add(S, ".", 1, 1);
  w.wait(1000);
  w.add(C, "S", 0, 0);  // +2005 ms
  w.add(S, ".", 1, 1);
}

TEST(WireStateComparisonAgent, AnApplicationsCloseInSynSent) {
  // drop-k@server.SYN_ACK.1 on gVisor: the kernel client's connect() gives up waiting,
  // and the test's end closes the socket still in SYN_SENT: nothing on the wire.
  AgentSide k;
  syn_ack_lost(k.w);
  k.client(St::CLOSED, St::SYN_SENT, 900, "bpf: inet_sock_set_state");
  k.stack(St::LISTEN, St::SYN_RECV, 1100);
  k.client(St::SYN_SENT, St::CLOSED, 2'901'000, "bpf: inet_sock_set_state");
  const auto silent = k.compare();
  EXPECT_EQ(disagreements(silent), Lines{"kernel-only SYN_SENT -> CLOSED: unexplained"}) << silent.describe();
  k.calls.push_back({2'900'000'000, 2'899'000'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", -1, EINPROGRESS,
                     FourTuple{k.w.addr(C), k.w.addr(S)}});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only SYN_SENT -> CLOSED: closed-in-syn-sent"}) << r.describe();
  const auto& why = find_step(r, St::SYN_SENT, St::CLOSED)->explanation;
  EXPECT_NE(why.find("3 SYN(s)"), std::string::npos) << why;
}

TEST(WireStateComparisonAgent, AStepAsLateAsTheSynTimerIsNoKnownClose) {
  // Closed 1.095 s after the last SYN, later than the 1.002 s the timer last took: its
  // SYN timer may have fired, and the evidence no longer tells the close from it.
  AgentSide k;
  syn_ack_lost(k.w);
  k.client(St::CLOSED, St::SYN_SENT, 900, "bpf: inet_sock_set_state");
  k.stack(St::LISTEN, St::SYN_RECV, 1100);
  k.client(St::SYN_SENT, St::CLOSED, 3'100'000, "bpf: inet_sock_set_state");
  k.calls.push_back({2'900'000'000, 2'899'000'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", -1, EINPROGRESS,
                     FourTuple{k.w.addr(C), k.w.addr(S)}});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only SYN_SENT -> CLOSED: unexplained"}) << r.describe();
}

TEST(WireStateComparison, AConnectThatTimedOutIsTheSynTimersNotAClose) {
  // The SYNs go unanswered and connect() reports ETIMEDOUT: the timer gave up.
  Kernel k;
  k.w.add(C, "S", 0, 0, 0, "dropped by rule #1");
  k.w.wait(1000);
  k.w.add(C, "S", 0, 0, 0, "dropped by rule #1");
  k.client(St::CLOSED, St::SYN_SENT, 900);
  k.client(St::SYN_SENT, St::CLOSED, 1'500'000);
  k.calls.push_back({1'500'100'000, 1'499'000'000, Host::Client, "connect(" + k.w.addr(S).str() + ")", -1, ETIMEDOUT,
                     FourTuple{k.w.addr(C), k.w.addr(S)}});
  const auto r = k.compare();
  EXPECT_EQ(disagreements(r), Lines{"kernel-only SYN_SENT -> CLOSED: timer-gave-up"}) << r.describe();
}

}  // namespace
}  // namespace tcpfault
