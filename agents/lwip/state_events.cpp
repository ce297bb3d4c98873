#include "agents/lwip/state_events.h"

#include <time.h>

#include "agents/lwip/lwip_address.h"
#include "agents/lwip/lwip_headers.h"

namespace tcpfault::lwip_agent {
namespace {

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

FourTuple tuple_of(const tcp_pcb& pcb) {
  return {{address_of(pcb.local_ip), pcb.local_port}, {address_of(pcb.remote_ip), pcb.remote_port}};
}

template <class F>
void for_each_connection(F&& f) {
  for (tcp_pcb* p = tcp_active_pcbs; p != nullptr; p = p->next) f(*p);
  for (tcp_pcb* p = tcp_tw_pcbs; p != nullptr; p = p->next) f(*p);
}

// The accept callback lwIP's netconn layer installed on listeners (api_msg.c's
// accept_function); the same for every listener.
tcp_accept_fn g_netconn_accept = nullptr;
StateScanner* g_accept_scanner = nullptr;

err_t accept_and_scan(void* arg, tcp_pcb* newpcb, err_t err) {
  // tcp_process() has just set newpcb ESTABLISHED; the same segment may carry a FIN.
  if (g_accept_scanner != nullptr) {
    if (newpcb != nullptr && err == ERR_OK) g_accept_scanner->passive_open_locked(*newpcb);
    g_accept_scanner->scan_locked();
  }
  return g_netconn_accept(arg, newpcb, err);
}

}  // namespace

const char* linux_state_name(int s) {
  switch (static_cast<tcp_state>(s)) {
    case CLOSED: return "CLOSED";
    case LISTEN: return "LISTEN";
    case SYN_SENT: return "SYN_SENT";
    case SYN_RCVD: return "SYN_RECV";
    case ESTABLISHED: return "ESTABLISHED";
    case FIN_WAIT_1: return "FIN_WAIT1";
    case FIN_WAIT_2: return "FIN_WAIT2";
    case CLOSE_WAIT: return "CLOSE_WAIT";
    case CLOSING: return "CLOSING";
    case LAST_ACK: return "LAST_ACK";
    case TIME_WAIT: return "TIME_WAIT";
  }
  return "CLOSED";
}

void StateScanner::scan_locked() {
  std::map<FourTuple, int> now;
  std::vector<StateChange> changes;
  std::int64_t t = 0;
  auto stamp = [&] { return t != 0 ? t : (t = monotonic_ns()); };
  for_each_connection([&](const tcp_pcb& pcb) {
    const FourTuple tuple = tuple_of(pcb);
    const int state = pcb.state;
    now.emplace(tuple, state);
    const auto it = known_.find(tuple);
    if (it == known_.end()) {
      // A passive open comes from the listener; an active one from nothing.
      const int from = state == SYN_RCVD ? LISTEN : CLOSED;
      changes.push_back({stamp(), tuple, linux_state_name(from), linux_state_name(state)});
    } else if (it->second != state) {
      changes.push_back({stamp(), tuple, linux_state_name(it->second), linux_state_name(state)});
    }
  });
  for (const auto& [tuple, state] : known_)
    if (!now.contains(tuple)) changes.push_back({stamp(), tuple, linux_state_name(state), "CLOSED"});
  known_ = std::move(now);
  for (const StateChange& c : changes) {
    if (c.from == "CLOSED") established_.erase(c.tuple);  // a new connection on the tuple
    if (c.to == "ESTABLISHED") established_.insert(c.tuple);
    sink_(c);
  }
}

std::vector<Connection> StateScanner::connections_locked() {
  std::vector<Connection> out;
  for_each_connection([&](const tcp_pcb& pcb) { out.push_back({tuple_of(pcb), linux_state_name(pcb.state)}); });
  return out;
}

void StateScanner::watch_listeners_locked() {
  g_accept_scanner = this;
  for (tcp_pcb_listen* l = tcp_listen_pcbs.listen_pcbs; l != nullptr; l = l->next) {
    if (l->accept == nullptr || l->accept == accept_and_scan) continue;
    g_netconn_accept = l->accept;
    l->accept = accept_and_scan;
  }
}

}  // namespace tcpfault::lwip_agent
