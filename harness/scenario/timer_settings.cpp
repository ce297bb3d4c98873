#include "harness/scenario/timer_settings.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "harness/scenario/scenario.h"

namespace tcpfault {

namespace {

// A sysctl later kernels added: its value, or the one this kernel behaves as (for
// tcp_rto_min_us, TCP_RTO_MIN: what an older kernel's tail loss probe adds).
int sysctl_or_built_in(const Scenario& s, Host h, const std::string& key) {
  const std::string v = s.sysctl_or_built_in(h, key);
  try {
    return std::stoi(v);
  } catch (const std::exception&) {
    throw Error("sysctl " + key + " is not a number: '" + v + "'");
  }
}

Usec rto_max_of(const Scenario& s, Host h) {
  return std::chrono::milliseconds(sysctl_or_built_in(s, h, "net.ipv4.tcp_rto_max_ms"));
}

const SocketInfo& full_socket(const std::optional<SocketInfo>& info, const SocketRef& conn) {
  if (!info) throw Error("no socket " + conn.str() + " in the kernel (it is closed): nothing to time");
  if (!info->full_sock() || !info->tcp)
    throw Error(conn.str() + " is a " + std::string(info->request_sock ? "request socket" : "timewait minisocket") +
                ": it has no TCP_INFO to time its retransmissions from");
  return *info;
}

// These schedules need the socket's TCP_INFO as Linux reports it: not for a side an agent runs.
void require_linux(const Scenario& s, Host h, const char* schedule) {
  s.require_kernel(h, std::string("has no TCP_INFO to time its ") + schedule + " schedule from");
}

}  // namespace

// The SYN and SYN-ACK schedules need only sysctls: on an agent's side they come from the
// knobs its agent declares, and a key it does not declare makes them not applicable.
Schedule syn_schedule(const Scenario& s, Host h) {
  SynRetries r;
  r.retries = s.sysctl_int(h, "net.ipv4.tcp_syn_retries");
  r.linear_timeouts = sysctl_or_built_in(s, h, "net.ipv4.tcp_syn_linear_timeouts");
  r.rto_max = rto_max_of(s, h);
  return syn_schedule(r);
}

Schedule synack_schedule(const Scenario& s, Host h) {
  SynAckRetries r;
  r.retries = s.sysctl_int(h, "net.ipv4.tcp_synack_retries");
  r.rto_max = rto_max_of(s, h);
  return synack_schedule(r);
}

Schedule retransmission_schedule(const Scenario& s, const SocketRef& conn, std::optional<bool> orphan) {
  require_linux(s, conn.host, "retransmission");
  auto found = s.states().socket(conn);
  const SocketInfo& info = full_socket(found, conn);
  const TcpInfo& tcp = *info.tcp;
  RtoRetries r;
  r.rto = tcp.rto();
  r.rto_max = rto_max_of(s, conn.host);
  const Usec rto_min{sysctl_or_built_in(s, conn.host, "net.ipv4.tcp_rto_min_us")};
  const int early_retrans = s.sysctl_int(conn.host, "net.ipv4.tcp_early_retrans");
  const bool ca_open = tcp.ca_state == 0 || tcp.ca_state == 2;  // Open or CWR
  if ((early_retrans == 3 || early_retrans == 4) && tcp.sack && ca_open)
    r.probe_timeout = tail_loss_probe_timeout(tcp.rtt(), tcp.rto(), rto_min, 1, Usec{0});
  // An orphan is a full socket no file refers to (SOCK_DEAD).
  if (orphan.value_or(info.inode == 0)) {
    r.retries = s.sysctl_int(conn.host, "net.ipv4.tcp_orphan_retries");
    // tcp_orphan_retries(): 0 means 8 for a socket whose RTO has not reached the maximum.
    if (r.retries == 0 && tcp.rto() < r.rto_max) r.retries = 8;
    r.retries_name = "tcp_orphan_retries";
    r.give_up = "socket gone";
  } else {
    r.retries = s.sysctl_int(conn.host, "net.ipv4.tcp_retries2");
    r.retries_name = "tcp_retries2";
    r.give_up = "ETIMEDOUT";
  }
  return retransmission_schedule(r);
}

Schedule keepalive_schedule(Connection& conn) {
  auto read = [&](int level, int name, const char* label) {
    CallResult r = conn.get_option(level, name, label);
    if (!r.ok()) throw Error("keepalive schedule of " + conn.ref().str() + ": " + r.describe());
    return static_cast<int>(r.value);
  };
  if (!read(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"))
    throw Error("keepalive schedule of " + conn.ref().str() +
                ": SO_KEEPALIVE is off on this socket (turn it on with set_keepalive first)");
  KeepaliveSettings k;
  k.idle = std::chrono::seconds(read(IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"));
  k.interval = std::chrono::seconds(read(IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"));
  k.count = read(IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
  return keepalive_schedule(k);
}

Schedule window_probe_schedule(const Scenario& s, const SocketRef& conn, int answered_probes) {
  require_linux(s, conn.host, "zero-window probe");
  auto found = s.states().socket(conn);
  const SocketInfo& info = full_socket(found, conn);
  WindowProbeSettings w;
  w.base = std::max(info.tcp->rto(), kTcpRtoMin);  // tcp_probe0_base
  w.retries2 = s.sysctl_int(conn.host, "net.ipv4.tcp_retries2");
  w.rto_max = rto_max_of(s, conn.host);
  w.answered_probes = answered_probes;
  return window_probe_schedule(w);
}

}  // namespace tcpfault
