// "The peer rebooted": one end's socket disappears and the other end is not told.
//
// The socket is destroyed through sock_diag (SOCK_DESTROY, in its own namespace), which
// aborts it as tcp_abort does: its kernel sends an RST for a synchronized connection.
// A one-shot rule in the middlebox loses exactly that RST (that sender, that 4-tuple),
// so the peer learns nothing until it sends something and the host, which no longer
// knows the connection, answers with an RST of its own. The rule and the lost RST are
// in the trace and the ladder like any other fault.
#pragma once

#include "harness/scenario/expect.h"
#include "harness/intercept/fault_engine.h"
#include "harness/observe/sock_diag.h"

namespace tcpfault {

// Throws Error if the socket is gone already or in a state that sends no RST (nothing
// to lose: use SockDiag::destroy); ExpectationFailed if the RST did not come within a
// second or got through.
void destroy_silently(FaultEngine& faults, const SockDiag& diag, Trace& trace,
                      const Expectations& expect, const SocketRef& socket);

}  // namespace tcpfault
