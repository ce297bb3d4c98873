// What each end expects next from its peer (its rcv_nxt), as far as the middlebox can
// tell: where a segment crafted "at rcv_nxt" goes (an RST there resets the connection; one
// elsewhere in the window meets a challenge ACK, RFC 5961 3.2).
//
// Two things tell it. The data that went on to the receiver: fresher than the receiver's
// ACK, which may still be on its way. Data after a hole is kept aside, as the receiver keeps
// it (Linux, and lwIP's out-of-sequence queue), and counts once the hole is filled: an RST
// crafted just after the retransmission that fills a hole lands where the receiver then
// is. And the receiver's own ACKs, whether or not the middlebox let them go on: the ground
// truth of what it holds. The estimate is the later of the two, and delivered data goes on
// from there. A SYN, and a SYN-ACK for the direction it acknowledges, start a direction
// over. Sequence numbers are compared in serial arithmetic (RFC 1982).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "harness/packet/packet.h"

namespace tcpfault {

class RcvNxtEstimate {
 public:
  // `p` went on to its receiver.
  void delivered(const Packet& p);
  // Its sender sent `p`, whatever the middlebox then does with it: its ACK number is
  // what that end has received.
  void sent(const Packet& p);
  // What `receiver` expects next from `sender`; nullopt while nothing tells.
  std::optional<std::uint32_t> next(const SockAddr& sender, const SockAddr& receiver) const;

 private:
  using Direction = std::pair<SockAddr, SockAddr>;  // (sender, receiver)
  struct Range {
    std::uint32_t begin, end;
  };
  // Moves the point of `d` over the ranges kept aside that it has reached.
  void absorb(const Direction& d);

  std::map<Direction, std::uint32_t> next_;       // rcv_nxt
  std::map<Direction, std::vector<Range>> ahead_;  // delivered after a hole, not yet reached
};

}  // namespace tcpfault
