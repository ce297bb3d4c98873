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

#include "harness/intercept/fault_rule.h"
#include "harness/intercept/flood_replies.h"
#include "harness/intercept/injector.h"
#include "harness/intercept/nfqueue.h"
#include "harness/intercept/queue_counters.h"
#include "harness/intercept/rcv_nxt.h"
#include "harness/roles/roles.h"
#include "harness/intercept/rule_book.h"
#include "harness/intercept/seq_shift.h"
#include "harness/trace/trace.h"
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
  std::optional<FaultRule> rule(int id) const;  // a copy; nullopt: never added, or removed

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
    std::uint64_t flood_syns_sent = 0;        // by every flood of the scenario
    std::uint64_t flood_replies_dropped = 0;  // segments toward flood sources, lost here
  };
  Stats stats() const;
  // Throws Error naming the losses when the kernel dropped packets the harness never
  // decided on (a lost packet the case did not ask for makes its verdict unsound).
  void check_no_undecided_drops() const;

  // What each random rule did to the segments it acted on (harness/intercept/random_faults.h).
  std::vector<FaultDecision> fault_log(int rule_id) const;

  // Where SYN floods register their sources: segments addressed to them are dropped
  // and counted before any rule or the role tracker sees them (see FloodReplies).
  FloodReplies& floods() { return floods_; }

  // The tracker's view of a connection (copy), for tests and crafted segments.
  std::optional<RoleTracker::Connection> connection(const SockAddr& a, const SockAddr& b) const;

 private:
  // A segment on its way on: `real` in the ends' own sequence numbers (what the
  // tracker, the holds and crafted segments reason in), `wire` as its receiver is to
  // get it (different only where a rewrite_isn shift applies, see seq_shift.h).
  struct Outgoing {
    Packet real;
    Packet wire;
    bool rewritten = false;         // wire differs from what the kernel queued
    std::uint32_t seq_delta = 0;    // wire.seq - real.seq
  };

  struct Held {
    std::uint32_t packet_id;
    Outgoing out;
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
  // Applies a rule's action to a segment on its way (`shifted` describes a rewrite_isn
  // shift of its numbers, for the trace).
  void apply(const RuleBook::Entry& acting, const NfQueue::Message& m, Outgoing out, const std::string& shifted,
             SegmentEvent ev, Host from);
  // Reads the kernel's counters of drops it did not ask us about; notes new ones.
  void check_queue_counters() const;  // with mu_ held
  void drop_flood_reply(std::uint32_t id, const Packet& p, int flood);
  void on_passed(Host sender);
  void on_seen(const SegmentView& view);
  // Lets a held segment go: recorded, then passed on.
  void release(Held& h, const std::string& reason);
  // Accepts a queued segment (rewritten or not); it then counts as delivered and as a
  // later segment for the holds of its sender.
  void pass_on(std::uint32_t id, const Outgoing& out, Host sender);
  // The shift of the receiver's numbers in the connection between two ends (0: none):
  // a segment toward it has its acknowledgments put back by that much.
  std::uint32_t receiver_shift(const SockAddr& from, const SockAddr& to) const;
  // `real` (already in the ends' own numbers) as it goes on: the sender's shift applied.
  Outgoing outgoing(const Packet& queued, Packet real, const Classified& c) const;
  // A rewrite_isn rule acting on a SYN or SYN-ACK: the direction gets its ISN.
  void start_shift(const RuleBook::Entry& rule, const Classified& c, const Packet& real);
  void flush_releasing();
  void release_due();
  std::int64_t next_deadline_ns() const;
  Packet craft(const RoleTracker::Connection& c, const Craft& spec) const;
  // Crafts `spec` in connection `c` and sends it (shifted like the end it impersonates).
  void inject_crafted(const RoleTracker::Connection& c, const Craft& spec, const std::string& why);
  // Sends `wire` (`real` is the same segment in the ends' own numbers), recorded with
  // `roles`: a copy's (RoleTracker::copy_of) or a crafted segment's (classify, injected).
  void send_crafted(const Packet& real, const Packet& wire, const Classified& roles, const std::string& why);

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
  RcvNxtEstimate rcv_nxt_;  // where a crafted segment "at rcv_nxt" goes
  mutable Stats stats_;  // the kernel's counters are refreshed by readers too
  std::atomic<std::int64_t> loop_cpu_ns_{0};
  FloodReplies floods_;
  SeqShifts shifts_;
  UniqueFd wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tcpfault
