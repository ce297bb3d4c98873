// When a TCP stack's timers send a segment again, and when they give up, as Linux
// computes it. The model is pure arithmetic on the numbers it is given (sysctls, the
// connection's RTO); harness/scenario/timer_settings.h reads those numbers from a namespace.
//
// The rules, from net/ipv4/tcp_timer.c, tcp_output.c and inet_connection_sock.c:
// - a SYN is retransmitted after 1 s (TCP_TIMEOUT_INIT); the timeout stays 1 s for
//   tcp_syn_linear_timeouts retransmissions, then doubles. connect() gives up at the
//   first expiry when tcp_syn_retries + tcp_syn_linear_timeouts retransmissions were
//   sent, or when the time since the first SYN reaches the budget below with a base
//   of 1 s;
// - a SYN-ACK (request socket) after 1 s, doubling; the request is dropped at the
//   first expiry after tcp_synack_retries retransmissions;
// - data (or a FIN) by the RTO, doubling up to tcp_rto_max. Before the first timer
//   retransmission a tail loss probe may go out (RACK-TLP), one probe timeout after
//   the segment; the timer is then re-armed for one RTO without backing off.
//   tcp_retries2 (tcp_orphan_retries for an orphan) is a budget of time, not a count
//   (retransmits_timed_out): the connection gives up at the first expiry at which the
//   time since the first timer retransmission has reached what that many doubling
//   timeouts from TCP_RTO_MIN (200 ms) would take, (2^(n+1) - 1) x 200 ms, with
//   timeouts capped at tcp_rto_max (tcp_model_timeout);
// - keepalive: a probe after TCP_KEEPIDLE without a segment from the peer, then one
//   every TCP_KEEPINTVL; after TCP_KEEPCNT unanswered probes the next expiry resets
//   the connection (an RST) and reports ETIMEDOUT;
// - zero-window probes: after max(RTO, 200 ms), doubling with each probe (the backoff
//   stops growing at tcp_retries2, the interval at tcp_rto_max); an ACK that keeps the
//   window closed re-arms the timer; unanswered, the connection gives up at the
//   expiry after tcp_retries2 probes.
// TCP_USER_TIMEOUT and timers changed by BPF are not modelled.
//
// Close calls: the kernel compares the time that really passed with the budget, and
// its timers fire late by up to an eighth of their timeout (the timer wheel rounds
// expiries up). When an expiry at which the model retransmits comes within that
// lateness of the budget, the real stack may give up there instead: the schedule says
// so in `close_call`, and a case should choose settings that keep clear of it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tcpfault {

using Usec = std::chrono::microseconds;

// Linux constants that no sysctl changes.
inline constexpr Usec kTcpTimeoutInit = std::chrono::seconds(1);      // TCP_TIMEOUT_INIT
inline constexpr Usec kTcpRtoMin = std::chrono::milliseconds(200);    // TCP_RTO_MIN
inline constexpr Usec kTcpRtoMax = std::chrono::seconds(120);         // TCP_RTO_MAX, tcp_rto_max_ms default

// One transmission (or the give-up) and when it happens.
struct ScheduleStep {
  std::string label;  // "SYN", "retransmission 2", "tail loss probe", "ETIMEDOUT"
  Usec at{0};
};

struct Schedule {
  std::string description;  // what it models and from which numbers
  std::vector<ScheduleStep> steps;
  std::optional<ScheduleStep> give_up;
  // Where time 0 is. Empty: the first step (steps[0].at == 0). Otherwise an earlier
  // event the steps are timed from ("the last segment from the peer" for keepalive).
  std::string origin;
  // Non-empty when timer lateness could make the stack give up one expiry earlier.
  std::string close_call;

  // The first n steps only, without the give-up (a connection that recovers).
  Schedule first(std::size_t n) const;
  // "SYN at 0 ms, retransmission 1 at 1000 ms, ..., ETIMEDOUT at 7000 ms"
  std::string str() const;
};

// tcp_model_timeout: what `retries` doubling timeouts from `base` take, timeouts capped
// at `rto_max`. The retransmission budget of tcp_retries2 / tcp_orphan_retries.
Usec retransmission_budget(int retries, Usec base, Usec rto_max = kTcpRtoMax);

struct SynRetries {
  int retries = 6;          // tcp_syn_retries (or TCP_SYNCNT)
  int linear_timeouts = 0;  // tcp_syn_linear_timeouts
  Usec initial = kTcpTimeoutInit;
  Usec rto_max = kTcpRtoMax;
};
Schedule syn_schedule(const SynRetries& r);

struct SynAckRetries {
  int retries = 5;  // tcp_synack_retries
  Usec initial = kTcpTimeoutInit;
  Usec rto_max = kTcpRtoMax;
};
Schedule synack_schedule(const SynAckRetries& r);

struct RtoRetries {
  Usec rto{0};      // the connection's RTO when the segment goes out (tcpi_rto)
  int retries = 15; // tcp_retries2, or tcp_orphan_retries for an orphan
  Usec rto_max = kTcpRtoMax;
  // A tail loss probe goes out this long after the segment (see tail_loss_probe_timeout).
  std::optional<Usec> probe_timeout;
  std::string retries_name = "retries";  // "tcp_retries2", in the description
  std::string segment = "segment";  // the first step's label
  std::string give_up = "gives up"; // "ETIMEDOUT", "socket gone"
};
Schedule retransmission_schedule(const RtoRetries& r);

// The tail loss probe's timeout (tcp_schedule_loss_probe): twice the smoothed RTT,
// plus tcp_rto_min when only one segment is in flight (a delayed ACK may be due) or
// 2 jiffies (`tick`) otherwise; 1 s without an RTT sample; never later than the RTO.
Usec tail_loss_probe_timeout(Usec srtt, Usec rto, Usec rto_min, int in_flight, Usec tick);

struct KeepaliveSettings {
  Usec idle{0};      // TCP_KEEPIDLE
  Usec interval{0};  // TCP_KEEPINTVL
  int count = 0;     // TCP_KEEPCNT
};
// Timed from the last segment received from the peer.
Schedule keepalive_schedule(const KeepaliveSettings& k);

struct WindowProbeSettings {
  Usec base{0};      // max(RTO, TCP_RTO_MIN): tcp_probe0_base
  int retries2 = 15; // caps the backoff; unanswered, the number of probes
  Usec rto_max = kTcpRtoMax;
  // Answered probes (the window stays closed) go on for ever: model this many.
  // 0: unanswered, retries2 probes and then the give-up.
  int answered_probes = 0;
};
// Timed from the ACK that closed the window.
Schedule window_probe_schedule(const WindowProbeSettings& w);

// "204 ms", "1.5 ms", "7000 ms"
std::string format_ms(Usec t);

}  // namespace tcpfault
