// One timeline per scenario: every segment the middlebox saw (with its role and what
// the harness did to it), every state change, every socket call and its result.
//
// Writers append from several threads (the verdict loop, the state reader, the test);
// waiters block on the timeline with a deadline until what they expect has happened.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "harness/packet.h"
#include "harness/roles.h"
#include "harness/tcp_state.h"
#include "netns/topology.h"

namespace tcpfault {

using netns::Host;
using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the kernel's tracepoint times

std::int64_t mono_now_ns();

struct SegmentEvent {
  std::int64_t t_ns = 0;        // when the middlebox saw it
  std::uint64_t id = 0;         // arrival number, set by Trace::add_segment
  Host from = Host::Client;     // Middlebox: crafted by the harness
  Host to = Host::Server;
  Packet packet;
  Classified classified;
  std::optional<RelativeTo> relative;  // ISNs for relative sequence numbers
  std::string fate;             // "passed", "dropped", "held 300 ms", "duplicated" ...
  std::string rule;             // the rule that acted, empty if none
  std::int64_t released_ns = 0; // for held segments: when they were let go
};

struct TransitionEvent {
  std::int64_t t_ns = 0;
  Host host = Host::Client;
  SockAddr local, remote;
  std::uint64_t socket = 0;     // kernel identity of the socket (0: a timewait minisocket)
  TcpState from = TcpState::CLOSED;
  TcpState to = TcpState::CLOSED;
  std::string source;           // "tracepoint" or "sock_diag"
};

struct CallEvent {
  std::int64_t t_ns = 0;        // when the call returned
  std::int64_t duration_ns = 0;
  Host host = Host::Client;
  std::string call;             // "connect(198.18.2.1:8080)"
  long result = 0;
  int err = 0;
};

struct NoteEvent {
  std::int64_t t_ns = 0;
  std::string text;
};

using Event = std::variant<SegmentEvent, TransitionEvent, CallEvent, NoteEvent>;
std::int64_t event_time(const Event& e);

class Trace {
 public:
  explicit Trace(std::string name);

  const std::string& name() const { return name_; }
  std::int64_t start_ns() const { return start_ns_; }

  void add(Event e);
  void note(std::string text);
  // Segments are recorded on arrival; a later verdict updates the fate in place.
  std::uint64_t add_segment(SegmentEvent e);  // returns its id, for set_fate
  void set_fate(std::uint64_t id, std::string fate, std::int64_t released_ns = 0);

  // A copy of every event so far, in time order.
  std::vector<Event> events() const;

  // Segments kept out of the events: a flood's SYNs and the replies dropped for it,
  // hundreds or thousands of them. Expectations and the ladder do not see them one by
  // one (the flood notes a summary line); the pcapng and the JSON carry every one.
  void add_bulk_segment(SegmentEvent e);
  std::vector<SegmentEvent> bulk_segments() const;  // in time order

  // Observers that run behind the kernel (the state tracepoint) register a way to
  // catch up; readers call refresh() before reading so the timeline is complete.
  void set_refresher(std::function<void()> catch_up);
  void refresh() const;

  // Calls `done` on the events each time the timeline changes, until it returns true
  // or the deadline passes. Returns whether it became true.
  bool wait_until(const std::function<bool(const std::vector<Event>&)>& done,
                  Clock::time_point deadline) const;
  // The kernel records a connecting socket's first step (CLOSED -> SYN_SENT) before
  // it has a local port. The endpoint learns the port right after and names the step
  // here: the latest such step of that host toward `local.addr` -> `remote` recorded
  // since `since_ns`, now or when it arrives.
  void name_connecting_socket(Host host, const SockAddr& local, const SockAddr& remote,
                              std::int64_t since_ns);

  // A counter that grows with every change; with wait_change a caller can check
  // something outside the timeline (a sock_diag query) each time the timeline moves.
  std::uint64_t version() const;
  // Waits until version() != seen or the deadline. Returns false on timeout.
  bool wait_change(std::uint64_t seen, Clock::time_point deadline) const;

 private:
  std::string name_;
  std::int64_t start_ns_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<Event> events_;
  std::vector<SegmentEvent> bulk_;
  std::uint64_t next_segment_id_ = 1;
  std::uint64_t version_ = 0;
  struct PendingName {
    Host host;
    SockAddr local, remote;
    std::int64_t since_ns;
  };
  std::vector<PendingName> pending_names_;  // named before their step arrived
  mutable std::mutex refresher_mu_;
  std::function<void()> refresher_;
  bool apply_name(TransitionEvent& t, const PendingName& n) const;
};

}  // namespace tcpfault
