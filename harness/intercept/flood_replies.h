// The middlebox's end of a SYN flood: every segment addressed to one of a flood's
// sources (the server's SYN-ACKs, their retransmissions, any RST) is lost there and
// counted. The sources are unused addresses of the client subnet, so nothing may be
// forwarded to them: dropping in the verdict loop (FORWARD, before neighbour
// resolution) means not even an ARP or NDP query about them reaches the client.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "harness/packet/packet.h"

namespace tcpfault {

struct FloodCounts {
  std::uint64_t sent = 0;             // SYNs sent by the flood
  std::uint64_t replies_dropped = 0;  // segments toward its sources, lost at the middlebox
  std::uint64_t syn_acks = 0;         //   of which SYN-ACKs (retransmissions included)
  std::uint64_t rsts = 0;             //   of which RSTs
  std::uint64_t answered = 0;         // distinct flood SYNs (source ends) that got any reply

  std::string str() const;  // "200 SYNs sent; 180 replies dropped (SYN-ACK 180, RST 0), 180 SYNs answered"
};

// Thread-safe: the verdict loop claims replies while flood threads count what they send.
class FloodReplies {
 public:
  // Claims `sources` for flood `id`. Throws Error if another flood already uses one
  // (two floods from one address would reuse 4-tuples and confuse each other's counts).
  void add(int id, const std::vector<Address>& sources);
  // Forgets a flood that could not start.
  void remove(int id);
  void note_sent(int id);

  // When `p` is addressed to a flood source, counts it and returns that flood's id:
  // the caller then drops it.
  std::optional<int> claim(const Packet& p);

  FloodCounts counts(int id) const;
  FloodCounts totals() const;
  bool empty() const;

 private:
  mutable std::mutex mu_;
  std::map<Address, int> owner_;
  std::map<int, FloodCounts> counts_;
  std::set<std::pair<int, SockAddr>> answered_;
};

}  // namespace tcpfault
