// Schedules (harness/timing/backoff.h) from a scenario's own settings, read when called: the
// namespace's sysctls and, for a connection, the RTO and RTT the kernel reports for
// it (sock_diag's TCP_INFO) or the socket's own keepalive options. Kernels drift
// (tcp_syn_linear_timeouts is recent, tcp_rto_max_ms more so): a sysctl this kernel
// does not have counts as the behaviour of the kernels before it. On an agent's side the
// SYN and SYN-ACK schedules read the knobs its agent declares (NotApplicable naming a key
// it does not); the others need TCP_INFO and are not applicable there.
#pragma once

#include <optional>

#include "harness/timing/backoff.h"
#include "harness/endpoints/endpoint.h"

namespace tcpfault {

class Scenario;

// The SYNs of a connect() from `h`: tcp_syn_retries, tcp_syn_linear_timeouts, tcp_rto_max_ms.
Schedule syn_schedule(const Scenario& s, Host h);
// The SYN-ACKs of a request socket on `h`: tcp_synack_retries.
Schedule synack_schedule(const Scenario& s, Host h);

// A segment the connection sends now and that is never acknowledged: its RTO and RTT
// (TCP_INFO), a tail loss probe if this connection would send one (tcp_early_retrans
// 3 or 4, SACK on, not in recovery), and tcp_retries2, or tcp_orphan_retries for an
// orphan (no file refers to it; `orphan` overrides, for a socket about to be closed).
// Read it before the loss begins: once the RTO backs off TCP_INFO shows the backed-off one.
Schedule retransmission_schedule(const Scenario& s, const SocketRef& conn,
                                 std::optional<bool> orphan = std::nullopt);

// The socket's own keepalive (SO_KEEPALIVE must be on): TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT as getsockopt reports them (the sysctls when the socket set none).
Schedule keepalive_schedule(Connection& conn);

// Zero-window probes of `conn` (probe base max(RTO, 200 ms), tcp_retries2): this many
// answered ones, or with 0 unanswered until the give-up.
Schedule window_probe_schedule(const Scenario& s, const SocketRef& conn, int answered_probes = 0);

}  // namespace tcpfault
