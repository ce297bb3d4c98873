#include "harness/observe/tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "netns/error.h"

namespace tcpfault {

std::optional<TcpInfo> parse_tcp_info(const void* data, std::size_t len) {
  // Everything up to the RTT fields is in the oldest layout; an older kernel gives a
  // shorter struct and the fields it does not know stay 0.
  if (len < offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(__u32)) return std::nullopt;
  tcp_info k{};
  std::memcpy(&k, data, std::min(len, sizeof k));
  TcpInfo i;
  i.state = k.tcpi_state;
  i.ca_state = k.tcpi_ca_state;
  i.retransmits = k.tcpi_retransmits;
  i.probes = k.tcpi_probes;
  i.backoff = k.tcpi_backoff;
  i.sack = (k.tcpi_options & TCPI_OPT_SACK) != 0;
  i.timestamps = (k.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  i.snd_wscale = k.tcpi_snd_wscale;
  i.rcv_wscale = k.tcpi_rcv_wscale;
  i.rto_us = k.tcpi_rto;
  i.ato_us = k.tcpi_ato;
  i.snd_mss = k.tcpi_snd_mss;
  i.rcv_mss = k.tcpi_rcv_mss;
  i.unacked = k.tcpi_unacked;
  i.sacked = k.tcpi_sacked;
  i.lost = k.tcpi_lost;
  i.retrans = k.tcpi_retrans;
  i.rtt_us = k.tcpi_rtt;
  i.rttvar_us = k.tcpi_rttvar;
  i.snd_ssthresh = k.tcpi_snd_ssthresh;
  i.snd_cwnd = k.tcpi_snd_cwnd;
  i.rcv_space = k.tcpi_rcv_space;
  i.total_retrans = k.tcpi_total_retrans;
  i.snd_wnd = k.tcpi_snd_wnd;
  i.bytes_acked = k.tcpi_bytes_acked;
  i.bytes_received = k.tcpi_bytes_received;
  i.segs_out = k.tcpi_segs_out;
  i.segs_in = k.tcpi_segs_in;
  i.min_rtt_us = k.tcpi_min_rtt;
  i.reordering = k.tcpi_reordering;
  i.dsack_dups = k.tcpi_dsack_dups;
  i.reord_seen = k.tcpi_reord_seen;
  i.rcv_ooopack = k.tcpi_rcv_ooopack;
  return i;
}

TcpInfo read_tcp_info(int fd) {
  tcp_info k{};
  socklen_t len = sizeof k;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &k, &len) < 0) throw_errno("getsockopt(TCP_INFO)");
  return *parse_tcp_info(&k, len);
}

std::string TcpInfo::str() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "rto %.1f ms, rtt %.3f ms, cwnd %u, ssthresh %u, mss %u, unacked %u, sacked %u, "
                "lost %u, retrans %u/%u, probes %u, backoff %u, snd_wnd %u",
                rto_us / 1e3, rtt_us / 1e3, snd_cwnd, snd_ssthresh, snd_mss, unacked, sacked, lost,
                retrans, total_retrans, probes, backoff, snd_wnd);
  return buf;
}

}  // namespace tcpfault
