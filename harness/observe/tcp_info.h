// A connection's TCP_INFO: the kernel's own view of its timers, window and losses.
//
// Cases read it to compute what they expect from the values the kernel uses (the RTO a
// retransmission must beat, the congestion window a flight needs) instead of from
// constants an older kernel used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "harness/timing/backoff.h"

namespace tcpfault {

struct TcpInfo {
  std::uint8_t state = 0;           // TcpState numbering
  std::uint8_t ca_state = 0;        // 0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss
  std::uint8_t retransmits = 0;     // consecutive timeouts of the current RTO
  std::uint8_t probes = 0;          // unanswered zero-window or keepalive probes
  std::uint8_t backoff = 0;         // exponential backoff of the RTO (or probe timer)
  bool sack = false;                // SACK was negotiated
  bool timestamps = false;          // timestamps were negotiated
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;
  std::uint32_t rto_us = 0;
  std::uint32_t ato_us = 0;
  std::uint32_t snd_mss = 0, rcv_mss = 0;
  std::uint32_t unacked = 0;        // segments sent and not yet acknowledged
  std::uint32_t sacked = 0, lost = 0, retrans = 0;
  std::uint32_t rtt_us = 0, rttvar_us = 0;
  std::uint32_t snd_ssthresh = 0, snd_cwnd = 0;
  std::uint32_t rcv_space = 0;
  std::uint32_t total_retrans = 0;
  std::uint32_t snd_wnd = 0;        // the peer's last advertised window, scaled (bytes)
  std::uint64_t bytes_acked = 0, bytes_received = 0;
  std::uint32_t segs_out = 0, segs_in = 0;
  std::uint32_t min_rtt_us = 0;
  std::uint32_t reordering = 0;     // the dupthresh the sender uses now
  std::uint32_t dsack_dups = 0;     // duplicate segments the peer reported with D-SACK
  std::uint32_t reord_seen = 0;
  std::uint32_t rcv_ooopack = 0;    // segments received out of order

  // The times as durations, for schedules (harness/timing/backoff.h).
  Usec rto() const { return Usec{rto_us}; }
  Usec ato() const { return Usec{ato_us}; }
  Usec rtt() const { return Usec{rtt_us}; }
  Usec rttvar() const { return Usec{rttvar_us}; }

  // "rto 204 ms, cwnd 10, ssthresh ..., unacked 0, retrans 0/0, ..." for messages.
  std::string str() const;
};

// The kernel's struct tcp_info as getsockopt(TCP_INFO) or sock_diag (INET_DIAG_INFO)
// gives it, in any of its historical sizes (fields past `len` stay zero). Returns
// nullopt when `len` is too short to hold the RTT fields.
std::optional<TcpInfo> parse_tcp_info(const void* data, std::size_t len);

// getsockopt(TCP_INFO) on a TCP socket. Throws SystemError when the call fails.
TcpInfo read_tcp_info(int fd);

}  // namespace tcpfault
