#include "harness/observe/missed_step.h"

namespace tcpfault {

std::optional<TcpState> state_shown_past(TcpState recorded, const std::optional<SocketInfo>& read) {
  // A timewait minisocket that expired, or a FIN_WAIT2 orphan that moved on, is covered
  // elsewhere. A request socket that ended went back to its listener (LISTEN), which is
  // another socket.
  if (recorded == TcpState::TIME_WAIT || recorded == TcpState::LISTEN) return std::nullopt;
  // A listener's child is a different socket; a request socket has no full-socket steps.
  if (read && (read->request_sock || read->state == TcpState::LISTEN)) return std::nullopt;
  const TcpState current = read ? read->state : TcpState::CLOSED;
  if (current == recorded) return std::nullopt;
  return current;
}

std::optional<TcpState> missed_step(TcpState recorded, const std::function<std::optional<SocketInfo>()>& read_table,
                                    const std::function<bool()>& event_arrived) {
  if (!state_shown_past(recorded, read_table())) return std::nullopt;
  if (event_arrived()) return std::nullopt;
  return state_shown_past(recorded, read_table());
}

}  // namespace tcpfault
