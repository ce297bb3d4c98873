// The verdict loop: every forwarded TCP segment of the middlebox comes here, is named
// by the role tracker, recorded in the trace, and then passed, dropped, held,
// duplicated, rewritten or answered with a crafted segment as the first acting rule says.
//
// Held segments get their verdict later (from the same thread) when their time or
// condition comes; on shutdown every held segment is let through (and counted), so no
// packet is ever left without a verdict. Packets the kernel dropped without asking us
// (queue full, or our socket's buffer full) are read from the kernel's counters,
// counted in Stats and noted in the trace as soon as the loop sees them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "harness/fault_rule.h"
#include "harness/injector.h"
#include "harness/nfqueue.h"
#include "harness/queue_counters.h"
#include "harness/roles.h"
#include "harness/rule_book.h"
#include "harness/trace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

class FaultEngine {
 public:
  using HostOf = std::function<Host(const Address&)>;

  struct Options {
    std::uint16_t queue_number = 0;
    std::uint32_t queue_max_len = NfQueue::kDefaultMaxLen;  // see NfQueue
    // false: no NFQUEUE at all, the middlebox only forwards (a baseline for
    // measurements): no segment is seen, and adding a rule is an error.
    bool intercept = true;
  };

  // Binds the queue, installs the FORWARD rules and starts the loop.
  FaultEngine(const netns::Namespace& middlebox, Options options, Trace& trace, HostOf host_of);
  FaultEngine(const netns::Namespace& middlebox, std::uint16_t queue_number, Trace& trace, HostOf host_of)
      : FaultEngine(middlebox, Options{.queue_number = queue_number}, trace, std::move(host_of)) {}
  ~FaultEngine();
  FaultEngine(const FaultEngine&) = delete;
  FaultEngine& operator=(const FaultEngine&) = delete;

  // Rules are tried in the order added. Returns the rule's id.
  int add(FaultRule rule);
  void remove(int id);
  void clear();

  RuleBook::Counts counts(int id) const;

  // Sends a crafted segment now, in the live connection between the two ends.
  // Throws Error if the middlebox has not seen that connection.
  void inject(const SockAddr& a, const SockAddr& b, const Craft& craft);

  struct Stats {
    std::uint64_t segments = 0;     // segments given to us by the kernel
    std::uint64_t unparsed = 0;     // passed without a look (not TCP we understand)
    std::uint64_t held_now = 0;
    std::uint64_t released_at_end = 0;  // held when the engine stopped, then let through
    // Drops the harness did not decide, from the kernel's own counters:
    std::uint64_t queue_dropped = 0;    // the queue was full (Options::queue_max_len)
    std::uint64_t user_dropped = 0;     // our socket's buffer was full
    std::uint64_t overruns = 0;         // ... of which we saw this many times (ENOBUFS)
    std::uint64_t verdict_errors = 0;   // verdicts the kernel refused
    std::int64_t loop_cpu_ns = 0;       // CPU time of the verdict loop so far
    bool intercepting = true;
    std::uint64_t undecided_drops() const { return queue_dropped + user_dropped; }
  };
  Stats stats() const;
  // Throws Error naming the losses when the kernel dropped packets the harness never
  // decided on (a lost packet the case did not ask for makes its verdict unsound).
  void check_no_undecided_drops() const;

  // What each random rule did to the segments it acted on (harness/random_faults.h).
  std::vector<FaultDecision> fault_log(int rule_id) const;

  // The tracker's view of a connection (copy), for tests and crafted segments.
  std::optional<RoleTracker::Connection> connection(const SockAddr& a, const SockAddr& b) const;

 private:
  struct Held {
    std::uint32_t packet_id;
    Packet packet;
    std::uint64_t trace_id;
    std::int64_t seen_ns;
    std::int64_t release_at_ns;  // time limit (delay or hold maximum)
    Host sender;                 // only the same sender's later segments count
    int after_segments;          // remaining passes before release; 0 = not a condition
    std::optional<Match> until;
    std::string why;
  };

  void run();
  void handle(const NfQueue::Message& m);
  void apply(const RuleBook::Entry& acting, const NfQueue::Message& m, Packet& p, SegmentEvent ev, Host from);
  // Reads the kernel's counters of drops it did not ask us about; notes new ones.
  void check_queue_counters() const;  // with mu_ held
  void on_passed(Host sender);
  void on_seen(const SegmentView& view);
  // Lets a held segment go: recorded, then passed on.
  void release(Held& h, const std::string& reason);
  // Accepts a queued segment (rewritten or not); it then counts as delivered and as a
  // later segment for the holds of its sender.
  void pass_on(std::uint32_t id, const Packet& delivered, Host sender, bool rewritten = false);
  void flush_releasing();
  void release_due();
  std::int64_t next_deadline_ns() const;
  Packet craft(const RoleTracker::Connection& c, const Craft& spec) const;
  // What the receiver of `p` has been given, in order: its rcv_nxt as far as the
  // middlebox can tell (fresher than its last ACK, which may still be on the way).
  struct Delivered {
    SockAddr from, to;
    std::uint32_t seq, end;
    bool syn;
  };
  static Delivered delivered_of(const Packet& p);
  void note_delivered(const Delivered& d);
  std::optional<std::uint32_t> delivered_next(const SockAddr& sender, const SockAddr& receiver) const;
  void send_crafted(const Packet& p, const std::string& why);

  Trace& trace_;
  HostOf host_of_;
  Options options_;
  std::optional<NfQueue> queue_;  // none when not intercepting
  std::optional<QueueCounterReader> counters_;
  mutable std::int64_t counters_read_ns_ = 0;
  Injector injector_;
  mutable std::mutex mu_;
  RoleTracker tracker_;
  RuleBook rules_;
  std::list<Held> held_;                      // holds: waiting for a condition
  std::multimap<std::int64_t, Held> delayed_;  // delays, by when they go
  std::list<Held> releasing_;  // released by the segment being handled: verdict after it
  std::map<std::pair<SockAddr, SockAddr>, std::uint32_t> delivered_;  // (sender, receiver) -> next seq
  mutable Stats stats_;  // the kernel's counters are refreshed by readers too
  std::atomic<std::int64_t> loop_cpu_ns_{0};
  UniqueFd wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tcpfault
