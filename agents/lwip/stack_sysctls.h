// The Linux sysctls lwIP 2.1 has a knob for (docs/agent-protocol.md, "Linux sysctls";
// docs/lwip-target.md says why each one and why the others are left out).
//
// Settable: the keepalive defaults (tcp_keepalive_time, _intvl, _probes), which every
// new connection's pcb takes, as a Linux socket with SO_KEEPALIVE and no TCP_KEEPIDLE of
// its own uses the sysctls. Fixed: what lwIP's build options make it do as Linux does
// with one value (no SACK, no timestamps, window scaling, 6 SYN retransmissions ...).
#pragma once

#include <atomic>
#include <string>

#include "agents/lwip/handle_table.h"
#include "agents/lwip/json_lines.h"

struct tcp_pcb;

namespace tcpfault::lwip_agent {

class StackSysctls {
 public:
  StackSysctls();

  // hello's "sysctls": key -> {"value", "fixed", "means"}.
  Json declarations() const;
  // set_sysctl: SocketFailure EINVAL for a value Linux refuses too (as /proc/sys does);
  // ProtocolError "unsupported" for one Linux takes but lwIP cannot behave as, and for a
  // key that is not declared or is fixed.
  void set(const std::string& key, const std::string& value);
  // get_sysctl: the value as /proc/sys would show it; ProtocolError for an undeclared key.
  std::string get(const std::string& key) const;

  // The keepalive defaults onto a connection, as Linux applies the sysctls to every socket
  // without settings of its own: an lwIP socket before it connects or as it is accepted;
  // a socket with a handle, in the fields it did not set itself (after each change); and
  // (core lock held) a passive pcb as its handshake completes, before it is accepted.
  void apply_keepalive_defaults(int fd) const;
  void apply_keepalive_defaults(AgentSocket& s) const;
  void apply_keepalive_defaults_locked(tcp_pcb& pcb) const;
  // Whether `key` is one of the keepalive defaults (a change to apply to open sockets).
  static bool is_keepalive_default(const std::string& key);

 private:
  std::atomic<int> keepalive_time_s_, keepalive_intvl_s_, keepalive_probes_;
};

}  // namespace tcpfault::lwip_agent
