// A connection's TCP_INFO as the kernel reports it (sock_diag's INET_DIAG_INFO): the
// numbers timer expectations are computed from. Times are in microseconds, as the
// kernel gives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "harness/backoff.h"

namespace tcpfault {

struct TcpInfo {
  std::uint8_t ca_state = 0;     // 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss
  std::uint8_t retransmits = 0;  // timer retransmissions of the current loss
  std::uint8_t probes = 0;       // unanswered zero-window or keepalive probes
  std::uint8_t backoff = 0;      // RTO doublings so far
  bool timestamps = false, sack = false;
  Usec rto{0}, ato{0};
  Usec rtt{0}, rttvar{0};        // smoothed RTT and its mean deviation
  std::uint32_t snd_mss = 0;
  std::uint32_t unacked = 0;     // segments in flight
  std::uint32_t lost = 0, retrans = 0, total_retrans = 0;
  std::uint32_t snd_cwnd = 0;
};

// Reads the kernel's struct tcp_info (any of its historical sizes; fields past `len`
// stay zero). Returns nullopt when `len` is too short to hold the RTT fields.
std::optional<TcpInfo> parse_tcp_info(const void* data, std::size_t len);

}  // namespace tcpfault
