#include "harness/tcp_info.h"

#include <linux/tcp.h>

#include <algorithm>
#include <cstring>

namespace tcpfault {

std::optional<TcpInfo> parse_tcp_info(const void* data, std::size_t len) {
  // Older kernels send a shorter struct; everything used here is in the 2.6 layout.
  if (len < offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(__u32)) return std::nullopt;
  struct tcp_info k {};
  std::memcpy(&k, data, std::min(len, sizeof k));
  TcpInfo t;
  t.ca_state = k.tcpi_ca_state;
  t.retransmits = k.tcpi_retransmits;
  t.probes = k.tcpi_probes;
  t.backoff = k.tcpi_backoff;
  t.timestamps = (k.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  t.sack = (k.tcpi_options & TCPI_OPT_SACK) != 0;
  t.rto = Usec{k.tcpi_rto};
  t.ato = Usec{k.tcpi_ato};
  t.rtt = Usec{k.tcpi_rtt};
  t.rttvar = Usec{k.tcpi_rttvar};
  t.snd_mss = k.tcpi_snd_mss;
  t.unacked = k.tcpi_unacked;
  t.lost = k.tcpi_lost;
  t.retrans = k.tcpi_retrans;
  t.total_retrans = k.tcpi_total_retrans;
  t.snd_cwnd = k.tcpi_snd_cwnd;
  return t;
}

}  // namespace tcpfault
