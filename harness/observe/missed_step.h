// A socket's step the trace has no event for, as the socket table shows it (the fallback
// of StateObserver::reconcile, when the tracepoint missed or lost steps).
//
// The state tracepoint fires before the kernel stores the new state: a table read just
// after a step's event can still show the state before it (a full socket in FIN_WAIT1
// while its FIN_WAIT2 event is already recorded). Such a read is not a missed step. A
// step is therefore filled in only when the table still disagrees after the wait for a
// late event, and it goes to what that second read shows.
#pragma once

#include <functional>
#include <optional>

#include "harness/observe/sock_diag.h"
#include "harness/tcp_state.h"

namespace tcpfault {

// The state one table read shows the socket moved to from `recorded` without an event,
// or nullopt: the same state, another socket (a listener, a request socket), or a last
// recorded state whose next step is watched elsewhere (TIME_WAIT, LISTEN).
std::optional<TcpState> state_shown_past(TcpState recorded, const std::optional<SocketInfo>& read);

// Reads the table; if it shows a step, waits for its event (`event_arrived` returns true
// when one came: nothing to fill in) and reads again. Returns the state to fill in.
std::optional<TcpState> missed_step(TcpState recorded, const std::function<std::optional<SocketInfo>()>& read_table,
                                    const std::function<bool()>& event_arrived);

}  // namespace tcpfault
