// TCP states, numbered as the Linux kernel numbers them (include/net/tcp_states.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tcpfault {

enum class TcpState {
  ESTABLISHED = 1,
  SYN_SENT,
  SYN_RECV,
  FIN_WAIT1,
  FIN_WAIT2,
  TIME_WAIT,
  CLOSED,  // the kernel's TCP_CLOSE
  CLOSE_WAIT,
  LAST_ACK,
  LISTEN,
  CLOSING,
  NEW_SYN_RECV,  // a request socket; shown to users as SYN_RECV
};

std::string to_string(TcpState s);  // "ESTABLISHED", "FIN_WAIT1", "CLOSED" ...
// Accepts the names above, the kernel's ("TCP_CLOSE"), and ss's ("FIN-WAIT-1", "TIME-WAIT").
std::optional<TcpState> state_from_name(std::string_view name);

}  // namespace tcpfault
