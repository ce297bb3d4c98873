// The kernel's own counters for our NFQUEUE queue, from
// /proc/net/netfilter/nfnetlink_queue of the middlebox namespace: how many packets wait
// for a verdict, and how many the kernel dropped without asking us, because the queue
// was full (queue_dropped) or because it could not hand them to our socket, whose
// buffer was full (user_dropped; we see ENOBUFS). Those are losses the harness did not
// decide: a scenario must not count on them being zero unless it checks.
#pragma once

#include <cstdint>
#include <optional>

#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

struct QueueCounters {
  std::uint32_t waiting = 0;       // queue_total: queued, no verdict yet (held ones too)
  std::uint32_t queue_dropped = 0;
  std::uint32_t user_dropped = 0;
  std::uint32_t id_sequence = 0;   // the last packet id given out
};

class QueueCounterReader {
 public:
  // Opens the file inside `ns` (the kernel ties it to that namespace at open). A kernel
  // without the file gives a reader that always answers nullopt.
  QueueCounterReader(const netns::Namespace& ns, std::uint16_t queue_number);
  // The queue's line now; nullopt if the queue is not bound or the file is missing.
  std::optional<QueueCounters> read() const;

 private:
  UniqueFd fd_;
  std::uint16_t queue_;
};

// Parses the file's text (exposed for tests).
std::optional<QueueCounters> parse_queue_counters(const char* text, std::uint16_t queue_number);

}  // namespace tcpfault
