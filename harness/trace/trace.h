// One timeline per scenario: every segment the middlebox saw (with its role and what
// the harness did to it), every state change, every socket call and its result.
//
// Writers append from several threads (the verdict loop, the state reader, the test);
// waiters block on the timeline with a deadline until what they expect has happened.
//
// Segments are most of a busy timeline (a 10 MB transfer is ~10k of them), so they are
// kept apart, in arrival order, where a waiter looks only at those that are new to it
// (visit_segments); the other events stay few. Payload bytes are kept up to a cap per
// scenario; after it, a segment keeps its headers (and its length) only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "harness/packet/packet.h"
#include "harness/roles/roles.h"
#include "harness/tcp_state.h"
#include "netns/topology.h"

namespace tcpfault {

using netns::Host;
using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the kernel's tracepoint times

std::int64_t mono_now_ns();

struct SegmentEvent {
  std::int64_t t_ns = 0;        // when the verdict loop read it
  // When the middlebox's kernel received it (the queue's timestamp), 0 if unknown (a
  // segment crafted by the harness, or a kernel that gave no stamp).
  std::int64_t queued_ns = 0;
  std::uint64_t id = 0;         // arrival number, set by Trace::add_segment
  Host from = Host::Client;     // Middlebox: crafted by the harness
  Host to = Host::Server;
  Packet packet;
  Classified classified;
  std::optional<RelativeTo> relative;  // ISNs for relative sequence numbers
  std::string fate;             // "passed", "dropped", "held 300 ms", "duplicated" ...
  std::string rule;             // the rule that acted, empty if none
  int rule_id = 0;              // ... and its id (0: none)
  std::int64_t released_ns = 0; // for held segments: when they were let go
  // The segment as the receiver got it, when the middlebox changed it (a modify rule,
  // an ISN shift); unset when it went on as sent. `packet` stays as sent. The trace
  // keeps its payload only when the rewrite changed the payload: otherwise it holds
  // the headers, and the payload is packet's (delivered_packet puts them together).
  std::optional<Packet> delivered;

  // Its length on the wire; more than packet.bytes.size() when the trace kept only
  // its headers (the payload cap was reached).
  std::size_t wire_length() const { return packet.ip_header_len + packet.tcp_header_len + packet.payload_len; }
  bool payload_kept() const { return packet.bytes.size() >= wire_length(); }
  // When it reached the middlebox as near as the harness knows: the kernel's stamp,
  // else the loop's time. Timer checks use it: a busy harness must not move the
  // kernel's retransmissions.
  std::int64_t arrived_ns() const { return queued_ns ? queued_ns : t_ns; }
};

// The middlebox lost it: a rule dropped it, or its queue was full.
bool dropped(const SegmentEvent& s);
// When the receiver got it: when it was seen, or for a held segment when it was let
// go; nullopt when nobody got it (dropped, or still held).
std::optional<std::int64_t> delivered_at(const SegmentEvent& s);
// The bytes its receiver got: `delivered` with its payload (packet's, unless the
// rewrite changed it), or the packet itself when it went on as sent.
Packet delivered_packet(const SegmentEvent& s);

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
  std::optional<FourTuple> socket;  // the connection it was made on, if any (local = this host's end)
};

struct NoteEvent {
  std::int64_t t_ns = 0;
  std::string text;
};

using Event = std::variant<SegmentEvent, TransitionEvent, CallEvent, NoteEvent>;

// What a random rule did to one segment: an entry of its fault log.
struct FaultDecision {
  int rule = 0;
  std::uint64_t ordinal = 0;  // the segment's number among those the rule matched, from 1
  std::uint64_t segment = 0;  // the segment's id in the trace
  std::int64_t t_ns = 0;
  std::string summary;        // the segment, as format_packet prints it
  std::string action;         // "drop", "delay", "duplicate", "reorder"
  int preempted_by = 0;       // the rule that acted on the segment first: this draw was not applied
};
std::int64_t event_time(const Event& e);

// A fault rule of the scenario as the timeline knows it: what it was and how long it
// stood (the outputs name the rules a scenario ran with).
struct RuleRecord {
  int id = 0;
  std::string label;          // the rule's label, else its description
  std::int64_t added_ns = 0;
  std::int64_t removed_ns = 0;  // 0: still in place
};

// Payload bytes a trace keeps by default (TCPFAULT_TRACE_PAYLOAD_CAP overrides it).
inline constexpr std::size_t kDefaultPayloadCap = 16u << 20;

class Trace {
 public:
  explicit Trace(std::string name, std::size_t payload_cap = kDefaultPayloadCap);

  const std::string& name() const { return name_; }
  // When the timeline began: CLOCK_MONOTONIC (what every event's time counts from)
  // and CLOCK_REALTIME read at the same moment (ns since the epoch, UTC).
  std::int64_t start_ns() const { return start_ns_; }
  std::int64_t start_unix_ns() const { return start_unix_ns_; }
  // A CLOCK_MONOTONIC time as ns since the epoch, by the pair above.
  std::int64_t unix_ns(std::int64_t t_ns) const { return start_unix_ns_ + (t_ns - start_ns_); }
  // A time as failure messages give it: "+45.3 ms" after the timeline began.
  std::string offset(std::int64_t t_ns) const;
  std::size_t payload_cap() const { return payload_cap_; }
  std::size_t payload_kept() const;  // payload bytes kept so far

  void add(Event e);
  void note(std::string text);
  // Segments are recorded on arrival; a later verdict updates the fate in place.
  std::uint64_t add_segment(SegmentEvent e);  // returns its id, for set_fate
  void set_fate(std::uint64_t id, std::string fate, std::int64_t released_ns = 0);

  // The fault rules, each with a note in the timeline ("rule #2 added: ...").
  void rule_added(int id, std::string label);
  void rule_removed(int id);
  void rules_cleared();
  std::vector<RuleRecord> rules() const;  // in the order added, removed ones too

  // The fault log of random rules, in the order of their decisions.
  void log_fault(FaultDecision d);
  std::vector<FaultDecision> fault_log(std::optional<int> rule = std::nullopt) const;

  // A copy of every event so far, in time order (for outputs and failure messages:
  // waiters use visit_segments).
  std::vector<Event> events() const;
  // Every event but the segments, in time order: transitions, calls and notes.
  std::vector<Event> other_events() const;

  // Calls `visit` on the segments from arrival number `from` on (0 = the first), with
  // the timeline locked (keep it quick; do not call the trace from it); returns how
  // many segments there are, the `from` of the next visit.
  std::size_t visit_segments(std::size_t from, const std::function<void(const SegmentEvent&)>& visit) const;
  std::size_t segment_count() const;

  // Segments kept out of the events: a flood's SYNs and the replies dropped for it,
  // hundreds or thousands of them. Expectations and the ladder do not see them one by
  // one (the flood notes a summary line); the pcapng and the JSON carry every one.
  void add_bulk_segment(SegmentEvent e);
  std::vector<SegmentEvent> bulk_segments() const;  // in time order

  // Observers that run behind the kernel (the state tracepoint) register a way to
  // catch up; readers call refresh() before reading so the timeline is complete.
  void set_refresher(std::function<void()> catch_up);
  void refresh() const;

  // Calls `done` on all the events each time the timeline changes, until it returns
  // true or the deadline passes. Returns whether it became true. Each call sees the
  // whole timeline: for segments, visit_segments with wait_change scales better.
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
  std::int64_t start_unix_ns_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<Event> others_;            // everything but segments, in time order
  std::deque<SegmentEvent> segments_;   // in arrival order: id n is segments_[n - 1]
  std::vector<FaultDecision> fault_log_;
  std::vector<RuleRecord> rules_;
  std::vector<SegmentEvent> bulk_;      // a flood's segments, kept out of the timeline
  std::size_t payload_cap_;
  std::size_t payload_kept_ = 0;
  bool cap_noted_ = false;
  void keep_payload(Packet& p, std::int64_t t_ns);  // with mu_ held: counts it, or cuts it past the cap
  std::uint64_t version_ = 0;
  void insert_other(Event e);  // with mu_ held
  std::vector<Event> merged() const;  // with mu_ held
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
