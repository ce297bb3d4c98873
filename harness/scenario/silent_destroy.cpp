#include "harness/scenario/silent_destroy.h"


namespace tcpfault {

namespace {

constexpr auto kRstWithin = std::chrono::milliseconds(1000);
constexpr auto kPoll = std::chrono::milliseconds(5);

// tcp_need_reset(): the states in which an abort sends an RST.
bool sends_rst(TcpState s) {
  using enum TcpState;
  return s == ESTABLISHED || s == CLOSE_WAIT || s == FIN_WAIT1 || s == FIN_WAIT2 || s == SYN_RECV;
}

}  // namespace

void destroy_silently(FaultEngine& faults, const SockDiag& diag, Trace& trace,
                      const Expectations& expect, const SocketRef& socket) {
  const std::string what = "destroy_silently(" + socket.str() + ")";
  auto info = diag.find(socket.tuple);
  if (!info) throw Error(what + ": the kernel has no such socket (it is closed already)");
  if (!info->full_sock() || !sends_rst(info->state))
    throw Error(what + ": the socket is " + to_string(info->state) +
                (info->full_sock() ? "" : info->request_sock ? " (a request socket)" : " (a timewait minisocket)") +
                ", for which the kernel sends no RST when it is destroyed: there is nothing to lose");

  const Match rst = Match().with_flags(tcp_flag::RST).sent_by(socket.host).of_connection(socket.tuple);
  const int rule = faults.add(drop(rst).once());
  trace.note("silently destroying " + socket.str() + " (SOCK_DESTROY); rule #" + std::to_string(rule) +
             " loses its RST");
  try {
    diag.destroy(socket.tuple);
  } catch (...) {
    faults.remove(rule);
    throw;
  }

  // The kernel sends the RST from the destroy call itself; it reaches the middlebox at once.
  // Every rule whose match fits counts it, also when another rule acts on it.
  const auto deadline = Clock::now() + kRstWithin;
  while (Clock::now() < deadline) {
    auto version = trace.version();
    if (faults.counts(rule).matched > 0) break;
    trace.wait_change(version, std::min(deadline, Clock::now() + kPoll));
  }
  const auto counts = faults.counts(rule);
  if (counts.applied == 1 && counts.matched == 1) return;
  faults.remove(rule);
  std::string seen;
  if (counts.matched == 0) seen = "no RST within " + std::to_string(kRstWithin.count()) + " ms";
  const std::vector<Event> events = trace.events();
  for (auto* s : matching_segments(events, rst)) {
    if (dropped(*s)) continue;
    seen += (seen.empty() ? "an RST " : "; an RST ") + (s->fate.empty() ? std::string("passed") : s->fate) +
            " at " + trace.offset(s->t_ns);
  }
  expect.fail("the RST of the silently destroyed " + socket.str() + " is lost in the middlebox",
              "one " + rst.describe() + ", dropped", seen);
}

}  // namespace tcpfault
