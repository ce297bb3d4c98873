// A SYN flood from the middlebox: crafted SYNs from unused addresses of the client
// subnet toward a listener on the server, at a bounded rate, for a bounded count. The
// server's replies (SYN-ACKs, retransmitted or cookie-bearing, and any RST) come back
// through the middlebox, where the fault engine drops and counts them (FloodReplies):
// nothing of the flood reaches the client's namespace.
//
// A flood sends on a thread of its own and stops by itself after `count` SYNs, or
// earlier on stop(), on a send error, or when it is destroyed (with its scenario): the
// thread is always joined. Every SYN and every dropped reply is kept in the trace as a
// bulk segment (in the pcapng and JSON), and the ladder gets one summary line at the
// start and one at the end instead of a line per segment.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/intercept/flood_replies.h"
#include "harness/intercept/injector.h"
#include "harness/trace/trace.h"
#include "netns/topology.h"

namespace tcpfault {

// Bounds: a flood is a test load, never an open-ended one.
inline constexpr int kMaxFloodCount = 10'000;      // SYNs
inline constexpr double kMaxFloodRate = 2'000;     // SYNs per second
inline constexpr double kMaxFloodSeconds = 30;     // count / rate
inline constexpr int kMaxFloodSources = 153;       // unused client-subnet addresses

struct FloodSpec {
  SockAddr target;               // a port on the server's address
  int count = 0;                 // SYNs in all, 1..kMaxFloodCount
  double rate = 0;               // SYNs per second, up to kMaxFloodRate
  std::vector<Address> sources;  // unused client-subnet addresses (round robin)
};

// The first `n` unused addresses of the client subnet (Topology::unused_client_addr).
// Throws Error unless 1 <= n <= kMaxFloodSources.
std::vector<Address> flood_sources(const netns::Topology& topology, Family family, int n);

// Throws Error saying what is wrong and how to fix it: a count, rate or duration out
// of bounds, a target that is not the server, a source that is not an unused address
// of the client subnet (or of another family), a source given twice.
void check_flood_spec(const FloodSpec& spec, const netns::Topology& topology, Family family);

class SynFlood {
 public:
  // Starts sending at once. The spec must have passed check_flood_spec and its sources
  // must be claimed in `replies`; `replies` and `trace` must outlive the flood.
  SynFlood(int id, FloodSpec spec, const netns::Namespace& middlebox, FloodReplies& replies,
           Trace& trace);
  ~SynFlood();  // stops and joins the sender
  SynFlood(const SynFlood&) = delete;
  SynFlood& operator=(const SynFlood&) = delete;

  int id() const { return id_; }
  const FloodSpec& spec() const { return spec_; }
  std::string describe() const;  // "flood #1: 200 SYNs at 500/s from 16 sources to 198.18.2.1:8080"

  // Stops sending (no effect once it has finished). Replies keep being dropped.
  void stop();
  // Waits until the sender finished (all sent, stopped, or failed). False at the deadline.
  bool wait(Clock::time_point deadline) const;
  bool finished() const;
  // Why the sender stopped early, if it failed (the kernel refused a packet).
  std::optional<std::string> error() const;
  // SYNs sent so far and the replies dropped for this flood.
  FloodCounts counts() const { return replies_.counts(id_); }

 private:
  void run();
  Packet syn(int i) const;

  int id_;
  FloodSpec spec_;
  FloodReplies& replies_;
  Trace& trace_;
  Injector injector_;
  std::uint32_t isn_seed_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool stop_ = false;
  bool finished_ = false;
  std::optional<std::string> error_;
  std::thread thread_;
};

}  // namespace tcpfault
