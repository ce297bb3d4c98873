// Per-connection sequence shifts (the rewrite_isn fault): the middlebox gives one
// direction of a connection another ISN and translates every later segment of that
// connection both ways, so both ends stay in step. The shifted end's segments reach
// its peer with seq + delta; the peer's acknowledgments (the ACK field and SACK
// blocks) reach the shifted end with delta taken off again.
//
// This is what a firewall that re-randomizes ISNs does. With ISNs chosen on a constant
// step it presents the peer with a stack whose ISNs are predictable (4.2BSD's rule of
// +64000 per connection), which the ISN case must catch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "harness/packet/packet.h"

namespace tcpfault {

class SeqShifts {
 public:
  struct Shift {
    std::uint32_t delta = 0;
    int rule = 0;  // the rule that chose the ISN, for the trace
  };
  // The segments the opener (or, with from_opener false, the listener) sends in
  // `connection` are shifted by `delta` from now on.
  void set(std::uint64_t connection, bool from_opener, Shift shift);
  std::optional<Shift> find(std::uint64_t connection, bool from_opener) const;
  bool empty() const { return shifts_.empty(); }

  // How many connections `rule` has given an ISN so far; counts this one.
  int next_index(int rule) { return given_[rule]++; }

 private:
  std::map<std::pair<std::uint64_t, bool>, Shift> shifts_;
  std::map<int, int> given_;
};

// A segment from a shifted end, on its way to the peer: seq + delta.
void shift_seq(Packet& p, std::uint32_t delta);
// A segment toward a shifted end: its ACK field (when ACK is set) and its SACK blocks
// minus delta, back into the end's own numbers.
void unshift_acks(Packet& p, std::uint32_t delta);

}  // namespace tcpfault
